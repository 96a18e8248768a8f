//! The outbox on its own: who gets a delivery, claiming and leases, retries, giving up, disabled and deleted webhooks.
//! Each test runs on every test store (SQLite, and Postgres when there is one: see `test_db`).

use super::*;
use crate::store::test_db::{stores, TestStore};
use crate::store::WebhookRow;

struct Fixture {
    store: TestStore,
    app: String,
    meeting: String,
}

async fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for store in stores().await {
        let mut db = store.db().await.unwrap();
        let app = db.create_app("acct", "a").await.unwrap().id;
        let meeting = db.create_meeting(&app, None, Default::default()).await.unwrap().id;
        drop(db);
        out.push(Fixture { store, app, meeting });
    }
    out
}

impl Fixture {
    async fn db(&self) -> Db {
        self.store.db().await.unwrap()
    }

    async fn hook(&self, events: &[WebhookEvent], enabled: bool) -> String {
        let row = WebhookRow::new(&self.app, "h".into(), "http://127.0.0.1:9/h".into(), events.to_vec(), enabled);
        self.db().await.create_webhook(&row).await.unwrap();
        row.id
    }

    /// Enqueues for the subscribers, as the events module does; None if there are none.
    async fn enqueue(&self, event: WebhookEvent, now_ms: i64) -> Option<String> {
        let hooks = self.db().await.webhook_subscribers(&self.meeting, event).await.unwrap();
        if hooks.is_empty() {
            return None;
        }
        Some(self.db().await.enqueue_webhook_event(&self.app, event, b"{}", &hooks, "t", now_ms).await.unwrap())
    }

    /// Enqueues an event about `session` (as its body names it) for every subscriber.
    async fn enqueue_about(&self, session: &str, event: WebhookEvent, now_ms: i64) -> String {
        let hooks = self.db().await.webhook_subscribers(&self.meeting, event).await.unwrap();
        let body = serde_json::to_vec(&serde_json::json!({ "meeting": { "sessionId": session } })).unwrap();
        self.db().await.enqueue_webhook_event(&self.app, event, &body, &hooks, "t", now_ms).await.unwrap()
    }

    async fn claim(&self, now_ms: i64, first_delay_ms: i64) -> Vec<(String, String, u32)> {
        self.claim_taking(now_ms, first_delay_ms, |_| true).await.0
    }

    /// Claims what `take(webhook id)` agrees to; also returns when the next one falls due.
    async fn claim_taking(
        &self,
        now_ms: i64,
        first_delay_ms: i64,
        mut take: impl FnMut(&str) -> bool + Send,
    ) -> (Vec<(String, String, u32)>, Option<i64>) {
        let mut db = self.db().await;
        let mut take = |hook: &str, _: &str| take(hook);
        let claim = db.claim_webhook_deliveries(now_ms, first_delay_ms, now_ms + 1000, &mut take);
        let (due, next) = claim.await.unwrap();
        (due.into_iter().map(|d| (d.event_id, d.webhook_id, d.attempts)).collect(), next)
    }

    async fn next_due(&self, now_ms: i64, first_delay_ms: i64) -> Option<i64> {
        self.claim_taking(now_ms, first_delay_ms, |_| false).await.1
    }

    async fn states(&self, event: &str) -> Vec<DeliveryState> {
        self.db().await.webhook_deliveries(event).await.unwrap()
    }
}

