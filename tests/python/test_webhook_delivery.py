"""Webhook delivery, end to end: real participants (WebSockets) and the official SDK make things happen, a real HTTP
receiver (webhook_receiver.py) gets the events and verifies every signature with `cryptography` against the key from
`/.well-known/webhooks.json`.

This module starts its own server with fast retries (`--webhook-retry-base-ms 50`); the crash test starts two more
(`--webhook-delay-ms` holds the first attempt so the test can SIGKILL the server between the end and the delivery).
"No second `meeting.ended`" is checked after a barrier: a later session of the same meeting, ended afterwards, whose
own `meeting.ended` has arrived — the outbox hands out due deliveries oldest first, so a duplicate would have come too.

Within a session, deliveries to a webhook go one at a time in the order the events happened (retries included), so
the receiver's scripted answers fall on a session's events in turn.
"""

from __future__ import annotations

import shutil
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from participant import Crowd
from hooks import kit, people, public_key_pem, receiver, server_with, subscribe  # noqa: F401 (fixtures)
from support import Kit, ServerProcess, Tokens, poll, temp_data_dir
from webhook_receiver import Delivery, Receiver, load_public_key, verify

ALL_EVENTS = ["meeting.started", "meeting.ended", "meeting.participantJoined", "meeting.participantLeft"]
# The receiver runs on this machine: allow loopback targets (the default outside --dev refuses them).
FAST = ["--webhook-retry-base-ms", "50", "--webhook-max-attempts", "5", "--webhook-targets", "any"]


hooks_server = server_with(FAST)


def ended(ds: list[Delivery], session_id: str) -> list[Delivery]:
    return [d for d in ds if d.event == "meeting.ended" and d.json["meeting"]["sessionId"] == session_id]


def barrier(kit: Kit, app: str, meeting_id: str, people: Crowd, receiver: Receiver, name: str) -> None:
    """Ends one more session of the meeting and waits for its `meeting.ended`: everything enqueued before has had
    its first attempt by then."""
    p = kit.add(app, meeting_id, name="Barrier", preset="group_call_host")
    s = people.join(p.token, "barrier")
    kit.kick_all(app, meeting_id)
    s.wait_for("roomLeft", state="ended")
    receiver.wait_for(name, lambda ds: ended(ds, s.session_id), what="the barrier session's meeting.ended")


def test_the_public_key_is_served_as_pem(hooks_server: ServerProcess):
    key = load_public_key(public_key_pem(hooks_server))  # no token needed, as on RealtimeKit
    assert key.key_size >= 2048


