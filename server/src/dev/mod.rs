//! `--dev`: a ready-made account, token, app, presets and meeting for the demo page, and what `/dev/config.json` (in
//! [`crate::rest::dev`]) hands to it. Seeding is idempotent: a second start finds and reuses what the first one made.
//!
//! It also registers the demo app's webhook to the server's own sink (`POST /dev/webhook-sink`, in
//! [`crate::rest::dev_sink`]), which verifies every delivery as an app's receiver would and lists it for the demo
//! page. The webhook's Standard Webhooks secret lives with it in the store, where the rest of the seed lives, so it
//! survives restarts; the sink reads it there (current and, after a rotate-secret, the previous one in its window).

pub mod sink;

use crate::api_token::Scope;
use crate::presets;
use crate::store::{Result, Store, WebhookEvent, WebhookRow};
use sink::Deliveries;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

pub const DEV_ACCOUNT: &str = "dev-account";
pub const DEV_SECRET: &str = "dev-secret";
pub const DEV_APP: &str = "Demo app";
pub const DEV_MEETING: &str = "Demo meeting";
/// The name of the demo app's webhook to the dev sink.
pub const DEV_SINK: &str = "Demo sink";
/// Where the sink listens on this server.
pub const SINK_PATH: &str = "/dev/webhook-sink";
/// The events the sink hears: every meeting event this server sends.
const SINK_EVENTS: [WebhookEvent; 4] = [
    WebhookEvent::MeetingStarted,
    WebhookEvent::MeetingEnded,
    WebhookEvent::ParticipantJoined,
    WebhookEvent::ParticipantLeft,
];

/// What `--dev` seeded.
#[derive(Debug)]
pub struct DevSeed {
    pub account_id: String,
    pub app_id: String,
    pub meeting_id: String,
    /// The bearer secret of the seeded `Realtime Admin` token.
    pub api_token: String,
    /// One line per seeded thing, for the binary to print.
    pub lines: Vec<String>,
    /// `http://ADDR` once the server is bound; the fallback `baseURI` when a request has no Host header.
    pub base_uri: OnceLock<String>,
    /// The demo app's webhook to the dev sink (its id), and what the sink received; None when the sink is off
    /// (`--webhook-targets public`, see [`seed`]).
    pub sink: Option<DevSink>,
}

/// The dev sink: the webhook that points at it, and the deliveries it received.
#[derive(Debug)]
pub struct DevSink {
    pub webhook_id: String,
    pub deliveries: Deliveries,
}

/// Seeds (or finds) the demo objects. `sink`: register (or re-enable) the demo app's webhook to the dev sink;
/// without it an existing one is disabled. Its URL is set once the server is bound ([`point_sink`]).
///
/// The sink is off under `--webhook-targets public`: that policy refuses loopback targets at every delivery, and the
/// sink is on this server's own (usually loopback) address. Rather than carve an exception into the SSRF guard, the
/// demo simply does without deliveries there; `--dev` alone allows any target.
pub async fn seed(store: &Store, sink: bool) -> Result<DevSeed> {
    // One write transaction: several nodes starting at once on one store seed one set of demo objects.
    let mut db = store.begin().await?;
    {
        let mut lines = Vec::new();
        let said = |created: bool| if created { "created" } else { "exists" };

        let created = db.ensure_account(DEV_ACCOUNT).await?;
        lines.push(format!("dev: account {DEV_ACCOUNT} ({})", said(created)));
        let created = db.ensure_api_token(DEV_ACCOUNT, DEV_SECRET, Scope::Admin).await?;
        lines.push(format!("dev: api token {DEV_ACCOUNT}:{DEV_SECRET}:{} ({})", Scope::Admin, said(created)));

        let (app, created) = match db.app_by_name(DEV_ACCOUNT, DEV_APP).await? {
            Some(app) => (app, false),
            None => (db.create_app(DEV_ACCOUNT, DEV_APP).await?, true),
        };
        lines.push(format!("dev: app {} \"{DEV_APP}\" ({})", app.id, said(created)));
        for (name, _) in presets::DEFAULTS {
            if let Some(preset) = db.preset(&app.id, name).await? {
                let kick = preset.permissions().kick_participant;
                lines.push(format!("dev: preset {name} kick_participant={kick} ({})", said(created)));
            }
        }

        let (meeting, created) = match db.meeting_by_title(&app.id, DEV_MEETING).await? {
            Some(meeting) => (meeting, false),
            None => (db.create_meeting(&app.id, Some(DEV_MEETING), Default::default()).await?, true),
        };
        lines.push(format!("dev: meeting {} \"{DEV_MEETING}\" ({})", meeting.id, said(created)));

        let existing = db.webhooks(&app.id).await?.into_iter().find(|hook| hook.name == DEV_SINK);
        let sink = match (existing, sink) {
            (Some(hook), true) => {
                if !hook.enabled || hook.events != SINK_EVENTS {
                    db.save_webhook(&WebhookRow { enabled: true, events: SINK_EVENTS.to_vec(), ..hook.clone() })
                        .await?;
                }
                lines.push(format!("dev: webhook {} \"{DEV_SINK}\" -> {SINK_PATH} (exists)", hook.id));
                Some(hook.id)
            }
            (None, true) => {
                // A placeholder URL until the server is bound and knows its port (`point_sink`).
                let url = format!("http://127.0.0.1{SINK_PATH}");
                let hook = WebhookRow::new(&app.id, DEV_SINK.into(), url, SINK_EVENTS.to_vec(), true);
                db.create_webhook(&hook).await?;
                lines.push(format!("dev: webhook {} \"{DEV_SINK}\" -> {SINK_PATH} (created)", hook.id));
                Some(hook.id)
            }
            (existing, false) => {
                if let Some(hook) = existing.filter(|hook| hook.enabled) {
                    db.save_webhook(&WebhookRow { enabled: false, ..hook }).await?;
                }
                lines.push("dev: webhook sink off (--webhook-targets public refuses this server's own address)".into());
                None
            }
        };

        db.commit().await?;
        Ok(DevSeed {
            account_id: DEV_ACCOUNT.into(),
            app_id: app.id,
            meeting_id: meeting.id,
            api_token: DEV_SECRET.into(),
            lines,
            base_uri: OnceLock::new(),
            sink: sink.map(|webhook_id| DevSink { webhook_id, deliveries: Deliveries::default() }),
        })
    }
}

