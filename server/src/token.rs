//! Participant tokens: what add-participant hands to a backend, and the browser presents in its `join` frame.
//!
//! An HS256 JWT signed with the server secret. It names the account, app, meeting and participant; the preset name
//! in it is informational only, because the join re-reads the participant's current preset from the store (a PATCH
//! may have changed it since).
//!
//! Lifetime (RealtimeKit's tokens are time-bound too): a token expires `--participant-token-ttl-secs` after it was
//! issued (default one day), checked at every `join` frame, so at a reconnect as well. Each participant has a token
//! version in the store: `POST …/participants/{id}/token` raises it and signs the new version into the new token, so
//! every refresh gives a different token and the earlier ones stop joining; deleting the participant stops them all.
//! A refused join is answered with `Error { code: InvalidToken (4010) }` whose message says which of these it was.

use crate::store::TokenStanding;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Default lifetime of a participant token: one day.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantClaims {
    /// The participant id.
    pub sub: String,
    pub account_id: String,
    pub app_id: String,
    pub meeting_id: String,
    /// The preset at issue time. Informational.
    pub preset_name: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch: the token joins until this second, included.
    pub exp: u64,
    /// The participant's token version when this token was issued; a join needs the current one.
    #[serde(default)]
    pub ver: i64,
}

/// Signs and checks participant tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    /// Keys for `secret`; tokens issued through [`TokenKeys::claims`] live `ttl` (rounded up to whole seconds).
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` is required: a token without one (issued before tokens expired) never joins.
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        // One server (or nodes sharing a clock source) issues and checks: no skew to allow for, and a leeway would
        // make the lifetime longer than the operator asked for.
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// The claims of a token issued now for this participant at token version `ver`.
    pub fn claims(
        &self,
        account_id: &str,
        app_id: &str,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        ver: i64,
    ) -> ParticipantClaims {
        let iat = now_seconds();
        let ttl = self.ttl.as_secs() + u64::from(self.ttl.subsec_nanos() > 0);
        ParticipantClaims {
            sub: participant_id.into(),
            account_id: account_id.into(),
            app_id: app_id.into(),
            meeting_id: meeting_id.into(),
            preset_name: preset_name.into(),
            iat,
            exp: iat.saturating_add(ttl),
            ver,
        }
    }

    pub fn issue(&self, claims: &ParticipantClaims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of an unexpired token this server signed; the error says what is wrong, for the `InvalidToken`
    /// message. Does not look at the store: see [`refusal`].
    pub fn verify(&self, token: &str) -> Result<ParticipantClaims, String> {
        jsonwebtoken::decode::<ParticipantClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    "participant token expired: ask your backend for a new one (refresh the participant's token)"
                        .to_string()
                }
                _ => format!("invalid participant token: {e}"),
            })
    }
}

/// The second half of a `join` frame's token check, after [`TokenKeys::verify`]: the participant's standing in the
/// store, read by the hub with the join's admission (same transaction, see `hub/transitions.rs`). None if a token
/// of version `ver` joins; else the message of the `InvalidToken` answer (refreshed since, or deleted).
pub fn refusal(ver: i64, standing: TokenStanding) -> Option<String> {
    match standing {
        TokenStanding::Current(version) if version == ver => None,
        TokenStanding::Current(version) if version > ver => Some(
            "participant token was replaced by a refresh: join with the newest token of this participant".to_string(),
        ),
        TokenStanding::Current(_) => Some("invalid participant token: unknown token version".to_string()),
        TokenStanding::Deleted => {
            Some("participant token refused: the participant was deleted, so its tokens no longer join".to_string())
        }
    }
}

/// Seconds since the epoch, for `iat`.
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"one secret of thirty-two bytes!!";

    fn claims(keys: &TokenKeys) -> ParticipantClaims {
        keys.claims("acct", "app", "m", "p", "group_call_host", 0)
    }

    #[test]
    fn tokens_round_trip_and_reject_other_secrets() {
        let keys = TokenKeys::new(SECRET, DEFAULT_TTL);
        let claims = claims(&keys);
        assert_eq!(claims.exp - claims.iat, DEFAULT_TTL.as_secs());
        let token = keys.issue(&claims);
        assert_eq!(keys.verify(&token).unwrap(), claims);
        let other = TokenKeys::new(b"another secret of 32 bytes......", DEFAULT_TTL);
        assert!(other.verify(&token).unwrap_err().contains("invalid participant token"));
        assert!(keys.verify("not-a-jwt").is_err());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(keys.verify(&tampered).is_err());
    }

    #[test]
    fn only_the_current_version_of_an_existing_participant_joins() {
        assert_eq!(refusal(2, TokenStanding::Current(2)), None);
        assert!(refusal(1, TokenStanding::Current(2)).unwrap().contains("replaced by a refresh"));
        assert!(refusal(3, TokenStanding::Current(2)).unwrap().contains("unknown token version"));
        assert!(refusal(0, TokenStanding::Deleted).unwrap().contains("participant was deleted"));
    }

    #[test]
    fn expired_and_expiryless_tokens_are_refused_with_their_reason() {
        let keys = TokenKeys::new(SECRET, DEFAULT_TTL);
        let mut old = claims(&keys);
        old.exp = now_seconds() - 1;
        assert!(keys.verify(&keys.issue(&old)).unwrap_err().contains("expired"));

        #[derive(Serialize)]
        struct Unbounded {
            sub: &'static str,
            account_id: &'static str,
            app_id: &'static str,
            meeting_id: &'static str,
            preset_name: &'static str,
            iat: u64,
        }
        let unbounded = Unbounded { sub: "p", account_id: "a", app_id: "a", meeting_id: "m", preset_name: "h", iat: 1 };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &unbounded, &EncodingKey::from_secret(SECRET))
            .unwrap();
        assert!(keys.verify(&token).unwrap_err().contains("exp"), "a token without `exp` never joins");
    }
}