def test_every_event_arrives_signed_in_realtimekit_shape(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app("Acme")
    meeting = kit.new_meeting(app, title="Weekly sync")
    hook_id, name, _ = subscribe(kit, app, receiver, ALL_EVENTS)
    ann = kit.add(app, meeting.id, "ann", preset="group_call_host", name="Ann")
    bob = kit.add(app, meeting.id, "bob", name="Bob")
    a = people.join(ann.token, "ann")
    b = people.join(bob.token, "bob")
    b.leave()
    a.wait_for("participantLeft")
    a.send({"type": "kickAll", "id": 1})
    a.wait_for("roomLeft", state="ended")

    got = receiver.wait_for(name, lambda ds: len(ds) >= 6, what="six events")
    assert all(d.verified for d in got), got
    assert sorted(d.event for d in got) == sorted(["meeting.started", "meeting.participantJoined",
                                                   "meeting.participantJoined", "meeting.participantLeft",
                                                   "meeting.participantLeft", "meeting.ended"]), got
    assert len({d.uuid for d in got}) == 6, "one rtk-uuid per event"
    for d in got:
        assert d.headers["content-type"] == "application/json"
        assert d.headers["rtk-webhook-id"] == hook_id
        m = d.json["meeting"]
        assert (m["id"], m["sessionId"], m["title"]) == (meeting.id, a.session_id, "Weekly sync")
        assert m["organizedBy"] == {"id": app, "name": "Acme"}

    end = ended(got, a.session_id)[0].json
    # RealtimeKit's fields, and (issue 13, additive) the end record's `endedBy` and `message`.
    assert set(end) == {"event", "meeting", "reason", "endedBy", "message"}
    assert end["reason"] == "HOST_ENDED_MEETING"
    assert (end["endedBy"], end["message"]) == ({"id": ann.id, "name": "Ann", "customParticipantId": "ann"}, None)
    assert set(end["meeting"]) == {"id", "sessionId", "title", "status", "createdAt", "startedAt", "endedAt",
                                   "organizedBy"}
    assert end["meeting"]["status"] == "ENDED"
    assert end["meeting"]["startedAt"] <= end["meeting"]["endedAt"]
    joined = {d.json["participant"]["customParticipantId"]: d.json["participant"] for d in got
              if d.event == "meeting.participantJoined"}
    assert joined["bob"]["userDisplayName"] == "Bob" and joined["bob"]["id"] == bob.id
    left = [d.json["participant"] for d in got if d.event == "meeting.participantLeft"]
    assert {p["customParticipantId"] for p in left} == {"ann", "bob"}
    assert all(p["leftAt"] >= p["joinedAt"] for p in left)


@pytest.mark.parametrize("how", ["client", "rest", "last_left"])
def test_one_ended_event_per_session_however_it_ends(how: str, kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    _, name, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    host = kit.add(app, meeting.id, preset="group_call_host")
    guest = kit.add(app, meeting.id)
    h, g = people.join(host.token, "host"), people.join(guest.token, "guest")
    session_id = h.session_id
    if how == "client":
        h.send({"type": "kickAll", "id": 1})
        h.wait_for("roomLeft", state="ended")
    elif how == "rest":
        assert kit.kick_all(app, meeting.id).data.kicked_participants_count == 2
    else:
        g.leave()
        h.wait_for("participantLeft")
        h.leave()
    poll(lambda: kit.active_session(app, meeting.id).data.status, lambda s: s == "ENDED", what="the end recorded")

    barrier(kit, app, meeting.id, people, receiver, name)
    events = ended(receiver.deliveries(name), session_id)
    assert len({d.uuid for d in events}) == 1, events
    reason = "ALL_PARTICIPANTS_LEFT" if how == "last_left" else "HOST_ENDED_MEETING"
    assert events[0].json["reason"] == reason and events[0].verified


def test_concurrent_ends_give_one_ended_event(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    _, name, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    hosts = [people.join(kit.add(app, meeting.id, preset="group_call_host").token, f"host{i}") for i in range(3)]
    session_id = hosts[0].session_id

    def end(i: int) -> Any:
        if i < len(hosts):
            try:
                hosts[i].send({"type": "kickAll", "id": i + 1})
            except ConnectionClosed:
                pass  # another end got there first and the server closed this socket: part of the race
            return hosts[i].wait_for("roomLeft", state="ended")
        return kit.kick_all(app, meeting.id)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(end, range(6)))  # three hosts and three REST calls at once
    barrier(kit, app, meeting.id, people, receiver, name)
    events = ended(receiver.deliveries(name), session_id)
    assert len({d.uuid for d in events}) == 1, events


def test_a_failing_receiver_gets_the_same_event_id_until_it_answers_200(kit: Kit, people: Crowd,
                                                                          receiver: Receiver):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    _, name, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    receiver.answer(name, [500, 500])
    s = people.join(kit.add(app, meeting.id).token)
    kit.kick_all(app, meeting.id)

    got = receiver.wait_for(name, lambda ds: any(d.status == 200 for d in ds), what="a 200 after two 500s")
    assert [d.status for d in got] == [500, 500, 200], got
    assert len({d.uuid for d in got}) == 1, "the same rtk-uuid on every retry"
    assert len({d.body for d in got}) == 1, "the same body on every retry"
    assert all(d.verified for d in got)
    assert got[0].json["meeting"]["sessionId"] == s.session_id

    barrier(kit, app, meeting.id, people, receiver, name)
    assert [d.uuid for d in receiver.deliveries(name)].count(got[0].uuid) == 3, "delivered: no fourth attempt"


def test_a_sessions_events_arrive_in_the_order_they_happened_though_attempts_fail(kit: Kit, people: Crowd,
                                                                                 receiver: Receiver):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    _, name, _ = subscribe(kit, app, receiver, ALL_EVENTS)
    receiver.answer(name, [200] + [500, 200] * 11)  # every event but the first fails once, then is retried
    h = people.join(kit.add(app, meeting.id, "host", preset="group_call_host").token, "host")
    guests = [people.join(kit.add(app, meeting.id, f"guest{i}").token, f"guest{i}") for i in range(4)]
    guests[0].leave()
    h.wait_for("participantLeft")
    kit.kick_all(app, meeting.id)
    h.wait_for("roomLeft", state="ended")

    got = receiver.wait_for(name, lambda ds: any(d.event == "meeting.ended" and d.status == 200 for d in ds),
                            what="meeting.ended accepted")
    assert all(d.verified for d in got), got
    accepted = [d for d in got if d.status == 200]
    who = lambda d: d.json.get("participant", {}).get("customParticipantId")  # noqa: E731
    assert [(d.event, who(d)) for d in accepted] == (
        [("meeting.started", None)]
        + [("meeting.participantJoined", p) for p in ["host", "guest0", "guest1", "guest2", "guest3"]]
        + [("meeting.participantLeft", "guest0")]
        + [("meeting.participantLeft", p) for p in ["host", "guest1", "guest2", "guest3"]]
        + [("meeting.ended", None)]
    ), got
    order = [d.uuid for d in accepted]
    for i, d in enumerate(got):
        done = {x.uuid for x in got[:i] if x.status == 200}
        assert set(order[:order.index(d.uuid)]) <= done, f"request {i} ({d.event}) overtook an earlier event: {got}"
    assert sum(d.status == 500 for d in got) == 11, "each failed once and was retried with the same rtk-uuid"


def test_a_hanging_receiver_does_not_delay_another_accounts_webhook(hooks_server: ServerProcess, kit: Kit,
                                                                    people: Crowd, receiver: Receiver):
    # A receiver whose TCP accepts connections (the kernel's backlog) and never answers a request.
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(1024)
    try:
        app = kit.new_app()
        meeting = kit.new_meeting(app)
        kit.rk.webhooks.create_webhook(app, account_id=kit.account, name="hangs", events=ALL_EVENTS,
                                       url=f"http://127.0.0.1:{hanging.getsockname()[1]}/hooks")
        for i in range(75):  # 300 events pending for the hanging receiver (the input)
            s = people.join(kit.add(app, meeting.id, preset="group_call_host").token, f"host{i}")
            kit.kick_all(app, meeting.id)
            s.wait_for("roomLeft", state="ended")

        other = Kit(hooks_server, hooks_server.tokens.b_admin)  # another account, a healthy receiver
        other_app = other.new_app()
        other_meeting = other.new_meeting(other_app)
        _, name, _ = subscribe(other, other_app, receiver, ["meeting.started"])
        p = people.join(other.add(other_app, other_meeting.id, preset="group_call_host").token, "elsewhere")
        joined = time.monotonic()
        # A behaviour bound with a wide margin: the delivery is immediate (it took minutes behind the hanging one).
        got = receiver.wait_for(name, lambda ds: len(ds) >= 1, what="meeting.started", timeout=3.0)
        assert time.monotonic() - joined < 3.0
        assert got[0].verified and got[0].event == "meeting.started"
        assert got[0].json["meeting"]["sessionId"] == p.session_id
    finally:
        hanging.close()


def test_disabled_and_unsubscribed_webhooks_are_not_called(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    _, ends, _ = subscribe(kit, app, receiver, ["meeting.ended"])
    _, disabled, _ = subscribe(kit, app, receiver, ALL_EVENTS, enabled=False)
    _, starts, _ = subscribe(kit, app, receiver, ["meeting.started"])
    later_off, switched_off, _ = subscribe(kit, app, receiver, ALL_EVENTS)
    kit.rk.webhooks.edit_webhook(later_off, account_id=kit.account, app_id=app, enabled=False)

    s = people.join(kit.add(app, meeting.id).token)
    kit.kick_all(app, meeting.id)
    receiver.wait_for(ends, lambda ds: ended(ds, s.session_id), what="meeting.ended")
    receiver.wait_for(starts, lambda ds: len(ds) >= 1, what="meeting.started")
    barrier(kit, app, meeting.id, people, receiver, ends)

    assert receiver.deliveries(disabled) == [], "a disabled webhook is never called"
    assert receiver.deliveries(switched_off) == [], "nor one disabled after it was made"
    assert {d.event for d in receiver.deliveries(starts)} == {"meeting.started"}, "only what it subscribed to"
    assert {d.event for d in receiver.deliveries(ends)} == {"meeting.ended"}


def test_a_tampered_body_fails_verification(kit: Kit, people: Crowd, receiver: Receiver):
    app = kit.new_app()
    meeting = kit.new_meeting(app)
    _, name, _ = subscribe(kit, app, receiver, ["meeting.started", "meeting.ended"])
    people.join(kit.add(app, meeting.id).token)
    kit.kick_all(app, meeting.id)
    got = receiver.wait_for(name, lambda ds: len(ds) >= 2, what="two events")
    key = load_public_key(public_key_pem(kit.server))
    d = next(d for d in got if d.event == "meeting.ended")
    signature = d.headers["rtk-signature"]
    assert verify(key, d.body, signature)
    assert not verify(key, d.body.replace(b"HOST_ENDED_MEETING", b"ALL_PARTICIPANTS_LEFT"), signature)
    assert not verify(key, d.body + b" ", signature), "even whitespace counts: verify the raw bytes"
    other = next(x for x in got if x.event == "meeting.started")
    assert not verify(key, d.body, other.headers["rtk-signature"]), "a signature belongs to its own body"


def test_an_event_stored_before_a_crash_is_delivered_after_the_restart(receiver: Receiver):
    data = temp_data_dir()
    tokens = Tokens.generate()
    # The first attempt is held for ten minutes: the kill below surely lands between the end and the delivery.
    first = ServerProcess(data, tokens, args=FAST + ["--webhook-delay-ms", "600000"])
    second = None
    crowd = None
    try:
        first.start()
        kit = Kit(first, tokens.a_admin)
        pem = public_key_pem(first)
        app = kit.new_app()
        meeting = kit.new_meeting(app)
        _, name, _ = subscribe(kit, app, receiver, ["meeting.ended"])
        crowd = Crowd(first.ws_url)
        s = crowd.join(kit.add(app, meeting.id, preset="group_call_host").token)
        kit.kick_all(app, meeting.id)
        s.wait_for("roomLeft", state="ended")
        poll(lambda: kit.active_session(app, meeting.id).data.status, lambda st: st == "ENDED",
             what="the end recorded")
        assert receiver.deliveries(name) == [], "held by --webhook-delay-ms"
        crowd.close()
        first.stop(signal.SIGKILL)

        second = ServerProcess(data, tokens, args=FAST).start()
        assert public_key_pem(second) == pem, "the key pair is kept under --data"
        got = receiver.wait_for(name, lambda ds: len(ds) >= 1, what="the event after the restart")
        assert got[0].verified
        assert got[0].json["meeting"]["sessionId"] == s.session_id
        assert got[0].json["reason"] == "HOST_ENDED_MEETING"
    finally:
        if crowd:
            crowd.close()
        for srv in (first, second):
            if srv:
                srv.stop()
        shutil.rmtree(data.parent, ignore_errors=True)