/// Points the sink's webhook at this server's own address once it is bound: `http://ADDR/dev/webhook-sink`, with an
/// unspecified listen address (`0.0.0.0`, `::`) reached through loopback. A port that changed since the last start
/// (deliveries still waiting included: the URL is read at each attempt) goes to the new one.
pub async fn point_sink(store: &Store, seed: &DevSeed, addr: SocketAddr) -> Result<()> {
    let Some(sink) = &seed.sink else { return Ok(()) };
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}{SINK_PATH}", SocketAddr::new(ip, addr.port()));
    let mut db = store.db().await?;
    if let Some(hook) = db.webhook(&seed.app_id, &sink.webhook_id).await?.filter(|hook| hook.url != url) {
        db.save_webhook(&WebhookRow { url, ..hook }).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seeding_twice_reuses_everything() {
        let store = Store::open_in_memory().await.unwrap();
        let first = seed(&store, true).await.unwrap();
        assert!(first.lines.iter().all(|line| line.ends_with("(created)")), "{:?}", first.lines);
        let second = seed(&store, true).await.unwrap();
        assert!(second.lines.iter().all(|line| line.ends_with("(exists)")), "{:?}", second.lines);
        assert_eq!((&first.app_id, &first.meeting_id), (&second.app_id, &second.meeting_id));
        assert_eq!(first.lines.len(), 7);
        let sink = |seed: &DevSeed| seed.sink.as_ref().unwrap().webhook_id.clone();
        assert_eq!(sink(&first), sink(&second), "one sink webhook, kept with its secret");
        let hooks = store.db().await.unwrap().webhooks(&first.app_id).await.unwrap();
        assert_eq!(hooks.len(), 1);

        point_sink(&store, &second, "0.0.0.0:8787".parse().unwrap()).await.unwrap();
        let hook = store.db().await.unwrap().webhook(&first.app_id, &sink(&first)).await.unwrap().unwrap();
        assert_eq!(hook.url, "http://127.0.0.1:8787/dev/webhook-sink");

        let off = seed(&store, false).await.unwrap();
        assert!(off.sink.is_none());
        let hook = store.db().await.unwrap().webhook(&first.app_id, &sink(&first)).await.unwrap().unwrap();
        assert!(!hook.enabled, "a sink the policy refuses is disabled, not left failing");
        let on = seed(&store, true).await.unwrap();
        let again = store.db().await.unwrap().webhook(&first.app_id, &sink(&on)).await.unwrap().unwrap();
        assert!(again.enabled && again.secret == hook.secret, "re-enabled with the same secret");
        let token = store.db().await.unwrap().api_token(DEV_SECRET).await.unwrap().unwrap();
        assert_eq!((token.account_id.as_str(), token.scope), (DEV_ACCOUNT, Scope::Admin));
    }
}
