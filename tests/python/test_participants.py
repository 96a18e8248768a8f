"""Participants: add, list, get, update, delete, refresh token, through the official SDK; and what a connected
participant's socket sees when the backend changes or removes it."""

from __future__ import annotations

from datetime import datetime

import cloudflare
import pytest
from cloudflare.types.realtime_kit import (
    MeetingAddParticipantResponse,
    MeetingDeleteMeetingParticipantResponse,
    MeetingEditParticipantResponse,
    MeetingGetMeetingParticipantResponse,
    MeetingGetMeetingParticipantsResponse,
    MeetingRefreshParticipantTokenResponse,
)

from participant import Crowd
from support import Kit, missing_id, poll, preset_body


def test_add_participant_returns_a_token(admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    resp = admin.rk.meetings.add_participant(
        meeting.id,
        account_id=admin.account,
        app_id=app,
        custom_participant_id="ann@example.com",
        preset_name="group_call_host",
        name="Ann",
        picture="https://example.com/ann.png",
    )
    assert isinstance(resp, MeetingAddParticipantResponse)
    assert resp.success is True
    p = resp.data
    assert isinstance(p.id, str) and p.id
    assert isinstance(p.token, str) and len(p.token) >= 16, f"token: {p.token!r}"
    assert p.custom_participant_id == "ann@example.com"
    assert p.preset_name == "group_call_host"
    assert p.name == "Ann"
    assert p.picture == "https://example.com/ann.png"
    assert isinstance(p.created_at, datetime) and isinstance(p.updated_at, datetime)


def test_participant_joins_with_its_token(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    host = admin.add(app, meeting.id, "ann", preset="group_call_host", name="Ann")
    guest = admin.add(app, meeting.id, "bob", preset="group_call_participant", name="Bob")

    ann = crowd.join(host.token, "ann")
    joined = ann.joined
    assert joined["meetingId"] == meeting.id
    assert joined["sessionId"], "a session id"
    # The socket's participant is the REST participant: same id, custom id, name and preset.
    assert joined["self"]["id"] == host.id
    assert joined["self"]["customParticipantId"] == "ann"
    assert joined["self"]["name"] == "Ann"
    assert joined["self"]["presetName"] == "group_call_host"
    assert joined["permissions"] == {"kickParticipant": True}
    assert joined["participants"] == [], "nobody else was there"

    bob = crowd.join(guest.token, "bob")
    assert bob.session_id == ann.session_id, "both are in the one live session"
    assert bob.joined["permissions"] == {"kickParticipant": False}
    assert [p["id"] for p in bob.joined["participants"]] == [host.id]
    seen = ann.wait_for("participantJoined")
    assert seen["participant"]["id"] == guest.id and seen["participant"]["customParticipantId"] == "bob"


def test_list_and_get_participants(admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    added = [admin.add(app, meeting.id, f"user-{i}", name=f"User {i}") for i in range(3)]
    other_meeting = admin.new_meeting(app)
    admin.add(app, other_meeting.id, "elsewhere")

    resp = admin.rk.meetings.get_meeting_participants(meeting.id, account_id=admin.account, app_id=app)
    assert isinstance(resp, MeetingGetMeetingParticipantsResponse)
    assert resp.success is True
    assert {p.id for p in resp.data} == {p.id for p in added}, "exactly this meeting's participants"
    assert resp.paging.total_count == 3, f"paging: {resp.paging}"
    by_id = {p.id: p for p in resp.data}
    for a in added:
        assert by_id[a.id].custom_participant_id == a.custom_participant_id
        assert by_id[a.id].preset_name == "group_call_participant"
        assert by_id[a.id].name == a.name

    one = admin.rk.meetings.get_meeting_participant(added[1].id, account_id=admin.account, app_id=app, meeting_id=meeting.id)
    assert isinstance(one, MeetingGetMeetingParticipantResponse)
    assert one.success is True
    assert one.data.id == added[1].id
    assert one.data.custom_participant_id == "user-1"
    assert one.data.name == "User 1"
    assert isinstance(one.data.created_at, datetime)


def test_edit_participant(admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "carl", name="Carl")
    resp = admin.rk.meetings.edit_participant(
        p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id, name="Carl B.", preset_name="group_call_host"
    )
    assert isinstance(resp, MeetingEditParticipantResponse)
    assert resp.success is True
    assert resp.data.id == p.id
    assert resp.data.name == "Carl B."
    assert resp.data.preset_name == "group_call_host"
    assert resp.data.custom_participant_id == "carl"
    # types/realtime_kit/meeting_edit_participant_response.py: `token` is required in the answer.
    assert isinstance(resp.data.token, str) and resp.data.token
    got = admin.rk.meetings.get_meeting_participant(p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id)
    assert got.data.name == "Carl B." and got.data.preset_name == "group_call_host"


def test_edit_participant_preset_pushes_permissions_update(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "dana", preset="group_call_participant")
    dana = crowd.join(p.token, "dana")
    assert dana.joined["permissions"]["kickParticipant"] is False

    admin.rk.meetings.edit_participant(p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id, preset_name="group_call_host")
    update = dana.wait_for("permissionsUpdate")
    assert update["presetName"] == "group_call_host"
    assert update["permissions"]["kickParticipant"] is True

    admin.rk.meetings.edit_participant(p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id, preset_name="group_call_participant")
    update = dana.wait_for("permissionsUpdate")
    assert update["presetName"] == "group_call_participant"
    assert update["permissions"]["kickParticipant"] is False
    assert not dana.frames_of("roomLeft"), "a preset change does not remove anyone"


def test_patch_preset_pushes_permissions_update_to_its_participants(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    preset = admin.rk.presets.create(app, account_id=admin.account, name="moderator", **preset_body(kick_participant=False)).data
    meeting = admin.new_meeting(app)
    mod = crowd.join(admin.add(app, meeting.id, "mod", preset="moderator").token, "mod")
    guest = crowd.join(admin.add(app, meeting.id, "guest", preset="group_call_participant").token, "guest")
    assert mod.joined["permissions"]["kickParticipant"] is False

    admin.rk.presets.update(preset.id, account_id=admin.account, app_id=app, permissions={"kick_participant": True})
    update = mod.wait_for("permissionsUpdate")
    assert update == {"type": "permissionsUpdate", "presetName": "moderator", "permissions": {"kickParticipant": True}}

    # The guest's preset did not change: the next thing the guest hears is the end of the session, not an update.
    admin.kick_all(app, meeting.id)
    guest.wait_for("roomLeft")
    assert not guest.frames_of("permissionsUpdate"), f"guest got an update for another preset: {guest.frames}"


def test_delete_participant_kicks_the_connected_one(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    gone = admin.add(app, meeting.id, "gone")
    stays = admin.add(app, meeting.id, "stays")
    g = crowd.join(gone.token, "gone")
    s = crowd.join(stays.token, "stays")

    resp = admin.rk.meetings.delete_meeting_participant(gone.id, account_id=admin.account, app_id=app, meeting_id=meeting.id)
    assert isinstance(resp, MeetingDeleteMeetingParticipantResponse)
    assert resp.success is True
    # types/realtime_kit/meeting_delete_meeting_participant_response.py: the deleted participant, with `preset_id`.
    assert resp.data.custom_participant_id == "gone"
    preset_ids = {p.name: p.id for p in admin.rk.presets.get(app, account_id=admin.account).data}
    assert resp.data.preset_id == preset_ids["group_call_participant"]

    left = g.wait_for("roomLeft")
    assert left["state"] == "kicked"
    assert left["sessionId"] == g.session_id
    g.wait_closed()

    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.get_meeting_participant(gone.id, account_id=admin.account, app_id=app, meeting_id=meeting.id)
    listed = admin.rk.meetings.get_meeting_participants(meeting.id, account_id=admin.account, app_id=app)
    assert [p.id for p in listed.data] == [stays.id]

    # The other participant is still in the live session.
    active = poll(lambda: admin.active_session(app, meeting.id), lambda r: r.data and r.data.live_participants == 1,
                  what="live_participants == 1 after the delete")
    assert active.data.status == "LIVE"
    assert not s.frames_of("roomLeft")

    # The deleted participant's token no longer joins.
    again = crowd.connect(gone.token, "gone again")
    err = again.wait_for("error")
    assert err["code"] in ("4010", "4040"), f"invalid token or not found: {err}"
    again.wait_closed()


def test_refresh_token(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    p = admin.add(app, meeting.id, "erin")
    resp = admin.rk.meetings.refresh_participant_token(p.id, account_id=admin.account, app_id=app, meeting_id=meeting.id)
    assert isinstance(resp, MeetingRefreshParticipantTokenResponse)
    assert resp.success is True
    assert isinstance(resp.data.token, str) and resp.data.token
    joined = crowd.join(resp.data.token, "erin").joined
    assert joined["self"]["id"] == p.id and joined["meetingId"] == meeting.id


def test_unknown_participant_is_404(admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    known = admin.add(app, meeting.id)  # the same routes work for a participant that exists
    assert admin.rk.meetings.get_meeting_participant(known.id, account_id=admin.account, app_id=app,
                                                     meeting_id=meeting.id).data.id == known.id
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.get_meeting_participant(missing_id(), account_id=admin.account, app_id=app, meeting_id=meeting.id)
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.delete_meeting_participant(missing_id(), account_id=admin.account, app_id=app, meeting_id=meeting.id)
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.add_participant(missing_id(), account_id=admin.account, app_id=app,
                                          custom_participant_id="x", preset_name="group_call_host")


def test_participant_of_another_meeting_is_404(admin: Kit):
    app = admin.new_app()
    m1, m2 = admin.new_meeting(app), admin.new_meeting(app)
    p = admin.add(app, m1.id, "frank")
    assert admin.rk.meetings.get_meeting_participant(p.id, account_id=admin.account, app_id=app, meeting_id=m1.id).data.id == p.id
    with pytest.raises(cloudflare.NotFoundError):
        admin.rk.meetings.get_meeting_participant(p.id, account_id=admin.account, app_id=app, meeting_id=m2.id)


def test_add_participant_with_unknown_preset_is_refused(admin: Kit):
    app = admin.new_app()
    meeting = admin.new_meeting(app)
    with pytest.raises(cloudflare.APIStatusError) as e:
        admin.rk.meetings.add_participant(meeting.id, account_id=admin.account, app_id=app,
                                          custom_participant_id="gina", preset_name="no_such_preset")
    # Either reading is defensible (a bad field value, or a missing preset); the message must name the preset.
    assert e.value.status_code in (400, 404), f"{e.value.status_code} {e.value.body}"
    assert "preset" in str(e.value.body).lower(), f"the error names the preset: {e.value.body}"
