//! Command line and environment: everything the server needs to know before it binds.

/// The token vocabulary lives in [`crate::api_token`]; named here too, where `--api-token` is read, for callers that
/// build a [`Config`] (the load generator's tests among them).
pub use crate::api_token::{ApiToken, Scope};
use crate::webhooks::{DeliverySettings, TargetPolicy};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `endsession-server --listen 127.0.0.1:8787 --data ./data --api-token ACCOUNT:SECRET:SCOPE`
#[derive(Debug, Parser)]
#[command(
    name = "endsession-server",
    version,
    about = "RealtimeKit-shaped meeting server that can end a session for all"
)]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Directory of the SQLite store (`endsession.sqlite3`) and the webhook signing key, created if missing; unused by
    /// the store with `--database`.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,

    /// API token `ACCOUNT:SECRET:SCOPE`, SCOPE one of `Realtime Admin`, `Realtime`, `Realtime Read`. Repeatable; the
    /// comma-separated ENDSESSION_API_TOKENS adds more.
    #[arg(long = "api-token", value_name = "ACCOUNT:SECRET:SCOPE")]
    pub api_tokens: Vec<ApiToken>,

    /// Static files served at `/` (the demo page), if the directory exists.
    #[arg(long, default_value = "www")]
    pub www: PathBuf,

    /// The built npm package served at `/pkg/`, if the directory exists.
    #[arg(long, default_value = "dist")]
    pub pkg: PathBuf,

    /// How long a participant whose socket dropped stays in the session, waiting to resume.
    /// The default covers the client's whole default retry window (backoff 250 ms doubling to 5 s, 6 attempts:
    /// 12.75 s of waits plus each attempt's connect) with more than twice that as margin.
    #[arg(long = "reconnect-grace-ms", default_value_t = 30_000)]
    pub reconnect_grace_ms: u64,

    /// Seed a demo account, token, app, presets and meeting; serve /dev/config.json; allow any origin (CORS).
    #[arg(long)]
    pub dev: bool,

    /// Wait before the second attempt of a failed webhook delivery; it doubles after each further failure.
    #[arg(long = "webhook-retry-base-ms", default_value_t = 2_000)]
    pub webhook_retry_base_ms: u64,

    /// Attempts per webhook delivery, the first included, before it is given up.
    #[arg(long = "webhook-max-attempts", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_attempts: u32,

    /// Time limit of one webhook request.
    #[arg(long = "webhook-timeout-ms", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,

    /// For tests: hold every first webhook attempt this long after its event, and the writing of an end's
    /// `meeting.participantLeft` events (store/lifecycle_left.rs) this long after the end, so a test can act (e.g.
    /// kill the server) between an event and its delivery. Not stored: a restart without it delivers at once.
    #[arg(long = "webhook-delay-ms", default_value_t = 0)]
    pub webhook_delay_ms: u64,

    /// Most open connections (HTTP and WebSocket together); further ones wait in the listen backlog. Lowered at start
    /// to what the process's open-file limit allows.
    #[arg(long = "max-connections", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Deadline for a request's headers, from the connection's opening or the end of its previous response: closes
    /// a connection that sends nothing, a request whose headers never finish, and an idle keep-alive connection.
    #[arg(long = "header-timeout-ms", default_value_t = 10_000)]
    pub header_timeout_ms: u64,

    /// Deadline for a whole request once its headers are in (body included): answered with 408 and closed.
    #[arg(long = "request-timeout-ms", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// Deadline from the WebSocket upgrade to the `join` frame.
    #[arg(long = "join-timeout-ms", default_value_t = 10_000)]
    pub join_timeout_ms: u64,

    /// How often the server pings each joined WebSocket (a WebSocket Ping and a `ping` frame).
    #[arg(long = "heartbeat-interval-ms", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_interval_ms: u64,

    /// A joined WebSocket from which nothing (no frame, no Pong) arrived for this long is treated as dropped.
    #[arg(long = "heartbeat-timeout-ms", default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_timeout_ms: u64,

    /// Deadline of every write, HTTP response or WebSocket frame: a connection whose client takes no data for this
    /// long is closed (a WebSocket as dropped).
    #[arg(long = "write-timeout-ms", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_ms: u64,

    /// Frames queued for one WebSocket; a connection that falls this far behind is closed (it resumes and catches up).
    #[arg(long = "outbox-frames", default_value_t = 4_096, value_parser = clap::value_parser!(u32).range(1..))]
    pub outbox_frames: u32,

    /// Open WebSockets per participant; a further one is refused with `TooManyConnections` (4290) and close 1008.
    #[arg(long = "max-sockets-per-participant", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sockets_per_participant: u32,
    /// Webhook attempts under way at once to one webhook; others of it wait (other webhooks are not held up).
    #[arg(
        long = "webhook-endpoint-concurrency",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..=64)
    )]
    pub webhook_endpoint_concurrency: u32,

    /// Failed attempts in a row after which a webhook is paused (its circuit breaker opens); 0 never pauses.
    #[arg(long = "webhook-breaker-failures", default_value_t = 5)]
    pub webhook_breaker_failures: u32,

    /// How long a paused webhook waits before one probe attempt; doubles after each failed probe (up to 64 times).
    #[arg(long = "webhook-breaker-pause-ms", default_value_t = 30_000)]
    pub webhook_breaker_pause_ms: u64,

    /// Where webhooks may be sent: `public` refuses loopback, private, link-local and other non-public addresses
    /// (when a webhook is saved, and after DNS resolution at every delivery); `any` allows them. Default: `public`,
    /// or `any` with --dev.
    #[arg(long = "webhook-targets", value_enum)]
    pub webhook_targets: Option<TargetPolicy>,
    /// Lifetime of a participant token, from its issue (add participant, edit, refresh) to the last `join` or
    /// reconnect it allows. Default one day, like RealtimeKit's.
    #[arg(
        long = "participant-token-ttl-secs",
        default_value_t = crate::token::DEFAULT_TTL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub participant_token_ttl_secs: u64,

    /// After a webhook secret is rotated (`POST .../webhooks/{id}/rotate-secret`) or the signing key is
    /// (`--rotate-webhook-signing-key`), how long the old one stays accepted beside the new one: deliveries carry
    /// `webhook-signature`s with both secrets, and `/.well-known/webhooks.json` lists both keys.
    #[arg(long = "webhook-rotation-window-ms", default_value_t = crate::webhooks::delivery::DEFAULT_ROTATION_WINDOW.as_millis() as u64)]
    pub webhook_rotation_window_ms: u64,

    /// Rotate the webhook signing key under `--data` and exit, printing the new public key: the server running on
    /// that directory announces it (lists it in `/.well-known/webhooks.json` beside the current one) within 2 s, and
    /// it signs from `--webhook-rotation-window-ms` after now. Refused while an earlier rotation's switch is still to
    /// come. With `--database`, the key the nodes keep in that database, announced by every node.
    #[arg(long = "rotate-webhook-signing-key")]
    pub rotate_webhook_signing_key: bool,

    /// Keep live sessions in Redis (`redis://HOST:PORT[/DB]`, or `rediss://…` over TLS) instead of this process's
    /// memory, so that several nodes on one store serve one meeting together (README, "Several nodes"). Unset: one
    /// node, in memory.
    #[arg(long, env = "ENDSESSION_REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,

    /// Keep the store (apps, presets, meetings, participants, sessions, attendance, webhooks and their outbox, the
    /// token and webhook signing secrets) in PostgreSQL (`postgres://USER[:PASSWORD]@HOST:PORT/DB`) instead of the
    /// SQLite file under `--data`, so that nodes on several hosts share it (README, "Several nodes"). The schema is
    /// created on first start. Unset: SQLite under `--data`.
    #[arg(long, env = "ENDSESSION_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,

    /// With a `rediss://` `--redis`: the PEM file of the certificate authority that signed the Redis server's
    /// certificate (a private CA). Unset: the system's trusted roots. (Postgres takes its CA in the URL:
    /// `?sslmode=verify-full&sslrootcert=PATH`.)
    #[arg(long = "redis-ca-file", env = "ENDSESSION_REDIS_CA_FILE", value_name = "PATH")]
    pub redis_ca_file: Option<PathBuf>,
}

