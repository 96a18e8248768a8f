"""End options misspelt on the WebSocket `kickAll` frame and in the REST kick-all body.

README "Ending with a message, a lock, a countdown": "End options, on the WebSocket `kickAll` frame
(`{"type":"kickAll","id":1,"message":"…","lock":true,"graceSeconds":30}`) and as extra body fields of REST kick-all
(... no body is RealtimeKit's plain call, an unknown field is a 400)". An end cannot be undone, so an option the server
does not read must not turn a requested countdown into an immediate end for everyone.
"""

from __future__ import annotations

import time

import pytest

from participant import Crowd
from hooks import kit, people, server_with  # noqa: F401 (fixtures)
from support import Kit

hooks_server = server_with(["--webhook-targets", "any"])


def frames_after(p, seconds: float) -> list[dict]:
    """Every frame `p` got (but `joined`) within `seconds`, the socket's close included."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not p.closed:
        try:
            p._recv(max(0.05, deadline - time.monotonic()))
        except Exception:  # the server closed the socket after an end
            p.closed = True
    return [f for f in p.frames if f["type"] != "joined"]


def test_rest_kick_all_takes_grace_seconds_as_an_alias_and_refuses_unknown_fields(kit: Kit, people: Crowd):
    # Documents what REST does with the same spellings the socket test below sends.
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    p = people.join(kit.add(app, meeting.id, preset="group_call_host").token)
    path = f"{kit.kit_path(app)}/meetings/{meeting.id}/active-session/kick-all"
    unknown = kit.server.raw("POST", path, token=kit.token, body={"graceSeconds": 30, "bogus": 1})
    assert unknown.status == 400 and "bogus" in unknown.body.decode(), str(unknown)
    alias = kit.server.raw("POST", path, token=kit.token, body={"grace_seconds": 30})
    assert alias.status == 200, str(alias)
    assert alias.json()["data"]["kicked_participants_count"] == 0 and alias.json()["data"]["ends_at"], str(alias)
    p.wait_for("sessionEnding")


# Once a fault (fixed): the socket drops fields it does not know and ends the session at once: `grace_seconds` (which REST
# reads as `graceSeconds`), or options nested under `options`, give `kickAllResult` (the end) for everyone.
@pytest.mark.parametrize("frame", [
    {"type": "kickAll", "id": 1, "grace_seconds": 30},
    {"type": "kickAll", "id": 1, "options": {"graceSeconds": 30}},
    {"type": "kickAll", "id": 1, "graceseconds": 30, "message": "in 30 s"},
], ids=["grace_seconds", "nested-options", "graceseconds"])
def test_a_kick_all_frame_with_a_misspelt_option_does_not_end_the_session_now(kit: Kit, people: Crowd, frame: dict):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    host = people.join(kit.add(app, meeting.id, preset="group_call_host").token, label="host")
    guest = people.join(kit.add(app, meeting.id, preset="group_call_participant").token, label="guest")
    host.send(frame)
    got = frames_after(host, 1.0)
    told = frames_after(guest, 0.5)
    ended = [f for f in told if f["type"] == "roomLeft" and f.get("state") == "ended"]
    assert not ended, f"{frame} ended the session for everyone: host got {got}"
    assert any(f["type"] in ("error", "kickAllScheduled") for f in got), got


def test_a_kick_all_frame_with_a_wrong_typed_option_ends_nothing(kit: Kit, people: Crowd):
    # What holds: a known field of the wrong type is a malformed frame (README "Security": "malformed and unexpected
    # frames of our protocol with their `Error` and a close"): an error naming the field, and nothing ends.
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    host = people.join(kit.add(app, meeting.id, preset="group_call_host").token, label="host")
    guest = people.join(kit.add(app, meeting.id, preset="group_call_participant").token, label="guest")
    host.send({"type": "kickAll", "id": 1, "graceSeconds": "30"})
    got = frames_after(host, 1.0)
    errors = [f for f in got if f["type"] == "error"]
    assert errors and "graceSeconds" in errors[0]["message"], got
    assert not [f for f in frames_after(guest, 0.5) if f["type"] == "roomLeft"], "nothing ended"


def test_cancel_end_and_a_countdown_need_a_write_token_of_the_meetings_account(kit: Kit, people: Crowd,
                                                                            hooks_server):
    # README "Run the server": scopes `Realtime Admin`, `Realtime`, `Realtime Read`; a read token cannot act, another
    # account cannot see the meeting. The countdown keeps running through all of these refusals.
    from support import Kit as K

    app = kit.new_app()
    meeting = kit.new_meeting(app)
    p = people.join(kit.add(app, meeting.id, preset="group_call_participant").token)
    base = f"{kit.kit_path(app)}/meetings/{meeting.id}/active-session"
    started = kit.server.raw("POST", f"{base}/kick-all", token=kit.token, body={"graceSeconds": 60})
    assert started.status == 200, str(started)
    p.wait_for("sessionEnding")
    reader, other = hooks_server.tokens.a_read, hooks_server.tokens.b_admin
    assert kit.server.raw("POST", f"{base}/cancel-end", token=reader).status == 403
    other_path = f"{K(hooks_server, other).kit_path(app)}/meetings/{meeting.id}/active-session"
    assert kit.server.raw("POST", f"{other_path}/cancel-end", token=other).status == 404
    assert kit.server.raw("POST", f"{other_path}/kick-all", token=other, body={}).status == 404
    writer = hooks_server.tokens.a_write
    ok = kit.server.raw("POST", f"{base}/cancel-end", token=writer)
    assert ok.status == 200 and ok.json()["data"]["cancelled"] is True, str(ok)
    p.wait_for("sessionEndCancelled")
