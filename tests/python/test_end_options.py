"""Issue 13 through the official `cloudflare` SDK: kick-all's extension fields sent with `extra_body` (`message`,
`lock`, `graceSeconds`), the cancel-end route (`POST .../active-session/cancel-end`, called with the SDK's own
`post`), and the meeting field `end_when_no_host_after_secs`; each seen on the participants' sockets too."""

from __future__ import annotations

import cloudflare
import pytest

from participant import Crowd
from support import Kit, unique


def in_a_meeting(admin: Kit, crowd: Crowd, guests: int = 2, **meeting_params):
    app = admin.new_app()
    meeting = admin.new_meeting(app, **meeting_params)
    added = [admin.add(app, meeting.id, unique("guest")) for _ in range(guests)]
    sockets = [crowd.join(p.token, p.custom_participant_id) for p in added]
    return app, meeting, added, sockets


def kick_all(admin: Kit, app: str, meeting_id: str, **options):
    return admin.rk.active_session.kick_all_participants(
        meeting_id, account_id=admin.account, app_id=app, extra_body=options
    )


def cancel_end(admin: Kit, app: str, meeting_id: str) -> dict:
    path = f"/accounts/{admin.account}/realtime/kit/{app}/meetings/{meeting_id}/active-session/cancel-end"
    return admin.cf.post(path, cast_to=object)


def test_kick_all_with_a_message_and_lock_ends_with_one_record_and_locks_the_meeting(admin: Kit, crowd: Crowd):
    app, meeting, added, sockets = in_a_meeting(admin, crowd)
    resp = kick_all(admin, app, meeting.id, message="The office is closing", lock=True)
    assert resp.success is True and resp.data.kicked_participants_count == 2

    records = []
    for s in sockets:
        left = s.wait_for("roomLeft")
        assert left["state"] == "ended" and left["reason"] == "HOST_ENDED_MEETING", left
        assert left["message"] == "The office is closing" and left["endedBy"] == {"api": True}, left
        assert isinstance(left.get("eventId"), str) and left["eventId"], left
        records.append(left)
    assert all(r == records[0] for r in records), f"one end record for everyone: {records}"

    got = admin.rk.meetings.get_meeting_by_id(meeting.id, account_id=admin.account, app_id=app)
    assert got.data.status == "INACTIVE", "locked in the same transaction as the end"
    again = crowd.connect(added[0].token, "rejoin")
    refused = again.wait_for("error")
    assert refused["code"] == "4030", refused


def test_grace_seconds_counts_down_the_cancel_route_cancels_and_a_short_one_ends(admin: Kit, crowd: Crowd):
    app, meeting, _, sockets = in_a_meeting(admin, crowd)
    session_id = sockets[0].session_id
    resp = kick_all(admin, app, meeting.id, graceSeconds=30, message="Five more minutes")
    assert resp.success is True and resp.data.kicked_participants_count == 0, resp
    ends_at = resp.to_dict()["data"]["ends_at"]
    for s in sockets:
        ending = s.wait_for("sessionEnding")
        assert (ending["sessionId"], ending["endsAt"], ending["reason"]) == (session_id, ends_at, "HOST_ENDED_MEETING")
        assert ending["endedBy"] == {"api": True} and ending["message"] == "Five more minutes", ending
        assert 0 < ending["remainingMs"] <= 30_000, ending

    assert cancel_end(admin, app, meeting.id) == {"success": True, "data": {"action": "cancel_end", "cancelled": True}}
    for s in sockets:
        cancelled = s.wait_for("sessionEndCancelled")
        assert cancelled == {"type": "sessionEndCancelled", "sessionId": session_id, "cancelledBy": {"api": True}}
    assert cancel_end(admin, app, meeting.id)["data"]["cancelled"] is False
    assert admin.active_session(app, meeting.id).data.status == "LIVE"

    kick_all(admin, app, meeting.id, graceSeconds=1)
    for s in sockets:
        s.wait_for("sessionEnding")
        left = s.wait_for("roomLeft")
        assert (left["state"], left["reason"], left["endedBy"]) == ("ended", "HOST_ENDED_MEETING", {"api": True}), left
    assert admin.active_session(app, meeting.id).data.status == "ENDED"


@pytest.mark.parametrize(
    "options, field",
    [({"message": "x" * 501}, "message"), ({"graceSeconds": 3601}, "graceSeconds"), ({"lock": "yes"}, "lock")],
)
def test_kick_all_options_out_of_bounds_are_a_400_naming_the_field(admin: Kit, crowd: Crowd, options, field):
    app, meeting, _, sockets = in_a_meeting(admin, crowd, guests=1)
    with pytest.raises(cloudflare.BadRequestError) as refused:
        kick_all(admin, app, meeting.id, **options)
    assert field in str(refused.value), refused.value
    assert admin.active_session(app, meeting.id).data.status == "LIVE", "nothing ended"


def test_the_no_host_field_is_kept_validated_and_ends_a_session_without_hosts(admin: Kit, crowd: Crowd):
    app = admin.new_app()
    created = admin.rk.meetings.create(
        app, account_id=admin.account, title=unique("m"), extra_body={"end_when_no_host_after_secs": 600}
    )
    assert created.to_dict()["data"]["end_when_no_host_after_secs"] == 600
    meeting_id = created.data.id
    updated = admin.rk.meetings.update_meeting_by_id(
        meeting_id, account_id=admin.account, app_id=app, extra_body={"end_when_no_host_after_secs": 1}
    )
    assert updated.to_dict()["data"]["end_when_no_host_after_secs"] == 1
    with pytest.raises(cloudflare.BadRequestError) as refused:
        admin.rk.meetings.update_meeting_by_id(
            meeting_id, account_id=admin.account, app_id=app, extra_body={"end_when_no_host_after_secs": -5}
        )
    assert "end_when_no_host_after_secs" in str(refused.value)

    guest = admin.add(app, meeting_id, unique("guest"))
    alone = crowd.join(guest.token, "guest without a host")
    ending = alone.wait_for("sessionEnding")
    assert ending["reason"] == "NO_HOST" and "endedBy" not in ending, ending
    left = alone.wait_for("roomLeft")
    assert (left["state"], left["reason"]) == ("ended", "NO_HOST"), left
