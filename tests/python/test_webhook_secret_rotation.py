"""A demanding user's probes of the Standard Webhooks secrets (README "Webhooks" → "Standard Webhooks",
"Rotating a webhook's secret") with inputs the other tests do not use: two rotations inside one window, the window's
bounds, a rotation window across a server restart, each retry's own timestamp, and the end record's webhook fields
for a countdown end and a REST end.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from participant import Crowd
from hooks import kit, people, receiver, server_with, subscribe  # noqa: F401 (fixtures)
from support import Kit, ServerProcess, Tokens, temp_data_dir
from webhook_receiver import Delivery, Receiver, verify_standard

FAST = ["--webhook-retry-base-ms", "1200", "--webhook-max-attempts", "4", "--webhook-targets", "any",
        "--webhook-rotation-window-ms", "60000"]
hooks_server = server_with(FAST)


def rotate(kit: Kit, app: str, hook_id: str, body: Any = None):
    return kit.server.raw("POST", f"{kit.kit_path(app)}/webhooks/{hook_id}/rotate-secret", token=kit.token, body=body)


def ended(ds: list[Delivery], session_id: str) -> list[Delivery]:
    return [d for d in ds if d.event == "meeting.ended" and d.json["meeting"]["sessionId"] == session_id]


def end_a_session(kit: Kit, app: str, people: Crowd, **extra: Any) -> tuple[str, dict]:
    """A meeting whose session starts and is ended by REST kick-all (extra body fields `extra`); returns the session
    id and the participant's roomLeft."""
    meeting = kit.new_meeting(app)
    s = people.join(kit.add(app, meeting.id, preset="group_call_host").token)
    kit.rk.active_session.kick_all_participants(meeting.id, account_id=kit.account, app_id=app,
                                               extra_body=extra or None)
    left = s.wait_for("roomLeft", state="ended")
    return s.session_id, left


def test_a_second_rotation_inside_the_window_drops_the_first_old_secret(kit: Kit, people: Crowd,
                                                                       receiver: Receiver):
    # README: "A second rotation within the window drops the first's old secret." and "during a secret rotation two,
    # space-separated: `v1,<new> v1,<old>`".
    app = kit.new_app()
    hook_id, name, first = subscribe(kit, app, receiver, ["meeting.ended"])
    second = rotate(kit, app, hook_id)
    assert second.status == 200, str(second)
    second_secret = second.json()["data"]["secret"]
    third = rotate(kit, app, hook_id)
    assert third.status == 200, str(third)
    third_secret = third.json()["data"]["secret"]
    assert len({first, second_secret, third_secret}) == 3
    receiver.trust(name, "second", second_secret)
    receiver.trust(name, "third", third_secret)
    session_id, _ = end_a_session(kit, app, people)
    d = ended(receiver.wait_for(name, lambda ds: ended(ds, session_id), what="meeting.ended"), session_id)[0]
    assert d.standard == {"first": False, "second": True, "third": True}, d
    assert len(d.headers["webhook-signature"].split(" ")) == 2, d.headers["webhook-signature"]


@pytest.mark.parametrize("body,status", [
    ({"old_secret_valid_secs": 7 * 24 * 3600}, 200),   # README: "at most a week"
    ({"old_secret_valid_secs": 7 * 24 * 3600 + 1}, 400),
    ({"old_secret_valid_secs": -1}, 400),
    ({"old_secret_valid_secs": 1.5}, 400),
    ({"old_secret_valid_secs": "60"}, 400),
    ({"old_secret_valid_secs": None}, 200),            # null is the option left out (as for kick-all's options)
])
def test_rotation_window_bounds(kit: Kit, receiver: Receiver, body: dict, status: int):
    app = kit.new_app()
    hook_id, _, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    before = time.time()
    resp = rotate(kit, app, hook_id, body=body)
    assert resp.status == status, f"{body}: {resp}"
    if status == 200:
        data = resp.json()["data"]
        assert data["secret"].startswith("whsec_")
        expires = datetime.fromisoformat(data["previous_secret_expires_at"].replace("Z", "+00:00"))
        window = body.get("old_secret_valid_secs")
        want = before + (60 if window is None else window)  # the server's --webhook-rotation-window-ms is 60 s
        assert abs(expires.timestamp() - want) < 10, f"{body}: expires {expires}, want ~{want}"
    else:
        assert "old_secret_valid_secs" in resp.body.decode(), str(resp)


