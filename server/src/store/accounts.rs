//! Accounts, the API tokens created inside the server, and the server's own signing secret.

use super::{Db, Result};
use crate::api_token::{secret_digest, Scope};
use crate::clock;
use rusqlite::{params, OptionalExtension};

/// A stored API token, found by its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub account_id: String,
    pub scope: Scope,
}

impl Db {
    /// Creates the account if it does not exist; true if it was created.
    pub fn ensure_account(&self, account_id: &str) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO accounts (id, created_at) VALUES (?1, ?2)",
            params![account_id, clock::now()],
        )?;
        Ok(n == 1)
    }

    /// Stores an API token (and its account); true if it was new. Storing the same secret again changes nothing.
    pub fn ensure_api_token(&self, account_id: &str, secret: &str, scope: Scope) -> Result<bool> {
        self.ensure_account(account_id)?;
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO api_tokens (secret_sha256, account_id, scope, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![secret_digest(secret), account_id, scope.as_str(), clock::now()],
        )?;
        Ok(n == 1)
    }

    /// The stored token with this secret, if any.
    pub fn api_token(&self, secret: &str) -> Result<Option<StoredToken>> {
        let row = self
            .conn
            .query_row(
                "SELECT account_id, scope FROM api_tokens WHERE secret_sha256 = ?1",
                [secret_digest(secret)],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(account_id, scope)| Some(StoredToken { account_id, scope: scope.parse().ok()? })))
    }

    /// The secret that signs participant tokens: 32 random bytes made on first start and kept, so tokens survive a
    /// restart.
    pub fn server_secret(&self) -> Result<Vec<u8>> {
        let existing: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM server_meta WHERE key = 'participant_token_secret'", [], |row| row.get(0))
            .optional()?;
        if let Some(secret) = existing {
            return Ok(secret);
        }
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| super::StoreError::Task(format!("no randomness: {e}")))?;
        // Several nodes may start at once on one store: the first secret stored is everybody's.
        self.conn.execute(
            "INSERT OR IGNORE INTO server_meta (key, value) VALUES ('participant_token_secret', ?1)",
            [&secret],
        )?;
        Ok(self
            .conn
            .query_row("SELECT value FROM server_meta WHERE key = 'participant_token_secret'", [], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use crate::api_token::Scope;
    use crate::store::Store;

    #[test]
    fn tokens_are_idempotent_and_found_by_secret_only() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|db| {
                assert!(db.ensure_api_token("acct", "s3cret", Scope::Read)?);
                assert!(!db.ensure_api_token("acct", "s3cret", Scope::Read)?);
                let found = db.api_token("s3cret")?.unwrap();
                assert_eq!((found.account_id.as_str(), found.scope), ("acct", Scope::Read));
                assert_eq!(db.api_token("other")?, None);
                let stored: String = db.conn.query_row("SELECT secret_sha256 FROM api_tokens", [], |r| r.get(0))?;
                assert!(!stored.contains("s3cret"));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn the_server_secret_is_made_once() {
        let store = Store::open_in_memory().unwrap();
        let first = store.with(|db| db.server_secret()).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(store.with(|db| db.server_secret()).unwrap(), first);
    }
}
