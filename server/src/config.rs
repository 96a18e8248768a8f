//! Command line and environment: everything the server needs to know before it binds.

use crate::webhooks::{DeliverySettings, TargetPolicy};
use clap::Parser;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// What an API token may do, named as Cloudflare names the RealtimeKit token permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything, including account-level changes.
    Admin,
    /// Reads and writes on apps, meetings, participants and sessions.
    ReadWrite,
    /// Reads only: every non-GET request is refused with 403.
    Read,
}

impl Scope {
    /// The name used on the command line and in the store, e.g. `Realtime Admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "Realtime Admin",
            Scope::ReadWrite => "Realtime",
            Scope::Read => "Realtime Read",
        }
    }

    pub fn can_write(self) -> bool {
        !matches!(self, Scope::Read)
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Scope::Admin, Scope::ReadWrite, Scope::Read]
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| format!("unknown scope `{s}`: expected `Realtime Admin`, `Realtime` or `Realtime Read`"))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API token: `ACCOUNT:SECRET:SCOPE`. The secret is what clients send as `Authorization: Bearer SECRET`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub account_id: String,
    pub secret: String,
    pub scope: Scope,
}

impl fmt::Debug for ApiToken {
    /// Never prints the secret, so tokens can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiToken({}, ***, {})", self.account_id, self.scope)
    }
}

impl FromStr for ApiToken {
    type Err = String;

    /// The account is up to the first `:`, the scope after the last one, and the secret is what lies between, so a
    /// secret may itself contain `:`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || format!("API token `{s}` must look like ACCOUNT:SECRET:SCOPE");
        let (account_id, rest) = s.trim().split_once(':').ok_or_else(shape)?;
        let (secret, scope) = rest.rsplit_once(':').ok_or_else(shape)?;
        if account_id.is_empty() || secret.is_empty() {
            return Err(shape());
        }
        Ok(ApiToken { account_id: account_id.into(), secret: secret.into(), scope: scope.parse()? })
    }
}

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

    /// Directory of the SQLite store (`endsession.sqlite3`), created if missing.
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
    #[arg(long = "reconnect-grace-ms", default_value_t = 10_000)]
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

    /// For tests: hold every first webhook attempt this long after its event, so a test can act (e.g. kill the
    /// server) between an event and its delivery. Not stored: a restart without it delivers at once.
    #[arg(long = "webhook-delay-ms", default_value_t = 0)]
    pub webhook_delay_ms: u64,

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
        }
    }
}

impl Cli {
    /// Adds the tokens of `ENDSESSION_API_TOKENS` (its value is passed in, so this stays testable) and drops static
    /// directories that do not exist.
    pub fn into_config(self, env_tokens: Option<&str>) -> Result<Config, String> {
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
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_with_colons_in_the_secret() {
        let token: ApiToken = "acct:se:cret:Realtime Read".parse().unwrap();
        assert_eq!(token.account_id, "acct");
        assert_eq!(token.secret, "se:cret");
        assert_eq!(token.scope, Scope::Read);
        assert!("acct:secret".parse::<ApiToken>().is_err());
        assert!("acct:secret:Realtime Owner".parse::<ApiToken>().unwrap_err().contains("unknown scope"));
        assert!(!format!("{token:?}").contains("cret"));
    }

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
}
