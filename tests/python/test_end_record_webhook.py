"""Issue 13's one end record, end to end through the official SDK and a real receiver that verifies `rtk-signature`:
every participant's `roomLeft.eventId` (and a late resume's) is the `rtk-uuid` of the session's `meeting.ended`
delivery, also when that delivery was retried, and its body carries the same `endedBy` and `message`."""

from __future__ import annotations

from participant import Crowd, Participant
from support import Kit
from hooks import kit, people, receiver, subscribe  # noqa: F401 (fixtures)
from test_webhook_delivery import ended, hooks_server  # noqa: F401 (fixtures)
from webhook_receiver import Receiver


def test_room_left_event_id_is_the_rtk_uuid_of_a_retried_meeting_ended(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app("Acme")
    meeting = kit.new_meeting(app, title="Retro")
    _, name, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    receiver.answer(name, [500, 503])  # two failed attempts first: the retries must keep the id
    ann = kit.add(app, meeting.id, "ann", preset="group_call_host", name="Ann")
    bob = kit.add(app, meeting.id, "bob", name="Bob")
    a = people.join(ann.token, "ann")
    b = people.join(bob.token, "bob")
    session_id = a.session_id

    a.send({"type": "kickAll", "id": 1, "message": "Good retro"})
    records = [a.wait_for("roomLeft"), b.wait_for("roomLeft")]
    assert records[0] == records[1], records
    record = records[0]
    assert record["endedBy"] == {"id": ann.id, "name": "Ann", "customParticipantId": "ann"}, record
    assert record["message"] == "Good retro", record
    late = Participant(kit.server.ws_url, bob.token, "bob again")
    try:
        late.send({"type": "join", "token": bob.token, "resume": session_id, "version": 1})
        assert late.wait_for("roomLeft") == record, "a resume after the end gets the same record"
    finally:
        late.close()

    got = receiver.wait_for(name, lambda ds: any(d.status == 200 for d in ended(ds, session_id)),
                            what="an accepted meeting.ended")
    deliveries = ended(got, session_id)
    assert [d.status for d in deliveries] == [500, 503, 200], deliveries
    assert all(d.verified for d in deliveries), deliveries
    assert {d.uuid for d in deliveries} == {record["eventId"]}, (record, deliveries)
    body = deliveries[-1].json
    assert (body["endedBy"], body["message"], body["reason"]) == (record["endedBy"], "Good retro", "HOST_ENDED_MEETING")
