//! What the delivery worker knows about each endpoint (a webhook): how many attempts to it are under way, and its
//! circuit breaker. One slow or failing endpoint so costs only its own places, never another's.
//!
//! The breaker: after `breaker_failures` attempts in a row failed, the endpoint is *paused* for `breaker_pause`; then
//! one attempt (the probe) is let through. A probe that succeeds closes the breaker (all places again); one that
//! fails pauses it again for twice as long as before, up to [`MAX_PAUSE_FACTOR`] times the pause. While paused,
//! nothing is attempted, so no delivery uses up its attempts: they wait, in order, and go when the endpoint answers.
//!
//! Kept in memory: after a restart every endpoint starts closed and a dead one is paused again within
//! `breaker_failures` attempts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A pause that keeps failing stops doubling at this many times `breaker_pause`.
pub const MAX_PAUSE_FACTOR: u32 = 64;

/// The limits, from [`super::DeliverySettings`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Attempts under way at once to one webhook.
    pub concurrency: usize,
    /// Failures in a row that pause the webhook; 0 never pauses.
    pub breaker_failures: u32,
    /// The first pause; it doubles after each failed probe.
    pub breaker_pause: Duration,
}

/// A paused (open) breaker.
#[derive(Debug, Clone)]
struct Pause {
    /// Attempts wait until then; after it one probe goes.
    until: Instant,
    /// How long this pause was (the next failed probe doubles it).
    length: Duration,
    /// The probe under way: its event id.
    probe: Option<String>,
}

#[derive(Debug, Default)]
struct Endpoint {
    in_flight: usize,
    /// Attempts failed in a row.
    failures: u32,
    pause: Option<Pause>,
}

/// The endpoints the worker has attempted, by webhook id. An endpoint back to its resting state (closed, idle) is
/// forgotten, so this holds at most the webhooks with something under way or paused.
#[derive(Debug)]
pub struct Endpoints {
    limits: Limits,
    by_webhook: HashMap<String, Endpoint>,
}

impl Endpoints {
    pub fn new(limits: Limits) -> Self {
        Endpoints { limits, by_webhook: HashMap::new() }
    }

    /// Takes a place for an attempt of `event_id` to `webhook_id` if the endpoint has one now: fewer than
    /// `concurrency` under way and not paused, or, once a pause ran out, as its one probe.
    pub fn take(&mut self, webhook_id: &str, event_id: &str, now: Instant) -> bool {
        let concurrency = self.limits.concurrency.max(1);
        let endpoint = self.by_webhook.entry(webhook_id.to_owned()).or_default();
        let free = match &mut endpoint.pause {
            None => endpoint.in_flight < concurrency,
            Some(pause) if now >= pause.until && pause.probe.is_none() => {
                pause.probe = Some(event_id.to_owned());
                true
            }
            Some(_) => false,
        };
        if free {
            endpoint.in_flight += 1;
        }
        free
    }

    /// Records how an attempt taken with [`Endpoints::take`] ended. Returns what changed, for the log.
    pub fn finished(&mut self, webhook_id: &str, event_id: &str, delivered: bool, now: Instant) -> Change {
        let Some(endpoint) = self.by_webhook.get_mut(webhook_id) else { return Change::None };
        endpoint.in_flight = endpoint.in_flight.saturating_sub(1);
        let change = if delivered {
            endpoint.failures = 0;
            match endpoint.pause.take() {
                Some(_) => Change::Resumed,
                None => Change::None,
            }
        } else {
            endpoint.failures = endpoint.failures.saturating_add(1);
            let limits = self.limits;
            match &mut endpoint.pause {
                None if limits.breaker_failures > 0 && endpoint.failures >= limits.breaker_failures => {
                    let length = limits.breaker_pause;
                    endpoint.pause = Some(Pause { until: now + length, length, probe: None });
                    Change::Paused(length)
                }
                Some(pause) if pause.probe.as_deref() == Some(event_id) => {
                    let longest = limits.breaker_pause.saturating_mul(MAX_PAUSE_FACTOR);
                    pause.length = pause.length.saturating_mul(2).min(longest);
                    pause.until = now + pause.length;
                    pause.probe = None;
                    Change::Paused(pause.length)
                }
                // Below the threshold, or an attempt begun before the pause: nothing more to do.
                _ => Change::None,
            }
        };
        if endpoint.in_flight == 0 && endpoint.failures == 0 && endpoint.pause.is_none() {
            self.by_webhook.remove(webhook_id);
        }
        change
    }