/// Everything [`crate::start`] needs. Built from [`Cli`] by the binary, or directly by tests.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub api_tokens: Vec<ApiToken>,
    pub www: Option<PathBuf>,
    pub pkg: Option<PathBuf>,
    pub reconnect_grace: Duration,
    pub dev: bool,
    pub webhooks: DeliverySettings,
    /// Deadlines and caps of connections.
    pub limits: Limits,
    /// How long a participant token joins after its issue (see [`crate::token`]).
    pub participant_token_ttl: Duration,
    /// `--rotate-webhook-signing-key`: the binary rotates the key and exits instead of serving.
    pub rotate_webhook_signing_key: bool,
    /// `--redis`: live sessions in Redis ([`crate::hub::RedisHub`]); None keeps them in memory.
    pub redis: Option<String>,
    /// `--database`: the store in PostgreSQL (a `postgres://` URL); None keeps it in SQLite under `data`.
    pub database: Option<String>,
    /// `--redis-ca-file`: the CA that signed a `rediss://` Redis server's certificate; None: the system's roots.
    pub redis_ca_file: Option<PathBuf>,
}

impl Config {
    /// A server on a free port of 127.0.0.1 with no static files: what tests start.
    pub fn local(data: impl Into<PathBuf>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: data.into(),
            api_tokens: Vec::new(),
            www: None,
            pkg: None,
            reconnect_grace: Duration::from_secs(10),
            dev: false,
            webhooks: DeliverySettings::default(),
            limits: Limits::default(),
            participant_token_ttl: crate::token::DEFAULT_TTL,
            rotate_webhook_signing_key: false,
            redis: None,
            database: None,
            redis_ca_file: None,
        }
    }
}

