//! The outbox on its own: who gets a delivery, claiming and leases, retries, giving up, disabled and deleted webhooks.

use super::*;
use crate::store::{Store, WebhookRow};

struct Fixture {
    store: Store,
    app: String,
    meeting: String,
}

fn fixture() -> Fixture {
    let store = Store::open_in_memory().unwrap();
    let app = store.with(|db| db.create_app("acct", "a")).unwrap().id;
    let meeting = store.with(|db| db.create_meeting(&app, None, Default::default())).unwrap().id;
    Fixture { store, app, meeting }
}

impl Fixture {
    fn hook(&self, events: &[WebhookEvent], enabled: bool) -> String {
        let row = WebhookRow::new(&self.app, "h".into(), "http://127.0.0.1:9/h".into(), events.to_vec(), enabled);
        self.store.with(|db| db.create_webhook(&row)).unwrap();
        row.id
    }

    /// Enqueues for the subscribers, as the events module does; None if there are none.
    fn enqueue(&self, event: WebhookEvent, now_ms: i64) -> Option<String> {
        let hooks = self.store.with(|db| db.webhook_subscribers(&self.meeting, event)).unwrap();
        if hooks.is_empty() {
            return None;
        }
        Some(self.store.with(|db| db.enqueue_webhook_event(&self.app, event, b"{}", &hooks, "t", now_ms)).unwrap())
    }

    /// Enqueues an event about `session` (as its body names it) for every subscriber.
    fn enqueue_about(&self, session: &str, event: WebhookEvent, now_ms: i64) -> String {
        let hooks = self.store.with(|db| db.webhook_subscribers(&self.meeting, event)).unwrap();
        let body = serde_json::to_vec(&serde_json::json!({ "meeting": { "sessionId": session } })).unwrap();
        self.store.with(|db| db.enqueue_webhook_event(&self.app, event, &body, &hooks, "t", now_ms)).unwrap()
    }

    fn claim(&self, now_ms: i64, first_delay_ms: i64) -> Vec<(String, String, u32)> {
        self.claim_taking(now_ms, first_delay_ms, |_| true).0
    }

    /// Claims what `take(webhook id)` agrees to; also returns when the next one falls due.
    fn claim_taking(
        &self,
        now_ms: i64,
        first_delay_ms: i64,
        mut take: impl FnMut(&str) -> bool,
    ) -> (Vec<(String, String, u32)>, Option<i64>) {
        let (due, next) = self
            .store
            .with(|db| db.claim_webhook_deliveries(now_ms, first_delay_ms, now_ms + 1000, &mut |hook, _| take(hook)))
            .unwrap();
        (due.into_iter().map(|d| (d.event_id, d.webhook_id, d.attempts)).collect(), next)
    }

    fn next_due(&self, now_ms: i64, first_delay_ms: i64) -> Option<i64> {
        self.claim_taking(now_ms, first_delay_ms, |_| false).1
    }

    fn states(&self, event: &str) -> Vec<DeliveryState> {
        self.store.with(|db| db.webhook_deliveries(event)).unwrap()
    }
}

#[test]
fn only_enabled_webhooks_subscribed_to_the_event_get_a_delivery() {
    let f = fixture();
    let ended = f.hook(&[WebhookEvent::MeetingEnded, WebhookEvent::MeetingStarted], true);
    let _joins = f.hook(&[WebhookEvent::ParticipantJoined], true);
    let _off = f.hook(&[WebhookEvent::MeetingEnded], false);
    let other_app = f.store.with(|db| db.create_app("acct", "b")).unwrap().id;
    let elsewhere = WebhookRow::new(&other_app, "x".into(), "http://x/".into(), vec![WebhookEvent::MeetingEnded], true);
    f.store.with(|db| db.create_webhook(&elsewhere)).unwrap();

    let event = f.enqueue(WebhookEvent::MeetingEnded, 0).expect("one webhook wants it");
    let hooks: Vec<_> = f.states(&event).into_iter().map(|s| s.webhook_id).collect();
    assert_eq!(hooks, [ended]);
    assert_eq!(f.enqueue(WebhookEvent::ParticipantLeft, 0), None, "nobody subscribed");
    assert_eq!(f.store.with(|db| db.webhook_events(&f.app)).unwrap().len(), 1);
}

