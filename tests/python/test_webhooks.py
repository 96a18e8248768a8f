"""Webhooks: create, list, get, update (PATCH), replace (PUT), delete. Delivery is tested elsewhere; here the
records must exist and read back as written."""

from __future__ import annotations

from datetime import datetime

import cloudflare
import pytest
from cloudflare.types.realtime_kit import (
    WebhookCreateWebhookResponse,
    WebhookDeleteWebhookResponse,
    WebhookEditWebhookResponse,
    WebhookGetWebhookByIDResponse,
    WebhookGetWebhooksResponse,
    WebhookReplaceWebhookResponse,
)

from support import Kit, missing_id


def create(admin: Kit, app: str, **overrides):
    params = dict(name="Session ended webhook", url="https://backend.example.com/hooks/rtk", events=["meeting.ended"])
    params.update(overrides)
    resp = admin.rk.webhooks.create_webhook(app, account_id=admin.account, **params)
    assert resp.success is True, resp
    return resp.data


def test_create_webhook(admin: Kit):
    app = admin.new_app()
    resp = admin.rk.webhooks.create_webhook(
        app, account_id=admin.account, name="ends", url="https://backend.example.com/a",
        events=["meeting.ended", "meeting.started"],
    )
    assert isinstance(resp, WebhookCreateWebhookResponse)
    assert resp.success is True
    w = resp.data
    assert isinstance(w.id, str) and w.id
    assert w.name == "ends"
    assert w.url == "https://backend.example.com/a"
    assert sorted(w.events) == ["meeting.ended", "meeting.started"]
    # `enabled` is optional in webhook_create_webhook_params.py; RealtimeKit enables a new webhook by default.
    assert w.enabled is True
    assert isinstance(w.created_at, datetime) and isinstance(w.updated_at, datetime)


def test_create_disabled_webhook(admin: Kit):
    app = admin.new_app()
    assert create(admin, app, enabled=False).enabled is False


def test_list_and_get_webhooks(admin: Kit):
    app = admin.new_app()
    a = create(admin, app, name="a")
    b = create(admin, app, name="b", events=["meeting.participantJoined", "meeting.participantLeft"])
    other_app = admin.new_app()
    create(admin, other_app, name="elsewhere")

    listed = admin.rk.webhooks.get_webhooks(app, account_id=admin.account)
    assert isinstance(listed, WebhookGetWebhooksResponse)
    assert listed.success is True
    assert {w.id: w.name for w in listed.data} == {a.id: "a", b.id: "b"}, "exactly this app's webhooks"

    got = admin.rk.webhooks.get_webhook_by_id(b.id, account_id=admin.account, app_id=app)
    assert isinstance(got, WebhookGetWebhookByIDResponse)
    assert got.success is True
    assert got.data.id == b.id and got.data.name == "b" and got.data.url == b.url
    assert sorted(got.data.events) == ["meeting.participantJoined", "meeting.participantLeft"]
    assert got.data.enabled is True
    assert got.data.created_at == b.created_at


def test_edit_webhook_changes_only_what_is_sent(admin: Kit):
    app = admin.new_app()
    w = create(admin, app)
    resp = admin.rk.webhooks.edit_webhook(w.id, account_id=admin.account, app_id=app, enabled=False)
    assert isinstance(resp, WebhookEditWebhookResponse)
    assert resp.success is True
    assert resp.data.id == w.id
    assert resp.data.enabled is False
    assert resp.data.name == w.name and resp.data.url == w.url and resp.data.events == w.events
    assert resp.data.updated_at >= w.updated_at

    resp = admin.rk.webhooks.edit_webhook(w.id, account_id=admin.account, app_id=app, name="renamed",
                                          events=["meeting.ended", "meeting.participantLeft"])
    assert resp.data.name == "renamed" and resp.data.enabled is False
    assert sorted(resp.data.events) == ["meeting.ended", "meeting.participantLeft"]
    got = admin.rk.webhooks.get_webhook_by_id(w.id, account_id=admin.account, app_id=app).data
    assert (got.name, got.enabled, sorted(got.events)) == ("renamed", False, ["meeting.ended", "meeting.participantLeft"])


def test_replace_webhook(admin: Kit):
    app = admin.new_app()
    w = create(admin, app)
    resp = admin.rk.webhooks.replace_webhook(
        w.id, account_id=admin.account, app_id=app, name="v2", url="https://other.example.com/v2",
        events=["meeting.started"], enabled=False,
    )
    assert isinstance(resp, WebhookReplaceWebhookResponse)
    assert resp.success is True
    d = resp.data
    assert (d.id, d.name, d.url, d.events, d.enabled) == (w.id, "v2", "https://other.example.com/v2", ["meeting.started"], False)
    assert d.created_at == w.created_at
    got = admin.rk.webhooks.get_webhook_by_id(w.id, account_id=admin.account, app_id=app).data
    assert (got.name, got.url, got.events, got.enabled) == ("v2", "https://other.example.com/v2", ["meeting.started"], False)


