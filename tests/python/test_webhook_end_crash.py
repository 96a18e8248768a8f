"""The `meeting.participantLeft` events of an end survive a crash: the end records them as one pending row and the
webhook worker writes them after the participants were told (server/src/store/lifecycle_left.rs). The server is
SIGKILLed after the end's commit and before that write (`--webhook-delay-ms` holds it, as it holds first attempts);
two nodes then start at once on the same store (one --data directory, or one Postgres database when the suite runs
on Postgres) and every participant gets exactly one `participantLeft`, verified, then `meeting.ended`, with the
event id the participants were told.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from participant import Crowd
from hooks import receiver, subscribe  # noqa: F401 (fixtures)
from support import POSTGRES_ADMIN, Kit, ServerProcess, Tokens, poll, temp_data_dir
from webhook_receiver import Receiver

FAST = ["--webhook-retry-base-ms", "50", "--webhook-max-attempts", "5", "--webhook-targets", "any"]
PARTICIPANTS = 60


def test_participant_left_events_pending_at_a_crash_are_delivered_once_by_two_nodes_after_it(receiver: Receiver):
    data = temp_data_dir()
    tokens = Tokens.generate()
    first = ServerProcess(data, tokens, args=FAST + ["--webhook-delay-ms", "600000"])
    nodes: list[ServerProcess] = []
    crowd = None
    try:
        first.start()
        kit = Kit(first, tokens.a_admin)
        app = kit.new_app()
        meeting = kit.new_meeting(app)
        hook = subscribe(kit, app, receiver, ["meeting.participantLeft", "meeting.ended"])
        crowd = Crowd(first.ws_url)
        people = [kit.add(app, meeting.id, preset="group_call_host")]
        people += [kit.add(app, meeting.id) for _ in range(PARTICIPANTS - 1)]
        sockets = [crowd.join(p.token, f"p{i}") for i, p in enumerate(people)]
        session_id = sockets[0].session_id
        kit.kick_all(app, meeting.id)
        told = [s.wait_for("roomLeft", state="ended") for s in sockets]
        event_ids = {frame.get("eventId") for frame in told}
        assert len(event_ids) == 1 and None not in event_ids, f"one eventId for everyone: {event_ids}"
        poll(lambda: kit.active_session(app, meeting.id).data.status, lambda st: st == "ENDED",
             what="the end recorded")
        if not POSTGRES_ADMIN:
            # The kill lands where it should: the end is committed, its participantLeft events are not written yet.
            with sqlite3.connect(data / "endsession.sqlite3") as db:
                assert db.execute("SELECT count(*) FROM pending_left_events").fetchone() == (1,)
                assert db.execute("SELECT count(*) FROM webhook_events WHERE event = 'meeting.participantLeft'"
                                  ).fetchone() == (0,)
        assert receiver.deliveries(hook.name) == [], "held by --webhook-delay-ms"
        crowd.close()
        first.stop(signal.SIGKILL)

        # Two nodes on the same store, started at once: both workers find the pending end.
        nodes = [ServerProcess(data, tokens, args=FAST) for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda node: node.start(), nodes))

        def ended(ds):
            return any(d.event == "meeting.ended" for d in ds)

        receiver.wait_for(hook.name, ended, what="meeting.ended after the restart", timeout=120)
        time.sleep(1)  # a duplicate, if any, would come now
        got = receiver.deliveries(hook.name)
        assert all(d.verified for d in got), got[:3]
        assert all(d.status == 200 for d in got)
        left = [d for d in got if d.event == "meeting.participantLeft"]
        per_participant = Counter(d.json["participant"]["id"] for d in left)
        assert per_participant == Counter(p.id for p in people), "each participant exactly once"
        assert len({d.uuid for d in got}) == len(got), "no event delivered twice"
        assert got[-1].event == "meeting.ended", "meeting.ended comes last"
        assert got[-1].uuid in event_ids, "meeting.ended is the event the participants were told of"
        ended_at = got[-1].json["meeting"]["endedAt"]
        assert all(d.json["meeting"]["sessionId"] == session_id for d in got)
        assert all(d.json["participant"]["leftAt"] == ended_at for d in left)
    finally:
        if crowd:
            crowd.close()
        for srv in [first, *nodes]:
            srv.stop()
        shutil.rmtree(data.parent, ignore_errors=True)