#[test]
fn a_claim_leases_the_delivery_and_an_outcome_settles_it() {
    let f = fixture();
    let a = f.hook(&[WebhookEvent::MeetingEnded], true);
    let b = f.hook(&[WebhookEvent::MeetingEnded], true);
    let event = f.enqueue(WebhookEvent::MeetingEnded, 1_000).unwrap();

    assert_eq!(f.claim(999, 0), [], "not due yet");
    assert_eq!(f.claim(1_000, 0), [(event.clone(), a.clone(), 0), (event.clone(), b.clone(), 0)]);
    assert_eq!(f.claim(1_500, 0), [], "leased until 2000");
    assert_eq!(f.next_due(1_500, 0), Some(2_000));

    f.store.with(|db| db.webhook_delivered(&event, &a, "t1")).unwrap();
    f.store.with(|db| db.webhook_attempt_failed(&event, &b, "HTTP 500", Some(2_100), "t1")).unwrap();
    let states = f.states(&event);
    assert!(states[0].delivered && states[0].attempts == 1 && states[0].last_error.is_none());
    assert_eq!((states[1].attempts, states[1].last_error.as_deref()), (1, Some("HTTP 500")));
    assert_eq!(f.claim(2_099, 0), []);
    assert_eq!(f.claim(2_100, 0), [(event.clone(), b.clone(), 1)], "the retry carries the same event id");

    f.store.with(|db| db.webhook_attempt_failed(&event, &b, "HTTP 500", None, "t2")).unwrap();
    let states = f.states(&event);
    assert!(states[1].abandoned && !states[1].delivered && states[1].attempts == 2);
    assert_eq!(f.claim(i64::MAX / 2, 0), [], "given up");
    assert_eq!(f.next_due(i64::MAX / 2, 0), None);
}

#[test]
fn the_first_delay_holds_only_first_attempts_and_is_not_stored() {
    let f = fixture();
    let hook = f.hook(&[WebhookEvent::MeetingEnded], true);
    let event = f.enqueue(WebhookEvent::MeetingEnded, 1_000).unwrap();
    assert_eq!(f.next_due(0, 60_000), Some(61_000));
    assert_eq!(f.claim(60_999, 60_000), []);
    // A restart without the delay: due at once.
    assert_eq!(f.claim(1_000, 0), [(event.clone(), hook.clone(), 0)]);
    f.store.with(|db| db.webhook_attempt_failed(&event, &hook, "refused", Some(3_000), "t")).unwrap();
    assert_eq!(f.claim(3_000, 60_000), [(event, hook, 1)], "a retry is not held");
}

#[test]
fn disabled_webhooks_are_never_claimed_and_deleted_ones_take_their_deliveries() {
    let f = fixture();
    let hook = f.hook(&[WebhookEvent::MeetingEnded], true);
    let event = f.enqueue(WebhookEvent::MeetingEnded, 0).unwrap();
    f.store
        .with(|db| {
            let mut row = db.webhook(&f.app, &hook)?.unwrap();
            row.enabled = false;
            db.save_webhook(&row)
        })
        .unwrap();
    assert_eq!(f.claim(10, 0), [], "disabled after the event: not called");
    assert_eq!(f.store.with(|db| db.abandon_disabled_webhook_deliveries("t")).unwrap(), 1);
    let state = &f.states(&event)[0];
    assert_eq!((state.abandoned, state.last_error.as_deref()), (true, Some("webhook disabled")));

    let kept = f.hook(&[WebhookEvent::MeetingEnded], true);
    let second = f.enqueue(WebhookEvent::MeetingEnded, 0).unwrap();
    f.store.with(|db| db.delete_webhook(&f.app, &kept)).unwrap().expect("deleted despite its deliveries");
    assert_eq!(f.states(&second), []);
}

#[test]
fn finished_deliveries_are_pruned_with_their_events() {
    let f = fixture();
    let hook = f.hook(&[WebhookEvent::MeetingEnded], true);
    let old = f.enqueue(WebhookEvent::MeetingEnded, 0).unwrap();
    let pending = f.enqueue(WebhookEvent::MeetingEnded, 0).unwrap();
    f.store.with(|db| db.webhook_delivered(&old, &hook, "2026-01-01T00:00:00.000Z")).unwrap();
    assert_eq!(f.store.with(|db| db.prune_webhook_outbox("2026-01-02T00:00:00.000Z")).unwrap(), 1);
    let left: Vec<_> = f.store.with(|db| db.webhook_events(&f.app)).unwrap().into_iter().map(|e| e.0).collect();
    assert_eq!(left, [pending]);
}