#[tokio::test]
async fn only_enabled_webhooks_subscribed_to_the_event_get_a_delivery() {
    for f in fixtures().await {
        let ended = f.hook(&[WebhookEvent::MeetingEnded, WebhookEvent::MeetingStarted], true).await;
        let _joins = f.hook(&[WebhookEvent::ParticipantJoined], true).await;
        let _off = f.hook(&[WebhookEvent::MeetingEnded], false).await;
        let other_app = f.db().await.create_app("acct", "b").await.unwrap().id;
        let elsewhere =
            WebhookRow::new(&other_app, "x".into(), "http://x/".into(), vec![WebhookEvent::MeetingEnded], true);
        f.db().await.create_webhook(&elsewhere).await.unwrap();

        let event = f.enqueue(WebhookEvent::MeetingEnded, 0).await.expect("one webhook wants it");
        let hooks: Vec<_> = f.states(&event).await.into_iter().map(|s| s.webhook_id).collect();
        assert_eq!(hooks, [ended]);
        assert_eq!(f.enqueue(WebhookEvent::ParticipantLeft, 0).await, None, "nobody subscribed");
        assert_eq!(f.db().await.webhook_events(&f.app).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_claim_leases_the_delivery_and_an_outcome_settles_it() {
    for f in fixtures().await {
        let a = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let b = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let event = f.enqueue(WebhookEvent::MeetingEnded, 1_000).await.unwrap();

        assert_eq!(f.claim(999, 0).await, [], "not due yet");
        assert_eq!(f.claim(1_000, 0).await, [(event.clone(), a.clone(), 0), (event.clone(), b.clone(), 0)]);
        assert_eq!(f.claim(1_500, 0).await, [], "leased until 2000");
        assert_eq!(f.next_due(1_500, 0).await, Some(2_000));

        f.db().await.webhook_delivered(&event, &a, "t1").await.unwrap();
        f.db().await.webhook_attempt_failed(&event, &b, "HTTP 500", Some(2_100), "t1").await.unwrap();
        let states = f.states(&event).await;
        assert!(states[0].delivered && states[0].attempts == 1 && states[0].last_error.is_none());
        assert_eq!((states[1].attempts, states[1].last_error.as_deref()), (1, Some("HTTP 500")));
        assert_eq!(f.claim(2_099, 0).await, []);
        assert_eq!(f.claim(2_100, 0).await, [(event.clone(), b.clone(), 1)], "the retry carries the same event id");

        f.db().await.webhook_attempt_failed(&event, &b, "HTTP 500", None, "t2").await.unwrap();
        let states = f.states(&event).await;
        assert!(states[1].abandoned && !states[1].delivered && states[1].attempts == 2);
        assert_eq!(f.claim(i64::MAX / 2, 0).await, [], "given up");
        assert_eq!(f.next_due(i64::MAX / 2, 0).await, None);
    }
}

#[tokio::test]
async fn the_first_delay_holds_only_first_attempts_and_is_not_stored() {
    for f in fixtures().await {
        let hook = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let event = f.enqueue(WebhookEvent::MeetingEnded, 1_000).await.unwrap();
        assert_eq!(f.next_due(0, 60_000).await, Some(61_000));
        assert_eq!(f.claim(60_999, 60_000).await, []);
        // A restart without the delay: due at once.
        assert_eq!(f.claim(1_000, 0).await, [(event.clone(), hook.clone(), 0)]);
        f.db().await.webhook_attempt_failed(&event, &hook, "refused", Some(3_000), "t").await.unwrap();
        assert_eq!(f.claim(3_000, 60_000).await, [(event, hook, 1)], "a retry is not held");
    }
}

#[tokio::test]
async fn disabled_webhooks_are_never_claimed_and_deleted_ones_take_their_deliveries() {
    for f in fixtures().await {
        let hook = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let event = f.enqueue(WebhookEvent::MeetingEnded, 0).await.unwrap();
        let mut db = f.db().await;
        let mut row = db.webhook(&f.app, &hook).await.unwrap().unwrap();
        row.enabled = false;
        db.save_webhook(&row).await.unwrap();
        drop(db);
        assert_eq!(f.claim(10, 0).await, [], "disabled after the event: not called");
        assert_eq!(f.db().await.abandon_disabled_webhook_deliveries("t").await.unwrap(), 1);
        let state = &f.states(&event).await[0];
        assert_eq!((state.abandoned, state.last_error.as_deref()), (true, Some("webhook disabled")));

        let kept = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let second = f.enqueue(WebhookEvent::MeetingEnded, 0).await.unwrap();
        f.db().await.delete_webhook(&f.app, &kept).await.unwrap().expect("deleted despite its deliveries");
        assert_eq!(f.states(&second).await, []);
    }
}

#[tokio::test]
async fn finished_deliveries_are_pruned_with_their_events() {
    for f in fixtures().await {
        let hook = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let old = f.enqueue(WebhookEvent::MeetingEnded, 0).await.unwrap();
        let pending = f.enqueue(WebhookEvent::MeetingEnded, 0).await.unwrap();
        f.db().await.webhook_delivered(&old, &hook, "2026-01-01T00:00:00.000Z").await.unwrap();
        assert_eq!(f.db().await.prune_webhook_outbox("2026-01-02T00:00:00.000Z").await.unwrap(), 1);
        let left: Vec<_> = f.db().await.webhook_events(&f.app).await.unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(left, [pending]);
    }
}

#[tokio::test]
async fn a_session_s_deliveries_go_one_at_a_time_in_order_and_other_sessions_do_not_wait() {
    for f in fixtures().await {
        let hook = f.hook(&[WebhookEvent::ParticipantLeft, WebhookEvent::MeetingEnded], true).await;
        let left = f.enqueue_about("s1", WebhookEvent::ParticipantLeft, 0).await;
        let ended = f.enqueue_about("s1", WebhookEvent::MeetingEnded, 0).await;
        let other = f.enqueue_about("s2", WebhookEvent::MeetingEnded, 0).await;

        let first = f.claim(0, 0).await;
        assert_eq!(first, [(left.clone(), hook.clone(), 0), (other.clone(), hook.clone(), 0)], "s1's end waits");
        f.db().await.webhook_delivered(&other, &hook, "t").await.unwrap();
        f.db().await.webhook_attempt_failed(&left, &hook, "HTTP 500", Some(50), "t").await.unwrap();
        assert_eq!(f.claim(10, 0).await, [], "a retry waiting holds back the rest of its session");
        assert_eq!(f.next_due(10, 0).await, Some(50), "and the next due is the retry, not the end behind it");
        assert_eq!(f.claim(50, 0).await, [(left.clone(), hook.clone(), 1)]);
        f.db().await.webhook_delivered(&left, &hook, "t").await.unwrap();
        assert_eq!(f.claim(60, 0).await, [(ended.clone(), hook.clone(), 0)], "then the end");

        // Given up after its last attempt: what came after it goes.
        let left2 = f.enqueue_about("s3", WebhookEvent::ParticipantLeft, 100).await;
        let ended2 = f.enqueue_about("s3", WebhookEvent::MeetingEnded, 100).await;
        assert_eq!(f.claim(100, 0).await, [(left2.clone(), hook.clone(), 0)]);
        f.db().await.webhook_attempt_failed(&left2, &hook, "HTTP 500", None, "t").await.unwrap();
        assert_eq!(f.claim(100, 0).await, [(ended2, hook, 0)]);
    }
}

#[tokio::test]
async fn each_webhook_has_its_own_line_and_room() {
    for f in fixtures().await {
        let slow = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let fast = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let mut events = Vec::new();
        for i in 0..3 {
            events.push(f.enqueue_about(&format!("s{i}"), WebhookEvent::MeetingEnded, 0).await);
        }
        // `slow` has no room: its deliveries stay pending, `fast` gets all of its own.
        let (due, next) = f.claim_taking(0, 0, |hook| hook == fast).await;
        assert_eq!(due, events.iter().map(|e| (e.clone(), fast.clone(), 0)).collect::<Vec<_>>());
        assert_eq!(next, None, "due but without room is not a time to wake up for");
        assert_eq!(f.claim(1, 0).await.len(), 3, "slow's, once it has room");
        assert!(f.states(&events[0]).await.iter().all(|s| !s.delivered && !s.abandoned));
        let _ = slow;
    }
}

#[tokio::test]
async fn deliveries_pending_too_long_expire() {
    for f in fixtures().await {
        let hook = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let at = |day: u32| format!("2026-01-{day:02}T00:00:00.000Z");
        let enqueue = |day| {
            let (f, hooks) = (&f, [hook.clone()]);
            async move {
                let at = at(day);
                f.db().await.enqueue_webhook_event(&f.app, WebhookEvent::MeetingEnded, b"{}", &hooks, &at, 0).await
            }
        };
        let (old, new) = (enqueue(1).await.unwrap(), enqueue(3).await.unwrap());
        f.db().await.webhook_attempt_failed(&old, &hook, "HTTP 503", Some(0), "t").await.unwrap();
        assert_eq!(f.db().await.expire_webhook_deliveries(&at(2), "t").await.unwrap(), 1);
        let expired = &f.states(&old).await[0];
        assert!(expired.abandoned);
        assert_eq!(
            expired.last_error.as_deref(),
            Some("expired: not delivered before 2026-01-02T00:00:00.000Z: HTTP 503")
        );
        assert_eq!(f.claim(0, 0).await, [(new, hook, 0)], "the newer one is still to be sent");
    }
}

#[tokio::test]
async fn a_claim_reads_the_webhooks_secrets_so_a_retry_after_a_rotation_signs_with_both_until_the_deadline() {
    for f in fixtures().await {
        let hook = f.hook(&[WebhookEvent::MeetingEnded], true).await;
        let row = f.db().await.webhook(&f.app, &hook).await.unwrap().unwrap();
        let event = f.enqueue(WebhookEvent::MeetingEnded, 0).await.unwrap();
        let claim = |now_ms: i64| {
            let f = &f;
            async move { f.db().await.claim_webhook_deliveries(now_ms, 0, now_ms + 10, &mut |_, _| true).await }
        };
        let (first, _) = claim(0).await.unwrap();
        assert_eq!(first[0].signing_secrets(0), vec![row.secret.as_bytes()], "no rotation yet: one secret");
        f.db().await.webhook_attempt_failed(&event, &hook, "HTTP 500", Some(100), "t").await.unwrap();

        let new = WebhookSecret::generate();
        f.db().await.rotate_webhook_secret(&f.app, &hook, &new, 5_000).await.unwrap();
        let (retry, _) = claim(100).await.unwrap();
        assert_eq!(retry[0].event_id, event);
        assert_eq!(retry[0].signing_secrets(4_999), vec![new.as_bytes(), row.secret.as_bytes()], "new first, then old");
        assert_eq!(retry[0].signing_secrets(5_000), vec![new.as_bytes()], "the old one's window has closed");
    }
}

#[tokio::test]
async fn events_enqueued_together_are_delivered_one_by_one_in_the_order_given_to_every_webhook() {
    for f in fixtures().await {
        let a = f.hook(&[WebhookEvent::ParticipantJoined], true).await;
        let b = f.hook(&[WebhookEvent::ParticipantJoined], true).await;
        // More than one chunk (`batched::MAX_ROWS` rows per statement), each naming its place.
        let bodies: Vec<Vec<u8>> = (0..300)
            .map(|i| serde_json::to_vec(&serde_json::json!({ "meeting": { "sessionId": "s" }, "n": i })).unwrap())
            .collect();
        let hooks = [a.clone(), b.clone()];
        let ids = f
            .db()
            .await
            .enqueue_webhook_events(&f.app, WebhookEvent::ParticipantJoined, &bodies, &hooks, "t", 0)
            .await
            .unwrap();
        assert_eq!(ids.len(), 300);
        let stored: Vec<Vec<u8>> =
            f.db().await.webhook_events(&f.app).await.unwrap().into_iter().map(|(_, _, body)| body).collect();
        assert_eq!(stored.len(), 300);
        // One session: each webhook gets one delivery at a time, the earliest pending, so claiming and settling
        // in turn gives each webhook's order.
        let mut order: Vec<(String, String)> = Vec::new();
        for _ in 0..=300 {
            let due = f.claim(0, 0).await;
            if due.is_empty() {
                break;
            }
            assert_eq!(due.len(), 2, "one at a time per webhook: {due:?}");
            for (event, hook, attempts) in due {
                assert_eq!(attempts, 0);
                f.db().await.webhook_delivered(&event, &hook, "t").await.unwrap();
                order.push((hook, event));
            }
        }
        for hook in [&a, &b] {
            let got: Vec<&String> = order.iter().filter(|(h, _)| h == hook).map(|(_, e)| e).collect();
            assert_eq!(got, ids.iter().collect::<Vec<_>>(), "every event once, in the order given");
        }
    }
}
