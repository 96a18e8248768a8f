"""Standard Webhooks signatures, end to end: real participants (WebSockets) and the official `cloudflare` SDK make
things happen, a real HTTP receiver (webhook_receiver.py) gets the deliveries and verifies them with the official
`standardwebhooks` package, as a receiving backend would, beside `rtk-signature`.

This module starts its own server with fast retries and a rotation window of ROTATION_WINDOW seconds, so a test can
see a rotated secret's old one accepted and then retired.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import standardwebhooks.webhooks as standardwebhooks_module
from participant import Crowd
from hooks import kit, people, public_key_pem, receiver, server_with, subscribe  # noqa: F401 (fixtures)
from support import POSTGRES_ADMIN, Kit, ServerProcess, Tokens, database_for, poll, server_binary, temp_data_dir
from webhook_receiver import Delivery, Receiver, load_public_key, verify, verify_standard

ROTATION_WINDOW = 6.0  # seconds; the retry that must fall inside it is due 50 ms after its failed attempt
FAST = ["--webhook-retry-base-ms", "50", "--webhook-max-attempts", "5", "--webhook-targets", "any",
        "--webhook-rotation-window-ms", str(int(ROTATION_WINDOW * 1000))]


hooks_server = server_with(FAST)


def rotate(kit: Kit, app: str, hook_id: str, body: Any = None):
    return kit.server.raw("POST", f"{kit.kit_path(app)}/webhooks/{hook_id}/rotate-secret", token=kit.token, body=body)


def end_a_session(kit: Kit, app: str, people: Crowd) -> str:
    """A meeting whose session starts and is ended by the API; returns the session id."""
    meeting = kit.new_meeting(app)
    s = people.join(kit.add(app, meeting.id, preset="group_call_host").token)
    kit.kick_all(app, meeting.id)
    s.wait_for("roomLeft", state="ended")
    return s.session_id


def ended(ds: list[Delivery], session_id: str) -> list[Delivery]:
    return [d for d in ds if d.event == "meeting.ended" and d.json["meeting"]["sessionId"] == session_id]


def ended_delivery(receiver: Receiver, name: str, session_id: str, what: str = "meeting.ended") -> Delivery:
    """The first delivery of the session's `meeting.ended` to `name`, waited for."""
    return ended(receiver.wait_for(name, lambda ds: ended(ds, session_id), what=what), session_id)[0]


def test_the_secret_is_shown_once_at_creation(kit: Kit, receiver: Receiver):
    app = kit.new_app()
    hook_id, name, secret = subscribe(kit, app, receiver, ["meeting.ended"])
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32, "256 random bits"
    _, _, other = subscribe(kit, app, receiver, ["meeting.ended"])
    assert other != secret, "each webhook has its own"

    path = f"{kit.kit_path(app)}/webhooks"
    answers = {
        "get": kit.server.raw("GET", f"{path}/{hook_id}", token=kit.token),
        "list": kit.server.raw("GET", path, token=kit.token),
        "edit": kit.server.raw("PATCH", f"{path}/{hook_id}", token=kit.token, body={"name": "renamed"}),
        "replace": kit.server.raw("PUT", f"{path}/{hook_id}", token=kit.token,
                                  body={"name": "r", "url": receiver.url(name, public_key_pem(kit.server)),
                                        "events": ["meeting.ended"]}),
    }
    for what, resp in answers.items():
        assert resp.status == 200, f"{what}: {resp}"
        assert secret.removeprefix("whsec_") not in resp.body.decode(), f"{what} shows the secret: {resp}"
        assert "secret" not in resp.body.decode(), f"{what}: {resp}"
    got = kit.rk.webhooks.get_webhook_by_id(hook_id, account_id=kit.account, app_id=app).data
    assert "secret" not in (got.model_extra or {}), got


