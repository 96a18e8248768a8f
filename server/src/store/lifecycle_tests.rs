//! The events a session's life records, their payloads, and that a change and its event commit or roll back together.

use super::*;
use crate::store::{Store, WebhookRow};
use serde_json::{json, Value};

const ALL: [WebhookEvent; 4] = [
    WebhookEvent::MeetingStarted,
    WebhookEvent::MeetingEnded,
    WebhookEvent::ParticipantJoined,
    WebhookEvent::ParticipantLeft,
];

struct Fixture {
    store: super::super::test_db::TestStore,
    app: String,
    meeting: String,
    created_at: String,
}

/// On each test store: an app with a webhook subscribed to every session event, and a meeting.
async fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for store in super::super::test_db::stores().await {
        let mut db = store.db().await.unwrap();
        let app = db.create_app("acct", "Acme").await.unwrap();
        let meeting = db.create_meeting(&app.id, Some("Standup"), Default::default()).await.unwrap();
        let hook = WebhookRow::new(&app.id, "all".into(), "http://127.0.0.1:9/".into(), ALL.to_vec(), true);
        db.create_webhook(&hook).await.unwrap();
        drop(db);
        out.push(Fixture { store, app: app.id, meeting: meeting.id, created_at: meeting.created_at });
    }
    out
}

fn person(id: &str, name: &str) -> Participant {
    Participant {
        id: id.into(),
        name: name.into(),
        custom_participant_id: format!("c-{id}"),
        preset_name: "host".into(),
    }
}

impl Fixture {
    /// The app's events so far, as (name, payload).
    async fn events(&self) -> Vec<(String, Value)> {
        let rows = self.store.db().await.unwrap().webhook_events(&self.app).await.unwrap();
        rows.into_iter().map(|(_, name, body)| (name, serde_json::from_slice(&body).unwrap())).collect()
    }

    async fn names(&self) -> Vec<String> {
        self.events().await.into_iter().map(|(name, _)| name).collect()
    }

    async fn begin(&self) -> Tx {
        self.store.begin().await.unwrap()
    }
}

/// Calls [`Store::write_pending_left_events`] as the webhook worker does, until nothing is pending.
async fn write_every_pending(store: &Store) {
    let now = i64::MAX / 4;
    for _ in 0..1000 {
        match store.write_pending_left_events(now, 0).await.unwrap() {
            Some(at) => assert_eq!(at, now, "due now, or nothing pending"),
            None => return,
        }
    }
    panic!("still pending after 1000 chunks");
}