impl Cli {
    /// Adds the tokens of `ENDSESSION_API_TOKENS` (its value is passed in, so this stays testable) and drops static
    /// directories that do not exist.
    pub fn into_config(self, env_tokens: Option<&str>) -> Result<Config, String> {
        if self.heartbeat_timeout_ms <= self.heartbeat_interval_ms {
            return Err(format!(
                "--heartbeat-timeout-ms ({}) must be longer than --heartbeat-interval-ms ({}): a client that only \
                 answers pings is heard from once per interval",
                self.heartbeat_timeout_ms, self.heartbeat_interval_ms
            ));
        }
        if let Some(url) = &self.database {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(format!(
                    "--database (ENDSESSION_DATABASE_URL) takes a PostgreSQL URL, postgres://USER@HOST:PORT/DB; got \
                     `{}`. Leave it out to keep the store in SQLite under --data",
                    url.split('@').next_back().unwrap_or_default()
                ));
            }
        }
        let mut api_tokens = self.api_tokens;
        for item in env_tokens.unwrap_or_default().split(',').filter(|item| !item.trim().is_empty()) {
            api_tokens.push(item.parse().map_err(|e| format!("ENDSESSION_API_TOKENS: {e}"))?);
        }
        Ok(Config {
            listen: self.listen,
            data: self.data,
            api_tokens,
            www: Some(self.www).filter(|dir| dir.is_dir()),
            pkg: Some(self.pkg).filter(|dir| dir.is_dir()),
            reconnect_grace: Duration::from_millis(self.reconnect_grace_ms),
            dev: self.dev,
            webhooks: DeliverySettings {
                retry_base: Duration::from_millis(self.webhook_retry_base_ms),
                max_attempts: self.webhook_max_attempts,
                timeout: Duration::from_millis(self.webhook_timeout_ms),
                first_delay: Duration::from_millis(self.webhook_delay_ms),
                endpoint_concurrency: self.webhook_endpoint_concurrency as usize,
                breaker_failures: self.webhook_breaker_failures,
                breaker_pause: Duration::from_millis(self.webhook_breaker_pause_ms),
                targets: self.webhook_targets.unwrap_or(if self.dev {
                    TargetPolicy::Any
                } else {
                    TargetPolicy::Public
                }),
                rotation_window: Duration::from_millis(self.webhook_rotation_window_ms),
            },
            limits: Limits {
                max_connections: self.max_connections as usize,
                header_timeout: Duration::from_millis(self.header_timeout_ms),
                request_timeout: Duration::from_millis(self.request_timeout_ms),
                join_timeout: Duration::from_millis(self.join_timeout_ms),
                heartbeat_interval: Duration::from_millis(self.heartbeat_interval_ms),
                heartbeat_timeout: Duration::from_millis(self.heartbeat_timeout_ms),
                write_timeout: Duration::from_millis(self.write_timeout_ms),
                outbox_frames: self.outbox_frames as usize,
                max_sockets_per_participant: self.max_sockets_per_participant as usize,
            },
            participant_token_ttl: Duration::from_secs(self.participant_token_ttl_secs),
            rotate_webhook_signing_key: self.rotate_webhook_signing_key,
            redis: self.redis,
            database: self.database,
            redis_ca_file: self.redis_ca_file,
        })
    }
}

