//! The webhook signing key kept in the store, for nodes that share a Postgres database (`--database`): every node
//! signs with the key `/.well-known/webhooks.json` publishes because there is one, in `server_meta`. The first node
//! to start makes it (the first stored is everybody's).
//!
//! Rotation works as on a data directory (see [`super::signing`]): `--rotate-webhook-signing-key --database URL`
//! stores a new key and its switch time beside the current one; every running node looks every
//! [`super::signing::LOOK_EVERY`] and announces it, and it signs from its switch time on. The next start after the
//! switch makes it the key.

use super::signing::{format_ms, KeyError, Rotation, Signer, LOOK_EVERY};
use crate::store::{Store, StoreError};
use std::sync::Weak;
use std::time::Duration;

/// The current key (PKCS#8 PEM).
const KEY: &str = "webhook_signing_key";
/// A rotation's new key, announced until it signs.
const NEXT_KEY: &str = "webhook_signing_key_next";
/// When [`NEXT_KEY`] starts signing: unix milliseconds, as text.
const SWITCH_AT: &str = "webhook_signing_key_switch_at";

/// The signer of the store's key, made (and stored) if there is none; a rotation whose switch time has come becomes
/// the key, and one still to come is announced.
pub async fn load_or_create(store: &Store) -> anyhow::Result<Signer> {
    finish_due_rotation(store).await?;
    let pem = match store.db().await?.meta(KEY).await? {
        Some(pem) => pem,
        None => {
            let fresh = tokio::task::spawn_blocking(Signer::new_key_pem).await??;
            store.db().await?.shared_secret(KEY, fresh.into_bytes()).await?
        }
    };
    let signer = Signer::from_pem(&text(pem)?).map_err(|e| anyhow::anyhow!("the stored webhook signing key: {e}"))?;
    if let Some((next, switch_at_ms)) = pending(store).await? {
        signer.announce(&next, switch_at_ms).map_err(|e| anyhow::anyhow!("the stored next signing key: {e}"))?;
    }
    Ok(signer)
}

/// Looks every [`LOOK_EVERY`] for a rotation stored since, and announces it. Ends when the signer is dropped.
pub fn watch(store: Store, signer: Weak<Signer>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let Some(signer) = signer.upgrade() else { return };
            match pending(&store).await {
                Ok(Some((next, switch_at_ms))) => {
                    if let Err(e) = signer.announce(&next, switch_at_ms) {
                        tracing::error!(error = %e, "could not take up the webhook signing key rotation");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not look for a webhook signing key rotation"),
            }
        }
    })
}

/// Rotates the store's signing key: a new key is stored and announced, and signs from `window` on. Refused while an
/// earlier rotation's switch is still to come.
pub async fn rotate(store: &Store, window: Duration) -> anyhow::Result<Rotation> {
    load_or_create(store).await?; // makes a first key, and finishes a rotation whose time has come
                                  // Made before the window starts: generating it takes a while, which must not eat into the announcement.
    let pem = tokio::task::spawn_blocking(Signer::new_key_pem).await??;
    let public_key_pem = Signer::from_pem(&pem).map_err(anyhow::Error::msg)?.public_key_pem();
    let switch_at_ms = crate::clock::unix_ms().saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
    // One write transaction: two nodes rotating at once cannot both succeed.
    let mut tx = store.begin().await?;
    if let Some(switch_at) = tx.meta(SWITCH_AT).await? {
        let switch_at_ms = text(switch_at)?.parse::<i64>().unwrap_or(0);
        if crate::clock::unix_ms() < switch_at_ms {
            return Err(KeyError::RotationUnderWay { switch_at: format_ms(switch_at_ms) }.into());
        }
    }
    tx.set_meta(NEXT_KEY, pem.into_bytes()).await?;
    tx.set_meta(SWITCH_AT, switch_at_ms.to_string().into_bytes()).await?;
    tx.commit().await?;
    Ok(Rotation { public_key_pem, switch_at_ms })
}

/// A rotation's new key that makes the current one at its switch time, if one is stored.
async fn pending(store: &Store) -> Result<Option<(String, i64)>, StoreError> {
    let mut db = store.db().await?;
    let (Some(next), Some(switch_at)) = (db.meta(NEXT_KEY).await?, db.meta(SWITCH_AT).await?) else { return Ok(None) };
    let next = String::from_utf8(next).map_err(|_| StoreError::Invalid("the next signing key is not text".into()))?;
    let switch_at = String::from_utf8(switch_at).unwrap_or_default();
    Ok(Some((next, switch_at.trim().parse().unwrap_or(0))))
}

/// Makes a rotation's new key the key once its switch time has come (one write transaction).
async fn finish_due_rotation(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let (Some(next), Some(switch_at)) = (tx.meta(NEXT_KEY).await?, tx.meta(SWITCH_AT).await?) else { return Ok(()) };
    let switch_at_ms = String::from_utf8(switch_at).unwrap_or_default().trim().parse().unwrap_or(0);
    if crate::clock::unix_ms() < switch_at_ms {
        return Ok(());
    }
    tx.set_meta(KEY, next).await?;
    tx.delete_meta(NEXT_KEY).await?;
    tx.delete_meta(SWITCH_AT).await?;
    tx.commit().await
}

fn text(bytes: Vec<u8>) -> anyhow::Result<String> {
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("the stored webhook signing key is not text"))
}