def test_every_delivery_verifies_with_the_standardwebhooks_package(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    _, name, secret = subscribe(kit, app, receiver, ["meeting.started", "meeting.participantJoined",
                                                     "meeting.participantLeft", "meeting.ended"])
    _, _, elsewhere = subscribe(kit, app, receiver, ["meeting.ended"])
    session_id = end_a_session(kit, app, people)
    got = receiver.wait_for(name, lambda ds: ended(ds, session_id), what="meeting.ended")
    assert len(got) == 4, got
    for d in got:
        assert d.standard == {"first": True}, f"verified on arrival with the webhook's secret: {d}"
        assert d.verified, "and rtk-signature still verifies"
        assert d.headers["webhook-id"] == d.uuid, "webhook-id is the event id, rtk-uuid"
        sent = int(d.headers["webhook-timestamp"])
        assert d.received_at - 30 <= sent <= d.received_at + 1, "the attempt's send time, in unix seconds"
        assert Webhook(secret).verify(d.body, d.headers) == d.json, "the package hands back the verified body"
        assert not verify_standard(elsewhere, d.body, d.headers), "another webhook's secret does not verify"
        assert len(d.headers["webhook-signature"].split(" ")) == 1, "one secret, one signature"
    assert len({d.headers["webhook-id"] for d in got}) == 4


def test_a_replay_and_a_tampered_delivery_are_rejected(kit: Kit, people: Crowd, receiver: Receiver,
                                                       monkeypatch: pytest.MonkeyPatch):
    app = kit.new_app()
    _, name, secret = subscribe(kit, app, receiver, ["meeting.ended"])
    session_id = end_a_session(kit, app, people)
    d = ended_delivery(receiver, name, session_id)
    hook = Webhook(secret)
    hook.verify(d.body, d.headers)

    def rejected(body: bytes, headers: dict[str, str]) -> str:
        with pytest.raises(WebhookVerificationError) as e:
            hook.verify(body, headers)
        return str(e.value)

    assert "signature" in rejected(d.body.replace(b"HOST_ENDED_MEETING", b"ALL_PARTICIPANTS_LEFT"), d.headers)
    assert "signature" in rejected(d.body + b" ", d.headers), "the raw bytes are signed"
    # Another id: its last digit changed (to "1" when it already was "0": a fixed "0" left 1 id in 16 unchanged).
    other_id = d.uuid[:-1] + ("1" if d.uuid.endswith("0") else "0")
    assert "signature" in rejected(d.body, {**d.headers, "webhook-id": other_id}), "the id is signed"
    # A replay made to look fresh: the timestamp is signed, so a new one breaks the signature.
    assert "signature" in rejected(d.body, {**d.headers, "webhook-timestamp": str(int(time.time()))
                                            if int(time.time()) != int(d.headers["webhook-timestamp"])
                                            else str(int(time.time()) + 1)})

    # The same delivery replayed as it was, six minutes later: the package's clock finds its timestamp too old.
    real = standardwebhooks_module.datetime

    class Later(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001
            return real.now(tz) + timedelta(minutes=6)

    monkeypatch.setattr(standardwebhooks_module, "datetime", Later)
    assert "too old" in rejected(d.body, d.headers)
    monkeypatch.undo()
    hook.verify(d.body, d.headers)  # the clock back: it verifies again, so the rejection was the timestamp's


def test_a_retry_after_a_rotation_verifies_with_the_old_and_the_new_secret_then_only_the_new(
        kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    hook_id, name, old = subscribe(kit, app, receiver, ["meeting.ended"])
    rotated: dict[str, Any] = {}

    def rotate_on_first_attempt(d: Delivery) -> None:
        if not rotated:  # the first attempt fails (500 below) and the secret is rotated before it is answered
            resp = rotate(kit, app, hook_id)
            assert resp.status == 200, str(resp)
            rotated.update(resp.json()["data"], at=time.time())
            receiver.trust(name, "new", rotated["secret"])

    receiver.before_answering(name, rotate_on_first_attempt)
    receiver.answer(name, [500])
    session_id = end_a_session(kit, app, people)
    got = receiver.wait_for(name, lambda ds: any(d.status == 200 for d in ended(ds, session_id)),
                            what="the retry accepted")
    first, retry = ended(got, session_id)
    assert first.standard == {"first": True} and first.status == 500, first
    assert retry.headers["webhook-id"] == first.headers["webhook-id"] == first.uuid, "the id is stable"
    assert retry.body == first.body
    assert retry.standard == {"first": True, "new": True}, f"inside the window either secret verifies: {retry}"
    assert len(retry.headers["webhook-signature"].split(" ")) == 2, retry.headers["webhook-signature"]
    assert retry.received_at < rotated["at"] + ROTATION_WINDOW, "the retry came inside the window"

    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != old
    assert rotated["id"] == hook_id and "previous_secret_expires_at" in rotated
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert abs(expires.timestamp() - (rotated["at"] + ROTATION_WINDOW)) < 5, rotated
    get = kit.server.raw("GET", f"{kit.kit_path(app)}/webhooks/{hook_id}", token=kit.token)
    assert "secret" not in get.body.decode(), "GET does not show the new secret either"

    # After the window: only the new secret signs.
    time.sleep(max(0.0, expires.timestamp() - time.time()) + 0.5)
    later = end_a_session(kit, app, people)
    d = ended_delivery(receiver, name, later, what="meeting.ended after the window")
    assert d.standard == {"first": False, "new": True}, f"the old secret is retired: {d}"
    assert len(d.headers["webhook-signature"].split(" ")) == 1


def test_a_leaked_secret_can_be_retired_at_once(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    hook_id, name, old = subscribe(kit, app, receiver, ["meeting.ended"])
    resp = rotate(kit, app, hook_id, body={"old_secret_valid_secs": 0})
    assert resp.status == 200, str(resp)
    receiver.trust(name, "new", resp.json()["data"]["secret"])
    session_id = end_a_session(kit, app, people)
    d = ended_delivery(receiver, name, session_id)
    assert d.standard == {"first": False, "new": True}, d


def test_rotating_refuses_bad_input_and_unknown_webhooks(kit: Kit, hooks_server: ServerProcess, receiver: Receiver):
    app = kit.new_app()
    hook_id, _, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    too_long = rotate(kit, app, hook_id, body={"old_secret_valid_secs": 8 * 24 * 3600})
    assert too_long.status == 400 and "old_secret_valid_secs" in too_long.body.decode(), str(too_long)
    unknown = rotate(kit, app, hook_id, body={"window": 1})
    assert unknown.status == 400 and "window" in unknown.body.decode(), str(unknown)
    assert rotate(kit, app, hook_id, body="not json").status == 400
    assert rotate(kit, app, "00000000-0000-4000-8000-000000000000").status == 404
    other = Kit(hooks_server, hooks_server.tokens.b_admin)
    assert rotate(other, app, hook_id).status == 404, "another account's app"
    reader = Kit(hooks_server, hooks_server.tokens.a_read)
    assert rotate(reader, app, hook_id).status == 403, "rotating is a write"
    assert rotate(kit, app, hook_id, body={}).status == 200, "an empty object takes the server's window"


def well_known(srv: ServerProcess) -> dict[str, Any]:
    resp = srv.raw("GET", "//.well-known/webhooks.json")
    assert resp.status == 200, str(resp)
    return resp.json()["data"]


def rotate_signing_key(data: Path, window_ms: int) -> subprocess.CompletedProcess:
    """The operator's command: `endsession-server --data DIR --rotate-webhook-signing-key`, with `--database URL`
    when the servers keep their store (and so the key) in Postgres."""
    database = database_for(data)
    return subprocess.run([str(server_binary()), "--data", str(data), "--rotate-webhook-signing-key",
                           "--webhook-rotation-window-ms", str(window_ms)]
                          + (["--database", database] if database else []),
                          capture_output=True, text=True, timeout=120)


def test_the_signing_key_rotates_announced_first_then_signing(receiver: Receiver):
    data = temp_data_dir()
    tokens = Tokens.generate()
    servers: list[ServerProcess] = []
    crowds: list[Crowd] = []

    def start() -> tuple[ServerProcess, Kit, Crowd]:
        srv = ServerProcess(data, tokens, args=FAST).start()
        servers.append(srv)
        crowds.append(Crowd(srv.ws_url))
        return srv, Kit(srv, tokens.a_admin), crowds[-1]

    def rtk_checks(d: Delivery, pem: str) -> bool:
        return verify(load_public_key(pem), d.body, d.headers["rtk-signature"])

    try:
        srv, kit, people = start()
        old = well_known(srv)
        assert old["publicKeys"] == [old["publicKey"]] and "nextKeySignsFrom" not in old, old
        app = kit.new_app()
        _, name, _ = subscribe(kit, app, receiver, ["meeting.ended"])

        # Rotated while the server runs: it takes the new key up within a few seconds, without a restart.
        window_ms = 10000
        rotated = rotate_signing_key(data, window_ms)
        assert rotated.returncode == 0, rotated.stderr
        new_pem = rotated.stdout[rotated.stdout.index("-----BEGIN PUBLIC KEY-----"):]
        assert new_pem != old["publicKey"]
        if not POSTGRES_ADMIN:  # on Postgres the key is in the database, not in a file
            assert stat.S_IMODE(os.stat(data / "webhooks-signing-key.next.pem").st_mode) == 0o600
        again = rotate_signing_key(data, 0)
        assert again.returncode != 0 and "already under way" in again.stderr, again

        # Announced: both keys listed, the old one still signs (receivers that pinned it keep verifying).
        announced = poll(lambda: well_known(srv), lambda wk: len(wk["publicKeys"]) == 2,
                         what="the new key announced", timeout=5.0)
        assert announced["publicKey"] == old["publicKey"], announced
        assert announced["publicKeys"] == [old["publicKey"], new_pem], announced
        switch = datetime.fromisoformat(announced["nextKeySignsFrom"].replace("Z", "+00:00")).timestamp()
        before = end_a_session(kit, app, people)
        d = ended_delivery(receiver, name, before)
        assert d.standard == {"first": True}, "the webhook secret is not touched by a key rotation"
        assert time.time() < switch, "the delivery came before the switch (the window is wide enough)"
        assert rtk_checks(d, old["publicKey"]) and not rtk_checks(d, new_pem), d

        # After the switch: the new key signs, the old one is no longer listed; no restart needed.
        time.sleep(max(0.0, switch - time.time()) + 0.5)
        switched = well_known(srv)
        assert switched["publicKeys"] == [new_pem] and switched["publicKey"] == new_pem, switched
        after = end_a_session(kit, app, people)
        d = ended_delivery(receiver, name, after)
        assert rtk_checks(d, new_pem) and not rtk_checks(d, old["publicKey"]), d
        assert d.standard == {"first": True}

        # The next start makes the new key the key file's.
        srv.stop()
        srv, _, _ = start()
        assert well_known(srv)["publicKeys"] == [new_pem]
        if not POSTGRES_ADMIN:
            assert not (data / "webhooks-signing-key.next.pem").exists()
            assert stat.S_IMODE(os.stat(data / "webhooks-signing-key.pem").st_mode) == 0o600
    finally:
        for crowd in crowds:
            crowd.close()
        for srv in servers:
            srv.stop()
        shutil.rmtree(data.parent, ignore_errors=True)