/// Deadlines and caps of connections (the `Security` section of the README lists them). The defaults are the flags'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most, HTTP and WebSocket together.
    pub max_connections: usize,
    /// Headers of a request, counted from the connection's opening or the end of the previous response.
    pub header_timeout: Duration,
    /// A whole request after its headers (body and handler): 408.
    pub request_timeout: Duration,
    /// WebSocket upgrade to `join`.
    pub join_timeout: Duration,
    /// Between two heartbeats sent to a joined WebSocket; sent to the client as `Joined.heartbeatMs`.
    pub heartbeat_interval: Duration,
    /// Silence after which a joined WebSocket counts as dropped.
    pub heartbeat_timeout: Duration,
    /// One write making no progress (HTTP or WebSocket).
    pub write_timeout: Duration,
    /// Frames queued for one WebSocket.
    pub outbox_frames: usize,
    /// Open WebSockets of one participant.
    pub max_sockets_per_participant: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Twice the design's 10,000 participants of one node, for their REST calls and reconnects.
            max_connections: 20_000,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            join_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(25),
            write_timeout: Duration::from_secs(10),
            outbox_frames: 4_096,
            max_sockets_per_participant: 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_environment_add_up() {
        let cli = Cli::parse_from([
            "endsession-server",
            "--api-token",
            "a:s1:Realtime Admin",
            "--api-token",
            "b:s2:Realtime",
            "--www",
            "/nonexistent",
            "--reconnect-grace-ms",
            "250",
        ]);
        let config = cli.into_config(Some("c:s3:Realtime Read, d:s4:Realtime")).unwrap();
        let accounts: Vec<_> = config.api_tokens.iter().map(|t| t.account_id.as_str()).collect();
        assert_eq!(accounts, ["a", "b", "c", "d"]);
        assert_eq!(config.www, None);
        assert_eq!(config.reconnect_grace, Duration::from_millis(250));
        assert!(!config.dev);
    }

    #[test]
    fn webhook_flags_have_defaults_and_reach_the_delivery_settings() {
        let defaults = Cli::parse_from(["endsession-server"]).into_config(None).unwrap();
        let public = DeliverySettings { targets: TargetPolicy::Public, ..DeliverySettings::default() };
        assert_eq!(defaults.webhooks, public, "the library's defaults, refusing non-public targets");
        let dev = Cli::parse_from(["endsession-server", "--dev"]).into_config(None).unwrap();
        assert_eq!(dev.webhooks.targets, TargetPolicy::Any, "--dev allows a receiver on this machine");
        let dev_public = Cli::parse_from(["endsession-server", "--dev", "--webhook-targets", "public"]);
        assert_eq!(dev_public.into_config(None).unwrap().webhooks.targets, TargetPolicy::Public);
        assert_eq!(Config::local("d").webhooks.targets, TargetPolicy::Any, "what tests start");
        let cli = Cli::parse_from([
            "endsession-server",
            "--webhook-retry-base-ms",
            "20",
            "--webhook-max-attempts",
            "3",
            "--webhook-timeout-ms",
            "500",
            "--webhook-delay-ms",
            "60000",
            "--webhook-endpoint-concurrency",
            "2",
            "--webhook-breaker-failures",
            "7",
            "--webhook-breaker-pause-ms",
            "1500",
            "--webhook-targets",
            "any",
        ]);
        let settings = cli.into_config(None).unwrap().webhooks;
        assert_eq!(settings.retry_base, Duration::from_millis(20));
        assert_eq!((settings.max_attempts, settings.timeout), (3, Duration::from_millis(500)));
        assert_eq!(settings.first_delay, Duration::from_secs(60));
        assert_eq!((settings.endpoint_concurrency, settings.breaker_failures), (2, 7));
        assert_eq!((settings.breaker_pause, settings.targets), (Duration::from_millis(1500), TargetPolicy::Any));
        assert!(Cli::try_parse_from(["endsession-server", "--webhook-endpoint-concurrency", "0"]).is_err());
        assert!(Cli::try_parse_from(["endsession-server", "--webhook-targets", "private"]).is_err());
        assert!(Cli::try_parse_from(["endsession-server", "--webhook-max-attempts", "0"]).is_err());
    }

    #[test]
    fn connection_limits_have_defaults_and_flags() {
        let defaults = Cli::parse_from(["endsession-server"]).into_config(None).unwrap();
        assert_eq!(defaults.limits, Limits::default());
        assert!(defaults.limits.heartbeat_timeout <= Duration::from_secs(30));
        let cli = Cli::parse_from([
            "endsession-server",
            "--max-connections",
            "100",
            "--header-timeout-ms",
            "1500",
            "--heartbeat-interval-ms",
            "200",
            "--heartbeat-timeout-ms",
            "500",
            "--max-sockets-per-participant",
            "2",
        ]);
        let limits = cli.into_config(None).unwrap().limits;
        assert_eq!((limits.max_connections, limits.max_sockets_per_participant), (100, 2));
        assert_eq!(limits.header_timeout, Duration::from_millis(1500));
        assert_eq!(
            (limits.heartbeat_interval, limits.heartbeat_timeout),
            (Duration::from_millis(200), Duration::from_millis(500))
        );
        assert!(Cli::try_parse_from(["endsession-server", "--outbox-frames", "0"]).is_err());
        let silent = Cli::parse_from(["endsession-server", "--heartbeat-interval-ms", "30000"]).into_config(None);
        assert!(silent.unwrap_err().contains("--heartbeat-timeout-ms"));
    }

    #[test]
    fn participant_tokens_live_a_day_unless_told_otherwise() {
        let defaults = Cli::parse_from(["endsession-server"]).into_config(None).unwrap();
        assert_eq!(defaults.participant_token_ttl, Duration::from_secs(86_400));
        let cli = Cli::parse_from(["endsession-server", "--participant-token-ttl-secs", "600"]);
        assert_eq!(cli.into_config(None).unwrap().participant_token_ttl, Duration::from_secs(600));
        assert!(Cli::try_parse_from(["endsession-server", "--participant-token-ttl-secs", "0"]).is_err());
    }
}
