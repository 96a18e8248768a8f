//! The delivery worker: one tokio task per server that POSTs due outbox entries and records what happened.
//!
//! Each attempt sends the stored body unchanged with `content-type: application/json`, `rtk-signature`, `rtk-uuid`
//! (the event id: the same on every attempt and for every webhook) and `rtk-webhook-id`, and the Standard Webhooks
//! headers ([`super::standard`]): `webhook-id` (= `rtk-uuid`), `webhook-timestamp` (this attempt's send time) and
//! `webhook-signature` (with the webhook's secrets as they are at the attempt). A 2xx answer delivers it;
//! anything else (another status, a refused connection, a timeout) schedules the next attempt after
//! `retry_base * 2^(attempts - 1)` (capped at [`MAX_BACKOFF`]) until `max_attempts` attempts were made.
//!
//! Before each claim the worker writes the `meeting.participantLeft` events that ends left pending
//! ([`Store::write_pending_left_events`]), so an end is not held up by one outbox row per participant.
//!
//! Delivery is at least once: an attempt is claimed with a lease in the store before it is made, so if the process
//! dies mid-attempt the lease runs out and the next run tries again. Receivers deduplicate with `rtk-uuid`.
//!
//! Order and isolation, together:
//! - per session, in order: a webhook gets the events of one session in the order they happened. A later event
//!   waits while an earlier one of the same session is pending, retries and backoff included; once the earlier one
//!   is delivered, or given up after its last attempt, the later ones go (giving up is logged and recorded in the
//!   outbox). Events of other sessions do not wait.
//! - per endpoint, isolated: each webhook has its own places (`endpoint_concurrency` attempts at once) and its own
//!   circuit breaker ([`super::endpoints`]), so a receiver that hangs or fails holds up only its own deliveries;
//!   [`MAX_IN_FLIGHT`] bounds the attempts of all webhooks together. A paused webhook's deliveries wait without
//!   using up attempts; one still pending [`MAX_PENDING`] after its event is given up.

use super::endpoints::{Change, Endpoints, Limits};
use super::targets::{self, PublicResolver, TargetPolicy};
use super::{standard, Signer};
use crate::clock;
use crate::store::{DueDelivery, Store, StoreError};
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::{JoinHandle, JoinSet};

/// The longest wait between two attempts, however many failed.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Attempts under way at once, all webhooks together (each also has its own `endpoint_concurrency`); more due
/// deliveries wait for a free place. Each is one outgoing connection.
pub const MAX_IN_FLIGHT: usize = 128;
/// How long an old webhook secret or signing key stays accepted after a rotation, unless told otherwise: a day, for
/// receivers to take the new one up without missing a delivery.
pub const DEFAULT_ROTATION_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// How long past the request timeout a claimed attempt stays leased (the time to record its outcome).
const LEASE_SLACK: Duration = Duration::from_secs(5);
/// The longest the worker sleeps without looking at the store, as a net under the wake-up bell.
const IDLE_POLL: Duration = Duration::from_secs(30);
/// A delivery still pending this long after its event is given up (e.g. its webhook was paused all that time):
/// what it reports is stale by then, and the outbox stays bounded.
pub const MAX_PENDING: Duration = Duration::from_secs(24 * 3600);
/// How often pending deliveries are checked against [`MAX_PENDING`].
const EXPIRY_CHECK: Duration = Duration::from_secs(60);
/// Finished deliveries are kept this long for diagnostics, then pruned.
const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// How deliveries are retried (`--webhook-*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// The wait after the first failed attempt; it doubles after each further failure.
    pub retry_base: Duration,
    /// Attempts per delivery, the first included; then it is abandoned (and logged).
    pub max_attempts: u32,
    /// Each request's time limit, connecting included.
    pub timeout: Duration,
    /// Extra wait before a first attempt. For tests: it opens a window in which an event is stored but not yet
    /// delivered (e.g. to kill the server there); it holds the writing of an end's pending `participantLeft`
    /// events as well. Applied when reading, so a restart without it delivers at once.
    pub first_delay: Duration,
    /// Attempts under way at once to one webhook (`--webhook-endpoint-concurrency`).
    pub endpoint_concurrency: usize,
    /// Failed attempts in a row that pause a webhook (its circuit breaker opens); 0 never pauses
    /// (`--webhook-breaker-failures`).
    pub breaker_failures: u32,
    /// How long a webhook is first paused; doubled after each failed probe (`--webhook-breaker-pause-ms`).
    pub breaker_pause: Duration,
    /// Where deliveries may go (`--webhook-targets`); checked again after DNS resolution at every attempt.
    pub targets: TargetPolicy,
    /// How long a rotated webhook secret (and a rotated signing key) stays accepted beside the new one
    /// (`--webhook-rotation-window-ms`).
    pub rotation_window: Duration,
}

