"""`status: INACTIVE` stops new joins but does not end a live session; `ACTIVE` again allows a new session."""

from __future__ import annotations

from participant import Crowd
from support import Kit, poll


def set_status(admin: Kit, app: str, meeting_id: str, status: str) -> None:
    resp = admin.rk.meetings.update_meeting_by_id(meeting_id, account_id=admin.account, app_id=app, status=status)
    assert resp.success is True and resp.data.status == status, f"PATCH status={status}: {resp}"


def test_inactive_meeting_refuses_joins(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    token = admin.add(app, meeting.id, "late").token
    set_status(admin, app, meeting.id, "INACTIVE")

    late = crowd.connect(token, "late")
    err = late.wait_for("error")
    # protocol/src/frames.rs ErrorCode::MeetingInactive.
    assert err["code"] == "4030", err
    assert "inactive" in err["message"].lower(), f"a clear message: {err}"
    late.wait_closed()
    assert not late.frames_of("joined")
    # The wire may add roomLeft{rejected} before closing (the client maps the refusal to `rejected` itself);
    # any other state would be wrong.
    assert all(f["state"] == "rejected" for f in late.frames_of("roomLeft")), late.frames


def test_inactive_does_not_end_the_live_session(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    ann_p = admin.add(app, meeting.id, "ann", preset="group_call_participant")
    bob_p = admin.add(app, meeting.id, "bob")
    ann = crowd.join(ann_p.token, "ann")
    session = ann.session_id

    set_status(admin, app, meeting.id, "INACTIVE")

    # Bob cannot join the live session of an INACTIVE meeting...
    bob = crowd.connect(bob_p.token, "bob")
    assert bob.wait_for("error")["code"] == "4030"
    bob.wait_closed()

    # ...while Ann stays in it: the session is still LIVE with her, and her socket still gets pushes.
    live = admin.active_session(app, meeting.id)
    assert live.data.id == session and live.data.status == "LIVE" and live.data.live_participants == 1
    admin.rk.meetings.edit_participant(ann_p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id,
                                       preset_name="group_call_host")
    assert ann.wait_for("permissionsUpdate")["permissions"]["kickParticipant"] is True
    assert not ann.frames_of("roomLeft"), f"the status change alone ended nothing: {ann.frames}"

    # Ending it is still possible and still reaches her.
    assert admin.kick_all(app, meeting.id).data.kicked_participants_count == 1
    assert ann.wait_for("roomLeft")["state"] == "ended"


def test_active_again_allows_a_new_session(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "cy")
    first = crowd.join(p.token, "cy")
    set_status(admin, app, meeting.id, "INACTIVE")
    admin.kick_all(app, meeting.id)
    assert first.wait_for("roomLeft")["state"] == "ended"

    refused = crowd.connect(p.token, "cy while inactive")
    assert refused.wait_for("error")["code"] == "4030"
    refused.wait_closed()

    set_status(admin, app, meeting.id, "ACTIVE")
    again = crowd.join(p.token, "cy again")
    assert again.session_id != first.session_id, "a new session, not the ended one"
    live = poll(lambda: admin.active_session(app, meeting.id), lambda r: r.data and r.data.status == "LIVE",
                what="the new session LIVE")
    assert live.data.id == again.session_id
