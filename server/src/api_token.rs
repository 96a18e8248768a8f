//! The API-token vocabulary: scopes, the `ACCOUNT:SECRET:SCOPE` tokens given at start, who a token says is calling,
//! and the digest the store keeps instead of a secret. A leaf module: the configuration, the store and the REST API's
//! token check all use it, and it uses none of them.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

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

/// Hex SHA-256 of a token secret: what the store keeps instead of the secret.
pub fn secret_digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Who is calling: the account and scope of the token presented. Handlers find it in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub scope: Scope,
}

/// The tokens given on the command line, by digest of their secret.
#[derive(Debug, Default)]
pub struct ApiTokens {
    by_digest: HashMap<String, Caller>,
}

impl ApiTokens {
    pub fn new(tokens: &[ApiToken]) -> Self {
        let by_digest = tokens
            .iter()
            .map(|t| (secret_digest(&t.secret), Caller { account_id: t.account_id.clone(), scope: t.scope }))
            .collect();
        ApiTokens { by_digest }
    }

    pub fn find(&self, secret: &str) -> Option<Caller> {
        self.by_digest.get(&secret_digest(secret)).cloned()
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
}