def test_delete_webhook(admin: Kit):
    app = admin.new_app()
    w = create(admin, app)
    keep = create(admin, app, name="keep")
    resp = admin.rk.webhooks.delete_webhook(w.id, account_id=admin.account, app_id=app)
    assert isinstance(resp, WebhookDeleteWebhookResponse)
    assert resp.success is True
    # types/realtime_kit/webhook_delete_webhook_response.py: the deleted webhook is returned.
    assert resp.data.id == w.id and resp.data.name == w.name
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.webhooks.get_webhook_by_id(w.id, account_id=admin.account, app_id=app)
    assert [x.id for x in admin.rk.webhooks.get_webhooks(app, account_id=admin.account).data] == [keep.id]
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.webhooks.delete_webhook(w.id, account_id=admin.account, app_id=app)


def test_unknown_webhook_is_404(admin: Kit):
    app = admin.new_app()
    known = create(admin, app)  # the route works for a webhook that exists
    assert admin.rk.webhooks.get_webhook_by_id(known.id, account_id=admin.account, app_id=app).data.id == known.id
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.webhooks.get_webhook_by_id(missing_id(), account_id=admin.account, app_id=app)
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.webhooks.edit_webhook(missing_id(), account_id=admin.account, app_id=app, enabled=False)


# The shared test server runs without --dev, so it has the default `--webhook-targets public`.
OWN_NETWORK = [
    "http://127.0.0.1:8787/hooks",
    "http://localhost/hooks",
    "http://2130706433/hooks",  # 127.0.0.1 as one number
    "http://0x7f.1/hooks",  # 127.0.0.1 in hex, short form
    "http://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped IPv6
    "http://[::1]/hooks",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.1.2.3/hooks",
    "http://172.20.0.1/hooks",
    "http://192.168.0.10/hooks",
    "http://100.64.0.1/hooks",
    "http://0.0.0.0/hooks",
    "http://[fd00::1]/hooks",
    "http://[fe80::1]/hooks",
    # Outside IPv6 global unicast (2000::/3), or special inside it: each embeds or reaches a non-public address.
    "http://[64:ff9b:1::7f00:1]/",  # local-use NAT64 holding 127.0.0.1
    "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated 169.254.169.254
    "http://[2001::1]/",  # Teredo
    "http://[3fff::1]/",  # documentation (RFC 9637)
    "http://[5f00::1]/",  # SRv6
    # The scheme is case-insensitive, so these are the URLs above, not malformed ones.
    "HTTP://127.0.0.1/",
    "Https://[::1]/",
]


def refused(call) -> str:
    with pytest.raises(cloudflare.BadRequestError) as e:
        call()
    assert e.value.status_code == 400
    message = e.value.body["errors"][0]["message"] if isinstance(e.value.body, dict) else str(e.value.body)
    assert message.startswith("`url` points at") and "public addresses only" in message, message
    return message


@pytest.mark.parametrize("url", OWN_NETWORK)
def test_a_url_into_the_servers_own_network_is_refused(admin: Kit, url: str):
    app = admin.new_app()
    refused(lambda: admin.rk.webhooks.create_webhook(app, account_id=admin.account, name="h", url=url,
                                                     events=["meeting.ended"]))
    assert admin.rk.webhooks.get_webhooks(app, account_id=admin.account).data == [], "nothing was created"

    w = create(admin, app)
    refused(lambda: admin.rk.webhooks.edit_webhook(w.id, account_id=admin.account, app_id=app, url=url))
    refused(lambda: admin.rk.webhooks.replace_webhook(w.id, account_id=admin.account, app_id=app, name="h", url=url,
                                                      events=["meeting.ended"]))
    got = admin.rk.webhooks.get_webhook_by_id(w.id, account_id=admin.account, app_id=app).data
    assert (got.name, got.url) == (w.name, w.url), "a refused change changes nothing"


@pytest.mark.parametrize("url", ["HTTPS://1.1.1.1/hooks", "Http://[2606:4700::1111]:8080/rtk"])
def test_a_public_url_with_an_uppercase_scheme_is_accepted(admin: Kit, url: str):
    app = admin.new_app()
    w = create(admin, app, url=url)
    assert w.url == url
    edited = admin.rk.webhooks.edit_webhook(w.id, account_id=admin.account, app_id=app, url=url.lower()).data
    assert edited.url == url.lower()
    replaced = admin.rk.webhooks.replace_webhook(w.id, account_id=admin.account, app_id=app, name="h", url=url,
                                                 events=["meeting.ended"]).data
    assert replaced.url == url
