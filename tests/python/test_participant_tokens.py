"""Participant token lifecycle through the official SDK (issue 11, fault 5): each `refresh_participant_token` returns
a new token and retires the earlier ones, a deleted participant's tokens stop, and tokens expire
(`--participant-token-ttl-secs`) at the first join and at a reconnect. Every refusal is an `error` frame with code
"4010" whose message says why, then a close.

The expiry test starts its own server with a 5 s token lifetime.
"""

from __future__ import annotations

import base64
import json
import shutil
import time

import pytest

from participant import Crowd, Participant, PROTOCOL_VERSION
from support import Kit, ServerProcess, Tokens, temp_data_dir

TTL = 5  # seconds, the expiry server's --participant-token-ttl-secs


def refused(crowd: Crowd, token: str, resume: str | None = None) -> str:
    """Sends `join` with this token; expects the 4010 error and the close; returns the message."""
    p = Participant(crowd.ws_url, token, "refused")
    crowd.all.append(p)
    frame = {"type": "join", "token": token, "version": PROTOCOL_VERSION}
    if resume:
        frame["resume"] = resume
    p.send(frame)
    err = p.wait_for("error")
    assert err["code"] == "4010", f"expected InvalidToken (4010): {err}"
    p.wait_closed()
    assert not p.frames_of("joined"), p.frames
    return err["message"]


def refresh(kit: Kit, app: str, meeting_id: str, participant_id: str) -> str:
    resp = kit.rk.meetings.refresh_participant_token(participant_id, account_id=kit.account, app_id=app,
                                                     meeting_id=meeting_id)
    assert resp.success is True and resp.data.token, f"refresh_participant_token: {resp}"
    return resp.data.token


def test_refresh_returns_a_new_token_and_retires_the_old_ones(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "erin")
    first, second = refresh(admin, app, meeting.id, p.id), refresh(admin, app, meeting.id, p.id)
    assert len({p.token, first, second}) == 3, "every refresh returns a different token, even within a second"
    for old in (p.token, first):
        assert "replaced by a refresh" in refused(crowd, old)
    joined = crowd.join(second, "erin").joined
    assert joined["self"]["id"] == p.id


def test_deleted_participants_tokens_are_refused_with_the_reason(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "gone")
    newer = refresh(admin, app, meeting.id, p.id)
    admin.rk.meetings.delete_meeting_participant(p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id)
    for token in (p.token, newer):
        assert "participant was deleted" in refused(crowd, token)


@pytest.fixture(scope="module")
def short_lived():
    data = temp_data_dir()
    srv = ServerProcess(data, Tokens.generate(), args=["--participant-token-ttl-secs", str(TTL),
                                                       "--reconnect-grace-ms", "60000"]).start()
    yield srv
    srv.stop()
    shutil.rmtree(data.parent, ignore_errors=True)


def expiry(token: str) -> int:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


def test_expired_token_is_refused_at_join_and_at_reconnect(short_lived: ServerProcess):
    kit = Kit(short_lived, short_lived.tokens.a_admin)
    crowd = Crowd(short_lived.ws_url)
    try:
        app = kit.new_app()
        meeting = kit.new_meeting(app)
        host = kit.add(app, meeting.id, "host", preset="group_call_host")
        guest = kit.add(app, meeting.id, "guest")
        assert expiry(guest.token) - time.time() <= TTL, "the token carries the configured lifetime"
        crowd.join(host.token, "host")
        g = crowd.join(guest.token, "guest")
        session = g.session_id
        g.close()  # the socket drops; the guest may resume within the grace

        time.sleep(max(0.0, expiry(guest.token) + 1 - time.time()) + 0.05)
        assert "expired" in refused(crowd, guest.token, resume=session), "at the reconnect"
        assert "expired" in refused(crowd, guest.token), "at a new join"

        fresh = refresh(kit, app, meeting.id, guest.id)
        back = Participant(crowd.ws_url, fresh, "guest again")
        crowd.all.append(back)
        back.send({"type": "join", "token": fresh, "resume": session, "version": PROTOCOL_VERSION})
        joined = back.wait_for("joined")
        assert joined["sessionId"] == session and joined["reconnected"] is True, joined
    finally:
        crowd.close()