#[test]
fn a_session_s_deliveries_go_one_at_a_time_in_order_and_other_sessions_do_not_wait() {
    let f = fixture();
    let hook = f.hook(&[WebhookEvent::ParticipantLeft, WebhookEvent::MeetingEnded], true);
    let left = f.enqueue_about("s1", WebhookEvent::ParticipantLeft, 0);
    let ended = f.enqueue_about("s1", WebhookEvent::MeetingEnded, 0);
    let other = f.enqueue_about("s2", WebhookEvent::MeetingEnded, 0);

    let first = f.claim(0, 0);
    assert_eq!(first, [(left.clone(), hook.clone(), 0), (other.clone(), hook.clone(), 0)], "s1's end waits");
    f.store.with(|db| db.webhook_delivered(&other, &hook, "t")).unwrap();
    f.store.with(|db| db.webhook_attempt_failed(&left, &hook, "HTTP 500", Some(50), "t")).unwrap();
    assert_eq!(f.claim(10, 0), [], "a retry waiting holds back the rest of its session");
    assert_eq!(f.next_due(10, 0), Some(50), "and the next due is the retry, not the end behind it");
    assert_eq!(f.claim(50, 0), [(left.clone(), hook.clone(), 1)]);
    f.store.with(|db| db.webhook_delivered(&left, &hook, "t")).unwrap();
    assert_eq!(f.claim(60, 0), [(ended.clone(), hook.clone(), 0)], "then the end");

    // Given up after its last attempt: what came after it goes.
    let left2 = f.enqueue_about("s3", WebhookEvent::ParticipantLeft, 100);
    let ended2 = f.enqueue_about("s3", WebhookEvent::MeetingEnded, 100);
    assert_eq!(f.claim(100, 0), [(left2.clone(), hook.clone(), 0)]);
    f.store.with(|db| db.webhook_attempt_failed(&left2, &hook, "HTTP 500", None, "t")).unwrap();
    assert_eq!(f.claim(100, 0), [(ended2, hook, 0)]);
}

#[test]
fn each_webhook_has_its_own_line_and_room() {
    let f = fixture();
    let slow = f.hook(&[WebhookEvent::MeetingEnded], true);
    let fast = f.hook(&[WebhookEvent::MeetingEnded], true);
    let events: Vec<_> = (0..3).map(|i| f.enqueue_about(&format!("s{i}"), WebhookEvent::MeetingEnded, 0)).collect();
    // `slow` has no room: its deliveries stay pending, `fast` gets all of its own.
    let (due, next) = f.claim_taking(0, 0, |hook| hook == fast);
    assert_eq!(due, events.iter().map(|e| (e.clone(), fast.clone(), 0)).collect::<Vec<_>>());
    assert_eq!(next, None, "due but without room is not a time to wake up for");
    assert_eq!(f.claim(1, 0).len(), 3, "slow's, once it has room");
    assert!(f.states(&events[0]).iter().all(|s| !s.delivered && !s.abandoned));
    let _ = slow;
}

#[test]
fn deliveries_pending_too_long_expire() {
    let f = fixture();
    let hook = f.hook(&[WebhookEvent::MeetingEnded], true);
    let at = |day: u32| format!("2026-01-{day:02}T00:00:00.000Z");
    let enqueue = |day| {
        let hooks = [hook.clone()];
        f.store.with(|db| db.enqueue_webhook_event(&f.app, WebhookEvent::MeetingEnded, b"{}", &hooks, &at(day), 0))
    };
    let (old, new) = (enqueue(1).unwrap(), enqueue(3).unwrap());
    f.store.with(|db| db.webhook_attempt_failed(&old, &hook, "HTTP 503", Some(0), "t")).unwrap();
    assert_eq!(f.store.with(|db| db.expire_webhook_deliveries(&at(2), "t")).unwrap(), 1);
    let expired = &f.states(&old)[0];
    assert!(expired.abandoned);
    assert_eq!(expired.last_error.as_deref(), Some("expired: not delivered before 2026-01-02T00:00:00.000Z: HTTP 503"));
    assert_eq!(f.claim(0, 0), [(new, hook, 0)], "the newer one is still to be sent");
}

#[test]
fn a_claim_reads_the_webhooks_secrets_so_a_retry_after_a_rotation_signs_with_both_until_the_deadline() {
    let f = fixture();
    let hook = f.hook(&[WebhookEvent::MeetingEnded], true);
    let row = f.store.with(|db| db.webhook(&f.app, &hook)).unwrap().unwrap();
    let event = f.enqueue(WebhookEvent::MeetingEnded, 0).unwrap();
    let claim = |now_ms| f.store.with(|db| db.claim_webhook_deliveries(now_ms, 0, now_ms + 10, &mut |_, _| true));
    let (first, _) = claim(0).unwrap();
    assert_eq!(first[0].signing_secrets(0), vec![row.secret.as_bytes()], "no rotation yet: one secret");
    f.store.with(|db| db.webhook_attempt_failed(&event, &hook, "HTTP 500", Some(100), "t")).unwrap();

    let new = WebhookSecret::generate();
    f.store.with(|db| db.rotate_webhook_secret(&f.app, &hook, &new, 5_000)).unwrap();
    let (retry, _) = claim(100).unwrap();
    assert_eq!(retry[0].event_id, event);
    assert_eq!(retry[0].signing_secrets(4_999), vec![new.as_bytes(), row.secret.as_bytes()], "new first, then old");
    assert_eq!(retry[0].signing_secrets(5_000), vec![new.as_bytes()], "the old one's window has closed");
}