#[tokio::test]
async fn a_session_records_started_joined_left_and_one_ended_with_rtk_payloads() {
    for f in fixtures().await {
        let m = f.meeting.clone();
        let mut tx = f.begin().await;
        tx.start_session("s1", &m, "2026-01-01T00:00:00.000Z").await.unwrap();
        tx.record_arrival(&m, "s1", &person("p1", "Ann"), "2026-01-01T00:00:00.000Z").await.unwrap();
        tx.record_arrival(&m, "s1", &person("p2", ""), "2026-01-01T00:00:01.000Z").await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = f.begin().await;
        tx.record_departure(&m, "s1", "p2", "2026-01-01T00:00:02.000Z").await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = f.begin().await;
        tx.record_departure(&m, "s1", "p2", "2026-01-01T00:00:03.000Z").await.unwrap(); // already out: no event
        tx.commit().await.unwrap();
        let mut tx = f.begin().await;
        let ended =
            tx.end_session(&m, "s1", "2026-01-01T00:01:00.000Z", EndReason::HostEndedMeeting, 2, 1).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = f.begin().await;
        let again =
            tx.end_session(&m, "s1", "2026-01-01T00:02:00.000Z", EndReason::AllParticipantsLeft, 0, 0).await.unwrap();
        tx.commit().await.unwrap();
        assert!(ended && !again, "a session ends once");
        let event_id = f.store.db().await.unwrap().session_end("s1").await.unwrap().unwrap().event_id.unwrap();

        // The end wrote no event per participant: p1's participantLeft and meeting.ended are pending, and follow.
        assert_eq!(f.names().await.len(), 4, "{:?}", f.names().await);
        write_every_pending(&f.store).await;
        assert_eq!(
            f.names().await,
            [
                "meeting.started",
                "meeting.participantJoined",
                "meeting.participantJoined",
                "meeting.participantLeft",
                "meeting.participantLeft", // p1, removed by the end
                "meeting.ended",
            ]
        );
        let events = f.events().await;
        let meeting = |status: &str, ended_at: Option<&str>| {
            let mut m = json!({
                "id": f.meeting, "sessionId": "s1", "title": "Standup", "status": status, "createdAt": f.created_at,
                "startedAt": "2026-01-01T00:00:00.000Z", "organizedBy": {"id": f.app, "name": "Acme"},
            });
            if let Some(at) = ended_at {
                m["endedAt"] = json!(at);
            }
            m
        };
        assert_eq!(events[0].1, json!({"event": "meeting.started", "meeting": meeting("LIVE", None)}));
        let joined = &events[1].1;
        assert_eq!(joined["meeting"], meeting("LIVE", None));
        let peer = joined["participant"]["peerId"].as_str().unwrap().to_owned();
        assert_eq!(
            joined["participant"],
            json!({"id": "p1", "peerId": peer, "customParticipantId": "c-p1", "userDisplayName": "Ann",
                   "presetName": "host", "joinedAt": "2026-01-01T00:00:00.000Z"})
        );
        assert_eq!(events[2].1["participant"]["userDisplayName"], Value::Null, "no name is null, not \"\"");
        let left = &events[3].1["participant"];
        assert_eq!((left["id"].as_str(), left["leftAt"].as_str()), (Some("p2"), Some("2026-01-01T00:00:02.000Z")));
        assert_eq!(events[3].1["participant"]["peerId"], events[2].1["participant"]["peerId"], "the same stay");
        assert_eq!(events[4].1["participant"]["peerId"].as_str(), Some(peer.as_str()));
        assert_eq!(events[4].1["meeting"]["status"], "ENDED");
        assert_eq!(events[5].0, "meeting.ended");
        assert_eq!(
            f.store.db().await.unwrap().webhook_events(&f.app).await.unwrap()[5].0,
            event_id,
            "meeting.ended has the id fixed at the end (the one participants were told)"
        );
        assert_eq!(
            events[5].1,
            json!({"event": "meeting.ended", "meeting": meeting("ENDED", Some("2026-01-01T00:01:00.000Z")),
                   "reason": "HOST_ENDED_MEETING", "endedBy": null, "message": null})
        );
    }
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_event() {
    for f in fixtures().await {
        let m = f.meeting.clone();
        let mut tx = f.begin().await;
        tx.start_session("s1", &m, "2026-01-01T00:00:00.000Z").await.unwrap();
        drop(tx); // the join failed after the start
        assert_eq!(f.names().await, Vec::<String>::new());
        assert_eq!(f.store.db().await.unwrap().latest_session(&m).await.unwrap(), None);
    }
}

/// The bell is the store's own: an event wakes the worker of the store it was written to, and no other (two servers in
/// one process, as the tests run them, do not wake each other's workers).
#[tokio::test]
async fn an_event_rings_the_bell_of_its_own_store_only() {
    for f in fixtures().await {
        let other = Store::open_in_memory().await.unwrap();
        let (bell, other_bell) = (f.store.webhook_bell(), other.webhook_bell());
        let rung = bell.notified();
        let other_rung = other_bell.notified();
        tokio::pin!(rung, other_rung);
        rung.as_mut().enable();
        other_rung.as_mut().enable();
        let m = f.meeting.clone();
        let mut tx = f.begin().await;
        tx.start_session("s1", &m, "2026-01-01T00:00:00.000Z").await.unwrap();
        tx.commit().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), rung).await.expect("the store's own bell rang");
        // A timeout polls its future once before looking at the clock: a bell that had rung would be ready then.
        let other_rang = tokio::time::timeout(std::time::Duration::ZERO, other_rung).await.is_ok();
        assert!(!other_rang, "another store's bell rang");
    }
}

/// The bell wakes the delivery worker to claim the event, so it rings only once the event is committed: a claim made
/// when it rings finds the delivery. (On Postgres the claim does not wait for the write lock; a bell rung before the
/// commit sent the worker to an empty outbox, and the event waited for the next poll.)
#[tokio::test]
async fn the_bell_rings_at_the_commit_and_a_claim_then_finds_the_event() {
    for f in fixtures().await {
        let bell = f.store.webhook_bell();
        let rung = bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let mut tx = f.begin().await;
        tx.start_session("s1", &f.meeting, "2026-01-01T00:00:00.000Z").await.unwrap();
        let early = tokio::time::timeout(std::time::Duration::ZERO, rung.as_mut()).await.is_ok();
        assert!(!early, "{:?}: rang before the commit", f.store.dialect());
        tx.commit().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), rung).await.expect("rang at the commit");
        let mut db = f.store.db().await.unwrap();
        let (claimed, _) = db.claim_webhook_deliveries(i64::MAX / 4, 0, i64::MAX / 2, &mut |_, _| true).await.unwrap();
        assert_eq!(claimed.len(), 1, "{:?}: the event is there when the bell rings", f.store.dialect());
    }
}