impl Default for DeliverySettings {
    /// 8 attempts 2 s, 4 s, ... 128 s apart: about four minutes before a delivery is given up; 4 attempts at once
    /// per webhook; a webhook paused for 30 s after 5 failures in a row; any target (the command line makes it
    /// `public` outside `--dev`); old secrets and keys accepted for a day after a rotation.
    fn default() -> Self {
        DeliverySettings {
            retry_base: Duration::from_secs(2),
            max_attempts: 8,
            timeout: Duration::from_secs(10),
            first_delay: Duration::ZERO,
            endpoint_concurrency: 4,
            breaker_failures: 5,
            breaker_pause: Duration::from_secs(30),
            targets: TargetPolicy::Any,
            rotation_window: DEFAULT_ROTATION_WINDOW,
        }
    }
}

impl DeliverySettings {
    /// When to try again after `attempts` failed attempts, or None to give up.
    pub fn retry_after(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        Some(self.retry_base.saturating_mul(factor).min(MAX_BACKOFF))
    }
}

/// Starts the worker. It runs until the handle is aborted (the server's drop does that).
pub fn spawn(store: Store, signer: Arc<Signer>, settings: DeliverySettings) -> anyhow::Result<JoinHandle<()>> {
    // reqwest's rustls needs a process-wide crypto provider; another part of the process may have installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut client = reqwest::Client::builder()
        .timeout(settings.timeout)
        // A redirect would re-send the body somewhere the app never registered.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if settings.targets == TargetPolicy::Public {
        client = client.dns_resolver(PublicResolver);
    }
    let limits = Limits {
        concurrency: settings.endpoint_concurrency,
        breaker_failures: settings.breaker_failures,
        breaker_pause: settings.breaker_pause,
    };
    let worker = Worker {
        bell: store.webhook_bell(),
        store,
        signer,
        settings,
        client: client.build()?,
        endpoints: Arc::new(Mutex::new(Endpoints::new(limits))),
    };
    Ok(tokio::spawn(worker.run()))
}

#[derive(Clone)]
struct Worker {
    store: Store,
    /// The store's [`Store::webhook_bell`]: rung when an event is enqueued.
    bell: Arc<tokio::sync::Notify>,
    signer: Arc<Signer>,
    settings: DeliverySettings,
    client: reqwest::Client,
    /// Places and breakers per webhook. Locked only in short synchronous sections (the claim, an outcome).
    endpoints: Arc<Mutex<Endpoints>>,
}

/// How an attempt ended, for the endpoint's breaker.
struct Outcome {
    webhook_id: String,
    event_id: String,
    delivered: bool,
}

