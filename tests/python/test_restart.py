"""Persistence: what was written before a restart is served after it, from the SQLite file under --data.

Each case starts its own server on a fresh data dir, writes through the SDK, stops the server (SIGTERM, or SIGKILL
to stand for a crash), starts a new one on the same data dir and reads everything back.
"""

from __future__ import annotations

import shutil
import signal
from datetime import datetime, timezone

import pytest

from participant import PROTOCOL_VERSION, Crowd, Participant
from support import Kit, ServerProcess, Tokens, parse_time, poll, preset_body, temp_data_dir


@pytest.fixture
def data_dir():
    data = temp_data_dir()
    yield data
    shutil.rmtree(data.parent, ignore_errors=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "crash"])
def test_everything_survives_a_restart(data_dir, stop_signal):
    tokens = Tokens.generate()
    first = ServerProcess(data_dir, tokens)
    second = None
    crowd = None
    try:
        first.start()
        admin, other = Kit(first, tokens.a_admin), Kit(first, tokens.b_admin)
        crowd = Crowd(first.ws_url)

        app = admin.new_app("persisted app")
        other_app = other.new_app("other account's app")
        moderator = admin.rk.presets.create(app, account_id=admin.account, name="moderator",
                                            **preset_body(kick_participant=True)).data
        guest_preset = admin.presets_by_name(app)["group_call_participant"]
        admin.rk.presets.update(guest_preset.id, account_id=admin.account, app_id=app,
                                permissions={"kick_participant": True})
        meeting = admin.new_meeting(app, title="persisted meeting", persist_chat=True)
        closed = admin.new_meeting(app, title="closed meeting")
        late = admin.add(app, closed.id, "late")
        admin.rk.meetings.update_meeting_by_id(closed.id, account_id=admin.account, app_id=app, status="INACTIVE")
        ann = admin.add(app, meeting.id, "ann", preset="moderator", name="Ann")
        bob = admin.add(app, meeting.id, "bob", preset="group_call_participant", name="Bob")
        hook = admin.rk.webhooks.create_webhook(app, account_id=admin.account, name="ended",
                                               url="https://backend.example.com/h", events=["meeting.ended"]).data
        admin.rk.webhooks.edit_webhook(hook.id, account_id=admin.account, app_id=app, enabled=False)

        # One session in the history: two joined, the backend ended it.
        a, b = crowd.join(ann.token, "ann"), crowd.join(bob.token, "bob")
        old_session = a.session_id
        assert admin.kick_all(app, meeting.id).data.kicked_participants_count == 2
        for s in (a, b):
            assert s.wait_for("roomLeft")["state"] == "ended"
        poll(lambda: admin.active_session(app, meeting.id), lambda r: r.data and r.data.status == "ENDED",
             what="the session ENDED before the restart")
        crowd.close()

        first.stop(stop_signal)
        second = ServerProcess(data_dir, tokens).start()
        admin, other = Kit(second, tokens.a_admin), Kit(second, tokens.b_admin)
        crowd = Crowd(second.ws_url)
        rk, acct = admin.rk, admin.account

        # Apps, per account.
        apps = {x.id: x.name for x in rk.apps.get(account_id=acct).data}
        assert apps == {app: "persisted app"}, f"account A's apps after the restart: {apps}"
        assert {x.id for x in other.rk.apps.get(account_id=other.account).data} == {other_app}

        # Presets, with their permissions and the update made before the restart.
        presets = {x.name: x.id for x in rk.presets.get(app, account_id=acct).data}
        assert set(presets) == {"group_call_host", "group_call_participant", "moderator"}
        got = rk.presets.get_preset_by_id(moderator.id, account_id=acct, app_id=app).data
        assert got.name == "moderator" and got.permissions.kick_participant is True
        assert got.config.max_video_streams.desktop == 9
        assert rk.presets.get_preset_by_id(guest_preset.id, account_id=acct, app_id=app).data.permissions.kick_participant is True

        # Meetings, with their fields and status.
        m = rk.meetings.get_meeting_by_id(meeting.id, account_id=acct, app_id=app).data
        assert (m.title, m.status, m.persist_chat) == ("persisted meeting", "ACTIVE", True)
        assert m.created_at == meeting.created_at
        assert rk.meetings.get_meeting_by_id(closed.id, account_id=acct, app_id=app).data.status == "INACTIVE"
        assert {x.id for x in rk.meetings.get(app, account_id=acct).data} == {meeting.id, closed.id}

        # Participants.
        listed = {p.id: p for p in rk.meetings.get_meeting_participants(meeting.id, account_id=acct, app_id=app).data}
        assert set(listed) == {ann.id, bob.id}
        assert [p.id for p in rk.meetings.get_meeting_participants(closed.id, account_id=acct, app_id=app).data] == [late.id]
        assert (listed[ann.id].custom_participant_id, listed[ann.id].preset_name, listed[ann.id].name) == ("ann", "moderator", "Ann")

        # Webhooks.
        h = rk.webhooks.get_webhook_by_id(hook.id, account_id=acct, app_id=app).data
        assert (h.name, h.url, h.events, h.enabled) == ("ended", "https://backend.example.com/h", ["meeting.ended"], False)

        # Session history.
        sessions = rk.sessions.get_sessions(app, account_id=acct, associated_id=meeting.id).data.sessions
        assert [s.id for s in sessions] == [old_session]
        s = sessions[0]
        assert s.status == "ENDED" and s.max_concurrent_participants == 2 and s.ended_at
        assert (s.model_extra or {}).get("reason") == "HOST_ENDED_MEETING"
        assert rk.sessions.get_session_details(old_session, account_id=acct, app_id=app).data.status == "ENDED"

        # Tokens issued before the restart still join, with the preset's permissions, into a new session.
        again = crowd.join(ann.token, "ann after restart")
        assert again.joined["self"]["id"] == ann.id
        assert again.joined["permissions"]["kickParticipant"] is True
        assert again.session_id != old_session
        # And the INACTIVE meeting still refuses joins.
        refused = crowd.connect(late.token, "late")
        assert refused.wait_for("error")["code"] == "4030"
    finally:
        if crowd:
            crowd.close()
        first.stop(signal.SIGKILL)
        if second:
            second.stop()


