//! Participant tokens: what add-participant hands to a backend, and the browser presents in its `join` frame.
//!
//! An HS256 JWT signed with the server secret. It names the account, app, meeting and participant; the preset name
//! in it is informational only, because the join re-reads the participant's current preset from the store (a PATCH
//! may have changed it since). Tokens carry no expiry, like RealtimeKit's: deleting the participant revokes them.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
}

/// Signs and checks participant tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        TokenKeys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub fn issue(&self, claims: &ParticipantClaims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a token this server signed; the error says what is wrong, for the `InvalidToken` message.
    pub fn verify(&self, token: &str) -> Result<ParticipantClaims, String> {
        jsonwebtoken::decode::<ParticipantClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| format!("invalid participant token: {e}"))
    }
}

/// Seconds since the epoch, for `iat`.
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ParticipantClaims {
        ParticipantClaims {
            sub: "p".into(),
            account_id: "acct".into(),
            app_id: "app".into(),
            meeting_id: "m".into(),
            preset_name: "group_call_host".into(),
            iat: now_seconds(),
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_other_secrets() {
        let keys = TokenKeys::new(b"one secret of thirty-two bytes!!");
        let token = keys.issue(&claims());
        assert_eq!(keys.verify(&token).unwrap(), claims());
        let other = TokenKeys::new(b"another secret of 32 bytes......");
        assert!(other.verify(&token).unwrap_err().contains("invalid participant token"));
        assert!(keys.verify("not-a-jwt").is_err());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(keys.verify(&tampered).is_err());
    }
}