impl Worker {
    async fn run(self) {
        let before = clock::format(time::OffsetDateTime::now_utc() - KEEP_FINISHED);
        let pruned: Result<usize, StoreError> =
            async { self.store.db().await?.prune_webhook_outbox(&before).await }.await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "could not prune the webhook outbox");
        }
        let mut running = JoinSet::new();
        let mut next_expiry_check = Instant::now();
        let first_delay = millis(self.settings.first_delay);
        loop {
            if Instant::now() >= next_expiry_check {
                next_expiry_check = Instant::now() + EXPIRY_CHECK;
                let before = clock::format(time::OffsetDateTime::now_utc() - MAX_PENDING);
                let expired: Result<usize, StoreError> =
                    async { self.store.db().await?.expire_webhook_deliveries(&before, &clock::now()).await }.await;
                match expired {
                    Ok(0) => {}
                    Ok(expired) => tracing::warn!(expired, "webhook deliveries pending for a day given up"),
                    Err(e) => tracing::warn!(error = %e, "could not expire old webhook deliveries"),
                }
            }
            // Registered before looking, so an event enqueued while we look still wakes the wait below.
            let woken = self.bell.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();

            // First the events of ends that recorded them as pending (see `store/lifecycle_left.rs`), so that the
            // claim below finds them; a crash before this is made good by the next start, on any node.
            // One chunk per turn of the loop: the claim below already finds its events, and a large end's next
            // chunk comes at the next turn, at once.
            let pending_due = match self.store.write_pending_left_events(clock::unix_ms(), first_delay).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "could not write the pending participantLeft events; trying again");
                    Some(clock::unix_ms() + 1000)
                }
            };
            let until_pending =
                pending_due.map_or(IDLE_POLL, |ms| Duration::from_millis((ms - clock::unix_ms()).max(0) as u64));
            let wait = match self.claim(MAX_IN_FLIGHT - running.len()).await {
                Ok((due, next)) => {
                    for delivery in due {
                        running.spawn(self.clone().attempt(delivery));
                    }
                    let until_next =
                        next.map_or(IDLE_POLL, |ms| Duration::from_millis((ms - clock::unix_ms()).max(0) as u64));
                    let now = Instant::now();
                    let until_probe = self.endpoints().next_probe(now).map_or(IDLE_POLL, |at| at - now);
                    // With every place taken, the next thing to wait for is a finished attempt.
                    if running.len() >= MAX_IN_FLIGHT {
                        until_pending.min(IDLE_POLL)
                    } else {
                        until_next.min(until_probe).min(until_pending).min(IDLE_POLL)
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "webhook outbox unreadable; trying again in a second");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep(wait) => {}
                Some(finished) = running.join_next(), if !running.is_empty() => {
                    match finished {
                        Ok(outcome) => self.settle(outcome),
                        // An attempt does not panic; if one did, its place stays taken rather than guessed free.
                        Err(e) => tracing::error!(error = %e, "a webhook attempt panicked"),
                    }
                }
            }
        }
    }

    fn endpoints(&self) -> std::sync::MutexGuard<'_, Endpoints> {
        self.endpoints.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Frees the attempt's place and feeds its outcome to the endpoint's breaker.
    fn settle(&self, outcome: Outcome) {
        let change =
            self.endpoints().finished(&outcome.webhook_id, &outcome.event_id, outcome.delivered, Instant::now());
        match change {
            Change::None => {}
            Change::Paused(pause) => tracing::warn!(
                webhook_id = %outcome.webhook_id, pause_ms = pause.as_millis() as u64,
                "webhook endpoint keeps failing; paused (its deliveries wait, in order, without using up attempts)"
            ),
            Change::Resumed => {
                tracing::info!(webhook_id = %outcome.webhook_id, "webhook endpoint answers again; resumed")
            }
        }
    }

    /// Up to `room` deliveries that may be attempted now (in session order, within each webhook's places), claimed;
    /// and when the next one not claimed falls due.
    async fn claim(&self, room: usize) -> Result<(Vec<DueDelivery>, Option<i64>), StoreError> {
        let first_delay = millis(self.settings.first_delay);
        let lease = millis(self.settings.timeout + LEASE_SLACK);
        let endpoints = &self.endpoints;
        let mut db = self.store.db().await?;
        db.abandon_disabled_webhook_deliveries(&clock::now()).await?;
        let (now_ms, now) = (clock::unix_ms(), Instant::now());
        let mut room = room;
        let mut taken = Vec::new();
        // The endpoints' lock is taken per candidate, never across the claim's awaits.
        let mut take = |webhook_id: &str, event_id: &str| {
            let mut endpoints = endpoints.lock().unwrap_or_else(PoisonError::into_inner);
            let took = room > 0 && endpoints.take(webhook_id, event_id, now);
            if took {
                room -= 1;
                taken.push((webhook_id.to_owned(), event_id.to_owned()));
            }
            took
        };
        let claimed = db.claim_webhook_deliveries(now_ms, first_delay, now_ms + lease, &mut take).await;
        if claimed.is_err() {
            // Nothing of this claim will be attempted: give its places back.
            let mut endpoints = endpoints.lock().unwrap_or_else(PoisonError::into_inner);
            for (webhook_id, event_id) in &taken {
                endpoints.release(webhook_id, event_id);
            }
        }
        claimed
    }

    /// One POST, and its outcome recorded.
    async fn attempt(self, delivery: DueDelivery) -> Outcome {
        let outcome = self.post(&delivery).await;
        let delivered = outcome.is_ok();
        let attempts = delivery.attempts + 1;
        let (event_id, webhook_id) = (delivery.event_id.clone(), delivery.webhook_id.clone());
        let recorded = match outcome {
            Ok(()) => match self.store.db().await {
                Ok(mut db) => db.webhook_delivered(&event_id, &webhook_id, &clock::now()).await,
                Err(e) => Err(e),
            },
            Err(error) => {
                let retry = self.settings.retry_after(attempts);
                match retry {
                    Some(wait) => tracing::info!(
                        event_id = %delivery.event_id, webhook_id = %delivery.webhook_id, attempts, %error,
                        retry_in_ms = wait.as_millis() as u64, "webhook delivery failed; will retry"
                    ),
                    None => tracing::warn!(
                        event_id = %delivery.event_id, webhook_id = %delivery.webhook_id, event = %delivery.event,
                        attempts, %error,
                        "webhook delivery failed; giving up (later events of its session go on)"
                    ),
                }
                let retry_at = retry.map(|wait| clock::unix_ms() + millis(wait));
                match self.store.db().await {
                    Ok(mut db) => {
                        db.webhook_attempt_failed(&event_id, &webhook_id, &error, retry_at, &clock::now()).await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the attempt is made again: at least once, never lost.
            tracing::error!(event_id = %delivery.event_id, error = %e, "could not record a webhook attempt");
        }
        Outcome { webhook_id: delivery.webhook_id, event_id: delivery.event_id, delivered }
    }

    async fn post(&self, delivery: &DueDelivery) -> Result<(), String> {
        // Signing is a few milliseconds of CPU: off the async threads, which also carry the hub.
        let (signer, body) = (self.signer.clone(), delivery.body.clone());
        let signature = tokio::task::spawn_blocking(move || signer.sign(&body)).await.map_err(|e| e.to_string())?;
        if self.settings.targets == TargetPolicy::Public {
            // An address in the URL is connected to without resolution, so it is checked here; names are checked
            // by the client's resolver, after resolution.
            let url = reqwest::Url::parse(&delivery.url).map_err(|e| format!("invalid URL: {e}"))?;
            targets::check_address(&url).map_err(|why| format!("refused: the URL {why}"))?;
        }
        // Standard Webhooks: signed now, with the secrets the webhook has now, so each attempt (a retry after a
        // rotation too) carries its own send time and verifies with the current secret set.
        let now_ms = clock::unix_ms();
        let timestamp = now_ms.div_euclid(1000);
        let standard_signature =
            standard::signature_header(delivery.signing_secrets(now_ms), &delivery.event_id, timestamp, &delivery.body);
        let response = self
            .client
            .post(&delivery.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("endsession-server/", env!("CARGO_PKG_VERSION")))
            .header("rtk-signature", signature)
            .header("rtk-uuid", &delivery.event_id)
            .header("rtk-webhook-id", &delivery.webhook_id)
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", standard_signature)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| with_causes(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

/// The error and its causes, e.g. `error sending request for url (…): … invalid peer certificate: UnknownIssuer`:
/// reqwest's own message names only the URL.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_bound() {
        let settings =
            DeliverySettings { retry_base: Duration::from_millis(100), max_attempts: 4, ..Default::default() };
        let waits: Vec<_> = (1..=4).map(|n| settings.retry_after(n)).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(waits, [ms(100), ms(200), ms(400), None]);
        let long = DeliverySettings { retry_base: Duration::from_secs(60), max_attempts: 100, ..Default::default() };
        assert_eq!(long.retry_after(40), Some(MAX_BACKOFF), "capped, and no overflow");
    }
}