    /// Gives back a place taken for an attempt that was never made (its claim failed): no outcome to count.
    pub fn release(&mut self, webhook_id: &str, event_id: &str) {
        let Some(endpoint) = self.by_webhook.get_mut(webhook_id) else { return };
        endpoint.in_flight = endpoint.in_flight.saturating_sub(1);
        if let Some(pause) = endpoint.pause.as_mut().filter(|p| p.probe.as_deref() == Some(event_id)) {
            pause.probe = None;
        }
        if endpoint.in_flight == 0 && endpoint.failures == 0 && endpoint.pause.is_none() {
            self.by_webhook.remove(webhook_id);
        }
    }

    /// When the next pause runs out, if one is still running: the worker wakes then to let its probe go.
    pub fn next_probe(&self, now: Instant) -> Option<Instant> {
        self.by_webhook
            .values()
            .filter_map(|endpoint| endpoint.pause.as_ref())
            .filter(|pause| pause.probe.is_none() && pause.until > now)
            .map(|pause| pause.until)
            .min()
    }

    /// Whether the webhook is paused now (its breaker open), for tests and diagnostics.
    pub fn is_paused(&self, webhook_id: &str, now: Instant) -> bool {
        self.by_webhook.get(webhook_id).and_then(|e| e.pause.as_ref()).is_some_and(|pause| now < pause.until)
    }
}

/// What an outcome changed about an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// The breaker opened (or a probe failed): nothing is attempted for this long.
    Paused(Duration),
    /// A delivery succeeded while paused: the breaker is closed again.
    Resumed,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_secs(10);

    fn endpoints() -> Endpoints {
        Endpoints::new(Limits { concurrency: 2, breaker_failures: 3, breaker_pause: PAUSE })
    }

    #[test]
    fn each_endpoint_has_its_own_places() {
        let (mut e, now) = (endpoints(), Instant::now());
        assert!(e.take("slow", "1", now) && e.take("slow", "2", now));
        assert!(!e.take("slow", "3", now), "two places per endpoint");
        assert!(e.take("other", "4", now), "another endpoint is not held up");
        assert_eq!(e.finished("slow", "1", true, now), Change::None);
        assert!(e.take("slow", "3", now), "a finished attempt frees its place");
        e.release("slow", "3");
        assert!(e.take("slow", "5", now), "so does one never made");
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_probes_once_and_closes_on_success() {
        let (mut e, t0) = (endpoints(), Instant::now());
        for (i, event) in ["1", "2"].into_iter().enumerate() {
            assert!(e.take("w", event, t0));
            assert_eq!(e.finished("w", event, false, t0), Change::None, "failure {}", i + 1);
        }
        assert!(e.take("w", "ok", t0));
        e.finished("w", "ok", true, t0);
        for event in ["3", "4"] {
            assert!(e.take("w", event, t0));
            e.finished("w", event, false, t0);
        }
        assert!(!e.is_paused("w", t0), "a success in between starts the count again");
        assert!(e.take("w", "5", t0));
        assert_eq!(e.finished("w", "5", false, t0), Change::Paused(PAUSE));
        assert!(e.is_paused("w", t0) && !e.take("w", "6", t0 + PAUSE / 2), "paused");
        assert_eq!(e.next_probe(t0), Some(t0 + PAUSE));

        let t1 = t0 + PAUSE;
        assert!(e.take("w", "6", t1), "the probe");
        assert!(!e.take("w", "7", t1), "only one probe");
        assert_eq!(e.finished("w", "6", false, t1), Change::Paused(PAUSE * 2), "a failed probe doubles the pause");
        assert!(!e.take("w", "6", t1 + PAUSE));
        let t2 = t1 + PAUSE * 2;
        assert!(e.take("w", "6", t2));
        assert_eq!(e.finished("w", "6", true, t2), Change::Resumed);
        assert!(e.take("w", "7", t2) && e.take("w", "8", t2), "closed: every place again");
    }

    #[test]
    fn the_pause_stops_doubling_and_a_late_failure_is_not_the_probe() {
        let (mut e, mut now) = (endpoints(), Instant::now());
        assert!(e.take("w", "1", now) && e.take("w", "2", now));
        e.finished("w", "1", false, now);
        assert!(e.take("w", "3", now));
        e.finished("w", "2", false, now);
        assert!(e.take("w", "9", now));
        assert_eq!(e.finished("w", "3", false, now), Change::Paused(PAUSE));
        assert_eq!(e.finished("w", "9", false, now), Change::None, "begun before the pause");
        for _ in 0..10 {
            now = e.next_probe(now).unwrap();
            assert!(e.take("w", "p", now));
            e.finished("w", "p", false, now);
        }
        assert_eq!(e.next_probe(now), Some(now + PAUSE * MAX_PAUSE_FACTOR));
    }
}
