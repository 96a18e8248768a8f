"""Sessions history of a meeting: each session with its start, end, reason and peak participants."""

from __future__ import annotations

import cloudflare
import pytest
from cloudflare.types.realtime_kit import SessionGetSessionDetailsResponse, SessionGetSessionsResponse

from participant import Crowd
from support import Kit, missing_id, parse_time, poll


def reason_of(session) -> object:
    """The end reason of a session.

    Assumption: the SDK's session model (types/realtime_kit/session_get_sessions_response.py) has no field for why
    a session ended, so the server adds `reason` with the values of the `meeting.ended` webhook
    (`HOST_ENDED_MEETING` | `ALL_PARTICIPANTS_LEFT`, protocol/src/frames.rs EndReason). The SDK keeps unknown
    fields, so a backend reads it as `session.reason`.
    """
    return (session.model_extra or {}).get("reason")


def two_sessions(admin: Kit, crowd: Crowd):
    """Session 1: Ann and Bob, ended by kick-all. Session 2: Ann, Bob and Cy (peak 3), Cy leaves, then the
    other two leave, which ends it."""
    app = admin.new_app()
    meeting = admin.new_meeting(app, title="History")
    ann, bob, cy = (admin.add(app, meeting.id, n, name=n.title()) for n in ("ann", "bob", "cy"))

    s1 = [crowd.join(ann.token, "ann-1"), crowd.join(bob.token, "bob-1")]
    assert admin.kick_all(app, meeting.id).data.kicked_participants_count == 2
    for s in s1:
        assert s.wait_for("roomLeft")["state"] == "ended"

    s2 = [crowd.join(p.token, f"{p.custom_participant_id}-2") for p in (ann, bob, cy)]
    assert s2[0].session_id != s1[0].session_id
    s2[2].leave()
    assert s2[2].wait_for("roomLeft")["state"] == "left"
    live = poll(lambda: admin.active_session(app, meeting.id), lambda r: r.data and r.data.live_participants == 2,
                what="live_participants == 2 after one left")
    assert live.data.status == "LIVE", "one leaving does not end the session"
    for s in s2[:2]:
        s.leave()
        assert s.wait_for("roomLeft")["state"] == "left"
    # Assumption: the session ends when its last participant leaves (no keep-alive grace by default); allow the
    # server a few seconds to notice.
    poll(lambda: admin.active_session(app, meeting.id), lambda r: r.data and r.data.status == "ENDED",
         timeout=5, what="the second session ENDED after everyone left")
    return app, meeting, s1[0].session_id, s2[0].session_id


def test_sessions_history_lists_both_sessions(admin: Kit, crowd: Crowd):
    app, meeting, first, second = two_sessions(admin, crowd)
    resp = admin.rk.sessions.get_sessions(app, account_id=admin.account, associated_id=meeting.id)
    assert isinstance(resp, SessionGetSessionsResponse)
    assert resp.success is True
    sessions = {s.id: s for s in resp.data.sessions}
    assert set(sessions) == {first, second}, f"the meeting's two sessions: {list(sessions)}"

    expected = {first: (2, "HOST_ENDED_MEETING"), second: (3, "ALL_PARTICIPANTS_LEFT")}
    for sid, (peak, reason) in expected.items():
        s = sessions[sid]
        assert s.associated_id == meeting.id
        assert s.status == "ENDED"
        assert s.live_participants == 0
        assert s.max_concurrent_participants == peak, f"peak participants of {sid}"
        assert s.meeting_display_name == "History"
        assert s.type == "meeting"
        assert reason_of(s) == reason, f"reason of {sid}: {s}"
        started, ended = parse_time(s.started_at, "started_at"), parse_time(s.ended_at, "ended_at")
        assert started <= ended
    assert parse_time(sessions[first].ended_at, "ended_at") <= parse_time(sessions[second].started_at, "started_at")


def test_session_details(admin: Kit, crowd: Crowd):
    app, meeting, first, second = two_sessions(admin, crowd)
    resp = admin.rk.sessions.get_session_details(first, account_id=admin.account, app_id=app)
    assert isinstance(resp, SessionGetSessionDetailsResponse)
    assert resp.success is True
    s = resp.data
    assert s.id == first and s.associated_id == meeting.id
    assert s.status == "ENDED" and s.max_concurrent_participants == 2
    assert reason_of(s) == "HOST_ENDED_MEETING"
    assert parse_time(s.started_at, "started_at") <= parse_time(s.ended_at, "ended_at")


def test_sessions_of_other_meetings_are_not_listed(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    m1, m2 = admin.new_meeting(app), admin.new_meeting(app)
    a = crowd.join(admin.add(app, m1.id).token, "m1")
    b = crowd.join(admin.add(app, m2.id).token, "m2")
    listed = admin.rk.sessions.get_sessions(app, account_id=admin.account, associated_id=m1.id)
    assert [s.id for s in listed.data.sessions] == [a.session_id]
    assert listed.data.sessions[0].status == "LIVE", "a live session is in the history too"
    everything = admin.rk.sessions.get_sessions(app, account_id=admin.account)
    assert {a.session_id, b.session_id} <= {s.id for s in everything.data.sessions}


def test_unknown_session_is_404(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    known = crowd.join(admin.add(app, meeting.id).token).session_id  # the route works for a session that exists
    assert admin.rk.sessions.get_session_details(known, account_id=admin.account, app_id=app).data.id == known
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.sessions.get_session_details(missing_id(), account_id=admin.account, app_id=app)