/// An end with more participants than one chunk: each still in the session gets exactly one `participantLeft`, in
/// the order they joined, then `meeting.ended`, however many workers write the pending events at once; and not
/// before `--webhook-delay-ms` after the end.
#[tokio::test]
async fn the_pending_events_of_an_end_are_written_once_in_order_after_the_end() {
    for f in fixtures().await {
        let m = f.meeting.clone();
        let n = left::CHUNK * 2 + 7;
        let mut tx = f.begin().await;
        tx.start_session("s1", &m, "2026-01-01T00:00:00.000Z").await.unwrap();
        for i in 0..n {
            // Two at each time: the order is (joinedAt, insertion).
            let at = format!("2026-01-01T00:00:{:02}.{:03}Z", i / 2 / 1000, (i / 2) % 1000);
            tx.record_arrival(&m, "s1", &person(&format!("p{i}"), "x"), &at).await.unwrap();
        }
        tx.commit().await.unwrap();
        let before = f.names().await.len();
        let mut tx = f.begin().await;
        tx.end_session(&m, "s1", "2026-01-01T00:10:00.000Z", EndReason::HostEndedMeeting, 0, 0).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(f.names().await.len(), before, "nothing per participant in the end's transaction");

        let ended_ms = crate::clock::unix_ms();
        let held = f.store.write_pending_left_events(ended_ms, 60_000).await.unwrap();
        assert!(held.is_some_and(|due| due > ended_ms), "held by the first delay: {held:?}");
        assert_eq!(f.names().await.len(), before);

        tokio::join!(write_every_pending(&f.store), write_every_pending(&f.store), write_every_pending(&f.store));
        let events = f.events().await;
        let after = &events[before..];
        assert_eq!(
            after.len(),
            n + 1,
            "{:?}: one participantLeft per participant, then meeting.ended",
            f.store.dialect()
        );
        let left: Vec<String> =
            after[..n].iter().map(|(_, body)| body["participant"]["id"].as_str().unwrap().to_owned()).collect();
        let expected: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        assert_eq!(left, expected, "in the order they joined, each once");
        assert!(after[..n].iter().all(|(name, body)| name == "meeting.participantLeft"
            && body["participant"]["leftAt"] == "2026-01-01T00:10:00.000Z"
            && body["meeting"]["status"] == "ENDED"));
        assert_eq!(after[n].0, "meeting.ended");
        assert_eq!(f.store.write_pending_left_events(i64::MAX / 4, 0).await.unwrap(), None, "nothing left");
        assert_eq!(f.events().await.len(), events.len(), "written once");
    }
}

/// A webhook deleted between the end and the writing of its pending events: nothing for it, and the pending end does
/// not stay stuck (it would hold up every later one).
#[tokio::test]
async fn a_webhook_deleted_before_the_pending_events_are_written_gets_none() {
    for f in fixtures().await {
        let m = f.meeting.clone();
        let mut tx = f.begin().await;
        tx.start_session("s1", &m, "2026-01-01T00:00:00.000Z").await.unwrap();
        tx.record_arrival(&m, "s1", &person("p1", "Ann"), "2026-01-01T00:00:00.000Z").await.unwrap();
        tx.end_session(&m, "s1", "2026-01-01T00:01:00.000Z", EndReason::HostEndedMeeting, 1, 0).await.unwrap();
        tx.commit().await.unwrap();
        let mut db = f.store.db().await.unwrap();
        for hook in db.webhooks(&f.app).await.unwrap() {
            db.delete_webhook(&f.app, &hook.id).await.unwrap();
        }
        drop(db);
        let before = f.names().await;
        write_every_pending(&f.store).await;
        assert_eq!(f.names().await, before, "no event for a webhook that is gone");
        assert_eq!(f.store.write_pending_left_events(i64::MAX / 4, 0).await.unwrap(), None, "nothing left pending");
    }
}