def resume(server: ServerProcess, token: str, session_id: str, label: str) -> Participant:
    """Reconnects as the client does after a drop: `join` naming the session it was in."""
    p = Participant(server.ws_url, token, label)
    p.send({"type": "join", "token": token, "resume": session_id, "version": PROTOCOL_VERSION})
    return p


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "crash"])
def test_a_restart_does_not_end_live_sessions(data_dir, stop_signal):
    """Participants of a live session resume it after a restart within the reconnect window (same session id,
    `reconnected: true`); a session nobody comes back to ends ALL_PARTICIPANTS_LEFT after the grace, with its true
    peak, no later than the restart (downtime is not meeting time)."""
    tokens = Tokens.generate()
    grace = ["--reconnect-grace-ms", "1500"]
    first = ServerProcess(data_dir, tokens, args=grace)
    second = None
    crowd = None
    resumed: list[Participant] = []
    try:
        first.start()
        admin = Kit(first, tokens.a_admin)
        crowd = Crowd(first.ws_url)
        app = admin.new_app("restart app")
        kept = admin.new_meeting(app, title="kept")
        left = admin.new_meeting(app, title="left behind")
        host, guest = admin.add(app, kept.id, "host", preset="group_call_host"), admin.add(app, kept.id, "guest")
        ann, bob = admin.add(app, left.id, "ann"), admin.add(app, left.id, "bob")
        h, g = crowd.join(host.token, "host"), crowd.join(guest.token, "guest")
        a, b = crowd.join(ann.token, "ann"), crowd.join(bob.token, "bob")
        kept_session, left_session = h.session_id, a.session_id
        h.wait_for("participantJoined")

        first.stop(stop_signal)
        stopped_at = datetime.now(timezone.utc)
        crowd.close()
        second = ServerProcess(data_dir, tokens, port=first.port, args=grace).start()
        admin = Kit(second, tokens.a_admin)

        for token, label in ((host.token, "host"), (guest.token, "guest")):
            p = resume(second, token, kept_session, label)
            resumed.append(p)
            joined = p.wait_for("joined")
            assert (joined["sessionId"], joined["reconnected"]) == (kept_session, True), f"{label}: {joined}"
        live = admin.active_session(app, kept.id).data
        assert (live.id, live.status, live.live_participants) == (kept_session, "LIVE", 2)

        # Nobody comes back to the other session: it ends after the grace.
        ended = poll(lambda: admin.rk.sessions.get_session_details(left_session, account_id=admin.account, app_id=app).data,
                     lambda s: s.status == "ENDED", timeout=10, what="the session nobody came back to ENDED")
        assert (ended.model_extra or {}).get("reason") == "ALL_PARTICIPANTS_LEFT"
        assert ended.max_concurrent_participants == 2
        assert parse_time(ended.ended_at, "ended_at") <= stopped_at, "downtime is not meeting time"

        # The host ends the one that was kept, for everyone in it.
        resumed[0].send({"type": "kickAll", "id": 1})
        result = resumed[0].wait_for("kickAllResult")
        assert (result["sessionId"], result["kickedCount"], result["alreadyEnded"]) == (kept_session, 2, False)
        assert resumed[1].wait_for("roomLeft")["state"] == "ended"
    finally:
        for p in resumed:
            p.close()
        if crowd:
            crowd.close()
        first.stop(signal.SIGKILL)
        if second:
            second.stop()
