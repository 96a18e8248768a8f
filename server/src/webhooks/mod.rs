//! Webhooks: signed, durable delivery of meeting events to the URLs an app registered.
//!
//! - the events (`store/lifecycle.rs`): the four meeting events, recorded by the store in the same transaction as
//!   the change they report;
//! - the outbox tables (`store/webhook_outbox.rs`): where they wait, one delivery per subscribed, enabled webhook;
//! - [`delivery`]: the worker that POSTs them, in order within a session, retrying with exponential backoff up to a
//!   bound;
//! - [`endpoints`]: each webhook's own places and circuit breaker, so one failing receiver delays only itself;
//! - [`targets`]: `--webhook-targets public`, which keeps deliveries off loopback, private and link-local addresses;
//! - [`signing`]: `rtk-signature`, RSA-SHA256 over the raw body, with the key kept under `--data`;
//! - [`standard`]: the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`), HMAC with
//!   each webhook's own secret.
//!
//! The hub never waits for a delivery: recording an event is two small inserts inside a transaction it makes anyway,
//! and the worker runs on its own task, reaching the store through [`crate::store::Store::db`].

pub mod delivery;
pub mod endpoints;
pub mod shared_key;
pub mod signing;
pub mod standard;
pub mod targets;

pub use delivery::DeliverySettings;
pub use signing::Signer;
pub use targets::TargetPolicy;

/// Where receivers fetch the public key: `{"success": true, "data": {"publicKey": "-----BEGIN PUBLIC KEY-----..."}}`.
pub const WELL_KNOWN_PATH: &str = "/.well-known/webhooks.json";
