//! Accounts, the API tokens created inside the server, and the server's own signing secret.

use super::{Db, Result};
use crate::api_token::{secret_digest, Scope};
use crate::clock;
use sqlx::Row;

/// A stored API token, found by its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub account_id: String,
    pub scope: Scope,
}

impl Db {
    /// Creates the account if it does not exist; true if it was created.
    pub async fn ensure_account(&mut self, account_id: &str) -> Result<bool> {
        let done = sqlx::query("INSERT INTO accounts (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(account_id)
            .bind(clock::now())
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an API token (and its account); true if it was new. Storing the same secret again changes nothing.
    pub async fn ensure_api_token(&mut self, account_id: &str, secret: &str, scope: Scope) -> Result<bool> {
        self.ensure_account(account_id).await?;
        let done = sqlx::query(
            "INSERT INTO api_tokens (secret_sha256, account_id, scope, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(secret_digest(secret))
        .bind(account_id)
        .bind(scope.as_str())
        .bind(clock::now())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The stored token with this secret, if any.
    pub async fn api_token(&mut self, secret: &str) -> Result<Option<StoredToken>> {
        let row = sqlx::query("SELECT account_id, scope FROM api_tokens WHERE secret_sha256 = $1")
            .bind(secret_digest(secret))
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (account_id, scope): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        Ok(scope.parse().ok().map(|scope| StoredToken { account_id, scope }))
    }

    /// The secret that signs participant tokens: 32 random bytes made on first start and kept, so tokens survive a
    /// restart.
    pub async fn server_secret(&mut self) -> Result<Vec<u8>> {
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| super::StoreError::Task(format!("no randomness: {e}")))?;
        self.shared_secret("participant_token_secret", secret).await
    }

    /// The `server_meta` value under `key`, if there is one.
    pub async fn meta(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT value FROM server_meta WHERE key = $1").bind(key).fetch_optional(self.conn()).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Sets the `server_meta` value under `key`.
    pub async fn set_meta(&mut self, key: &str, value: Vec<u8>) -> Result<()> {
        sqlx::query("INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Removes the `server_meta` value under `key`, if there is one.
    pub async fn delete_meta(&mut self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM server_meta WHERE key = $1").bind(key).execute(self.conn()).await?;
        Ok(())
    }

    /// The `server_meta` value under `key`, storing `value` there first if there is none: several nodes may start at
    /// once on one store, and the first value stored is everybody's.
    pub async fn shared_secret(&mut self, key: &str, value: Vec<u8>) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(self.conn())
            .await?;
        let row = sqlx::query("SELECT value FROM server_meta WHERE key = $1").bind(key).fetch_one(self.conn()).await?;
        Ok(row.try_get(0)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::api_token::Scope;
    use crate::store::test_db::stores;
    use sqlx::Row;

    #[tokio::test]
    async fn tokens_are_idempotent_and_found_by_secret_only() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            assert!(db.ensure_api_token("acct", "s3cret", Scope::Read).await.unwrap());
            assert!(!db.ensure_api_token("acct", "s3cret", Scope::Read).await.unwrap());
            let found = db.api_token("s3cret").await.unwrap().unwrap();
            assert_eq!((found.account_id.as_str(), found.scope), ("acct", Scope::Read));
            assert_eq!(db.api_token("other").await.unwrap(), None);
            let stored: String =
                sqlx::query("SELECT secret_sha256 FROM api_tokens").fetch_one(db.conn()).await.unwrap().get(0);
            assert!(!stored.contains("s3cret"));
        }
    }

    #[tokio::test]
    async fn the_server_secret_is_made_once() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            let first = db.server_secret().await.unwrap();
            assert_eq!(first.len(), 32);
            assert_eq!(db.server_secret().await.unwrap(), first);
        }
    }
}
