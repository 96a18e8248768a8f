//! [`Detached`]: every transition of a hub runs to its end on a task of its own, whatever becomes of its caller.
//!
//! A transition is several steps with awaits between them: take the meeting's lock, change the room, write the
//! store, tell the participants, release. Run inside the caller's future, it stops wherever that future is dropped:
//! a REST handler past its `request_timeout` (the timeout layer drops it), a client that hangs up, a socket task
//! stopped. Dropped between the room's change and the telling, an end left the session gone from the room, its end
//! maybe recorded, and nobody told; in Redis, the lease held until it ran out and the change lost. On a task of its
//! own, the transition completes and the caller, if still there, gets the answer.
//!
//! A join whose caller is gone when it completes is undone as a dropped connection would be
//! ([`Hub::disconnect`]: absent for the reconnect grace, then removed), since nobody will ever read its frames.

use super::{Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, LiveInfo, Seat};
use crate::store::StoreError;
use async_trait::async_trait;
use endsession_protocol::{EndOptions, Permissions};
use std::future::Future;
use std::sync::Arc;

/// A [`Hub`] whose every call runs on a spawned task (see the module doc).
///
/// ```ignore
/// let hub: Arc<dyn Hub> = Arc::new(Detached::new(Arc::new(LocalHub::new(store, grace))));
/// ```
pub struct Detached {
    hub: Arc<dyn Hub>,
}

impl Detached {
    pub fn new(hub: Arc<dyn Hub>) -> Self {
        Detached { hub }
    }

    /// Runs `call` on the hub on a task of its own and waits for it; None if the task panicked.
    async fn run<T, F>(&self, call: impl FnOnce(Arc<dyn Hub>) -> F) -> Option<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        match tokio::spawn(call(self.hub.clone())).await {
            Ok(answer) => Some(answer),
            Err(e) => {
                tracing::error!(error = %e, "a hub transition panicked");
                None
            }
        }
    }
}

fn panicked() -> HubError {
    HubError::Store(StoreError::Task("a hub transition panicked".into()))
}

#[async_trait]
impl Hub for Detached {
    async fn join(&self, request: JoinRequest) -> JoinOutcome {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let hub = self.hub.clone();
        tokio::spawn(async move {
            let outcome = hub.join(request).await;
            if let Err(JoinOutcome::Joined { seat, .. }) = answer.send(outcome) {
                tracing::info!(participant_id = %seat.participant_id, "joined after its connection gave up: dropped");
                hub.disconnect(&seat).await;
            }
        });
        answered.await.unwrap_or(JoinOutcome::Unavailable)
    }

    async fn leave(&self, seat: &Seat) -> bool {
        let seat = seat.clone();
        self.run(|hub| async move { hub.leave(&seat).await }).await.unwrap_or(false)
    }

    async fn disconnect(&self, seat: &Seat) {
        let seat = seat.clone();
        self.run(|hub| async move { hub.disconnect(&seat).await }).await;
    }

    async fn kick_all(&self, seat: &Seat, options: EndOptions) -> Result<KickAllOutcome, HubError> {
        let seat = seat.clone();
        self.run(|hub| async move { hub.kick_all(&seat, options).await }).await.unwrap_or_else(|| Err(panicked()))
    }

    async fn end_session(&self, meeting_id: &str, options: EndOptions) -> Result<Option<KickAllOutcome>, HubError> {
        let meeting_id = meeting_id.to_owned();
        self.run(|hub| async move { hub.end_session(&meeting_id, options).await })
            .await
            .unwrap_or_else(|| Err(panicked()))
    }

    async fn cancel_end(&self, meeting_id: &str, seat: Option<&Seat>) -> Result<bool, HubError> {
        let (meeting_id, seat) = (meeting_id.to_owned(), seat.cloned());
        self.run(|hub| async move { hub.cancel_end(&meeting_id, seat.as_ref()).await })
            .await
            .unwrap_or_else(|| Err(panicked()))
    }

    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String> {
        let (meeting_id, ids) = (meeting_id.to_owned(), participant_ids.to_vec());
        self.run(|hub| async move { hub.kick(&meeting_id, &ids).await }).await.unwrap_or_default()
    }

    async fn update_permissions(
        &self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        permissions: Permissions,
    ) {
        let (meeting_id, participant_id, preset_name) =
            (meeting_id.to_owned(), participant_id.to_owned(), preset_name.to_owned());
        self.run(
            |hub| async move { hub.update_permissions(&meeting_id, &participant_id, &preset_name, permissions).await },
        )
        .await;
    }

    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions) {
        let (meeting_id, preset_name, new_name) = (meeting_id.to_owned(), preset_name.to_owned(), new_name.to_owned());
        self.run(|hub| async move { hub.update_preset(&meeting_id, &preset_name, &new_name, permissions).await }).await;
    }

    async fn live_session(&self, meeting_id: &str) -> Option<LiveInfo> {
        // A read: nothing is left half done if its caller goes.
        self.hub.live_session(meeting_id).await
    }
}

#[cfg(test)]
#[path = "detached_tests.rs"]
mod tests;
