//! Webhooks: signed, durable delivery of meeting events to the URLs an app registered.
pub mod signing;
