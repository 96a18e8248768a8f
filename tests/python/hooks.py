"""What the webhook test modules share: a module-scoped server with fast retries, the receiver, and `subscribe`.

A test module picks its server's flags and re-exports the fixtures:

    from hooks import Hook, kit, people, receiver, server_with, subscribe  # noqa: F401 (fixtures)
    hooks_server = server_with(FAST)
"""

from __future__ import annotations

import shutil
from typing import NamedTuple

import pytest

from participant import Crowd
from support import Kit, ServerProcess, Tokens, temp_data_dir, unique
from webhook_receiver import Receiver


def server_with(args: list[str]):
    """A module-scoped `hooks_server` fixture: one server with these flags on a fresh data directory."""

    @pytest.fixture(scope="module")
    def hooks_server():
        data = temp_data_dir()
        srv = ServerProcess(data, Tokens.generate(), args=args).start()
        yield srv
        srv.stop()
        shutil.rmtree(data.parent, ignore_errors=True)

    return hooks_server


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def kit(hooks_server: ServerProcess) -> Kit:
    return Kit(hooks_server, hooks_server.tokens.a_admin)


@pytest.fixture
def people(hooks_server: ServerProcess):
    c = Crowd(hooks_server.ws_url)
    yield c
    c.close()


def public_key_pem(srv: ServerProcess) -> str:
    """The PEM key `/.well-known/webhooks.json` publishes (no token needed, as on RealtimeKit)."""
    resp = srv.raw("GET", "//.well-known/webhooks.json")
    assert resp.status == 200, str(resp)
    body = resp.json()
    assert body["success"] is True, str(resp)
    return body["data"]["publicKey"]


class Hook(NamedTuple):
    """A webhook made by `subscribe`: its id, the receiver name its deliveries are recorded under, and the Standard
    Webhooks secret the create answer showed (once)."""

    id: str
    name: str
    secret: str


def subscribe(kit: Kit, app: str, receiver: Receiver, events: list[str], enabled: bool = True) -> Hook:
    """A webhook of the app to a fresh receiver URL, made with the official SDK. The receiver verifies every delivery
    against the published key (`rtk-signature`) and, under the label "first", with the webhook's secret."""
    name = unique("hook")
    url = receiver.url(name, public_key_pem(kit.server))
    created = kit.rk.webhooks.create_webhook(app, account_id=kit.account, name=name, url=url, events=events,
                                             enabled=enabled)
    secret = (created.data.model_extra or {}).get("secret")
    assert isinstance(secret, str), f"the create answer carries the secret: {created}"
    receiver.trust(name, "first", secret)
    return Hook(created.data.id, name, secret)