def test_each_retry_has_its_own_timestamp_and_verifies(kit: Kit, people: Crowd, receiver: Receiver):
    # README: "`webhook-timestamp`: when this attempt was sent, unix seconds: each retry has its own"; webhook-id the
    # same on every retry. Retries here come 1.2 s, then 2.4 s apart, so the timestamps must differ.
    app = kit.new_app()
    _, name, secret = subscribe(kit, app, receiver, ["meeting.ended"])
    receiver.answer(name, [500, 500])
    session_id, left = end_a_session(kit, app, people)
    got = receiver.wait_for(name, lambda ds: len(ended(ds, session_id)) >= 3, what="three attempts", timeout=30)
    attempts = ended(got, session_id)
    stamps = [int(d.headers["webhook-timestamp"]) for d in attempts]
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1], f"each attempt's own send time: {stamps}"
    for d in attempts:
        assert abs(int(d.headers["webhook-timestamp"]) - d.received_at) < 5, "stamped when sent, not when queued"
        assert d.standard == {"first": True}, d
        assert d.headers["webhook-id"] == d.uuid == left["eventId"], "one id for all attempts, the record's eventId"
    # A receiver that stored the first attempt cannot pass it off with the last one's timestamp.
    assert not verify_standard(secret, attempts[0].body,
                               {**attempts[0].headers, "webhook-timestamp": attempts[-1].headers["webhook-timestamp"]})


def test_a_rest_countdown_end_carries_the_record_in_the_webhook(kit: Kit, people: Crowd, receiver: Receiver):
    # README: "The `meeting.ended` body gains the same `endedBy` (or `null`) and `message` (or `null`)"; "At `endsAt`
    # the server ends the session (`HOST_ENDED_MEETING`, `endedBy` who started it, its message and lock)".
    app = kit.new_app()
    _, name, secret = subscribe(kit, app, receiver, ["meeting.ended"])
    meeting = kit.new_meeting(app)
    s = people.join(kit.add(app, meeting.id, preset="group_call_participant").token)
    started = kit.rk.active_session.kick_all_participants(
        meeting.id, account_id=kit.account, app_id=app,
        extra_body={"graceSeconds": 1, "message": "api countdown", "lock": True})
    assert started.data.kicked_participants_count == 0
    assert (started.data.model_extra or {}).get("ends_at"), started
    left = s.wait_for("roomLeft", state="ended")
    d = ended(receiver.wait_for(name, lambda ds: ended(ds, s.session_id), what="meeting.ended"), s.session_id)[0]
    assert d.json["endedBy"] == {"api": True}
    assert d.json["message"] == "api countdown"
    assert d.json["reason"] == "HOST_ENDED_MEETING"
    assert d.uuid == left["eventId"] == d.headers["webhook-id"]
    assert Webhook(secret).verify(d.body, d.headers) == d.json
    got = kit.rk.meetings.get_meeting_by_id(meeting.id, account_id=kit.account, app_id=app)
    assert got.data.status == "INACTIVE", "its lock came with it"


def test_the_rotation_window_survives_a_restart(receiver: Receiver):
    # README: "Until then every attempt ... carries signatures with both the new and the old secret"; the secrets are
    # kept in the store, so a restart inside the window changes nothing.
    data = temp_data_dir()
    tokens = Tokens.generate()
    srv = ServerProcess(data, tokens, args=FAST).start()
    try:
        kit_ = Kit(srv, tokens.a_admin)
        app = kit_.new_app()
        hook_id, name, old = subscribe(kit_, app, receiver, ["meeting.ended"])
        resp = rotate(kit_, app, hook_id)
        assert resp.status == 200, str(resp)
        receiver.trust(name, "new", resp.json()["data"]["secret"])
        port = srv.port
        srv.stop()
        srv = ServerProcess(data, tokens, port=port, args=FAST).start()
        kit_ = Kit(srv, tokens.a_admin)
        crowd = Crowd(srv.ws_url)
        try:
            session_id, _ = end_a_session(kit_, app, crowd)
        finally:
            crowd.close()
        d = ended(receiver.wait_for(name, lambda ds: ended(ds, session_id), what="meeting.ended"), session_id)[0]
        assert d.standard == {"first": True, "new": True}, f"both secrets after the restart: {d}"
        get = srv.raw("GET", f"{kit_.kit_path(app)}/webhooks/{hook_id}", token=tokens.a_admin)
        assert "whsec_" not in get.body.decode() and "secret\"" not in get.body.decode(), str(get)
    finally:
        srv.stop()
        shutil.rmtree(data.parent, ignore_errors=True)


def test_during_a_rotation_the_new_secret_signs_first(kit: Kit, people: Crowd, receiver: Receiver):
    # README: "`webhook-signature` ... during a secret rotation two, space-separated: `v1,<new> v1,<old>`".
    import base64
    import hashlib
    import hmac

    app = kit.new_app()
    hook_id, name, old = subscribe(kit, app, receiver, ["meeting.ended"])
    resp = rotate(kit, app, hook_id)
    assert resp.status == 200, str(resp)
    new = resp.json()["data"]["secret"]
    session_id, _ = end_a_session(kit, app, people)
    d = ended(receiver.wait_for(name, lambda ds: ended(ds, session_id), what="meeting.ended"), session_id)[0]

    def sign(secret: str) -> str:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{d.headers['webhook-id']}.{d.headers['webhook-timestamp']}.".encode() + d.body
        return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    assert d.headers["webhook-signature"].split(" ") == [sign(new), sign(old)], d.headers["webhook-signature"]
