//! [`super::RedisHub`]'s side of the [`Hub`] trait: each operation takes the meeting's lease, runs its transition
//! (`transitions.rs`, shared with `LocalHub`) on the loaded room, and releases (saving the room and publishing the
//! frames).

use super::{Countdowns, KickRefusal, RedisHub, Remote, RoomSnapshot, Sink, Transitions};
use super::{Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, LiveInfo, Room, Seat};
use async_trait::async_trait;
use endsession_protocol::{EndOptions, Permissions};
use redis::AsyncCommands;

#[async_trait]
impl Hub for RedisHub {
    async fn join(&self, request: JoinRequest) -> JoinOutcome {
        self.inner.join(request).await
    }

    async fn leave(&self, seat: &Seat) -> bool {
        let inner = &self.inner;
        let Some(mut held) = inner.lock_existing(&seat.meeting_id).await else {
            inner.forget(seat.conn_id);
            return false;
        };
        let was_in = inner.leave_room(&mut held.room, seat).await;
        inner.release(held).await;
        if was_in {
            // Its `RoomLeft { Left }` is the caller's to send; nothing more comes through this node for it.
            inner.forget(seat.conn_id);
        }
        was_in
    }

    async fn disconnect(&self, seat: &Seat) {
        let inner = &self.inner;
        inner.forget(seat.conn_id);
        if let Some(mut held) = inner.lock_if_room(&seat.meeting_id).await {
            inner.disconnect_room(&mut held.room, seat).await;
            inner.release(held).await;
        }
    }

    async fn kick_all(&self, seat: &Seat, options: EndOptions) -> Result<KickAllOutcome, HubError> {
        let inner = &self.inner;
        // An error is the caller's to see (not "already ended"): the session may well be live.
        let refusal = match inner.try_lock_existing(&seat.meeting_id).await? {
            Some(mut held) => {
                let result = inner.kick_all_room(&mut held.room, seat, options).await;
                inner.release(held).await;
                match result {
                    Ok(outcome) => return Ok(outcome),
                    Err(refusal) => refusal,
                }
            }
            None => KickRefusal::NotLive,
        };
        inner.kick_all_refused(seat, refusal).await
    }

    async fn end_session(&self, meeting_id: &str, options: EndOptions) -> Result<Option<KickAllOutcome>, HubError> {
        let inner = &self.inner;
        // With `lock`, the room is taken even if idle: a join waits for it, then finds the meeting INACTIVE.
        let held = match options.lock {
            true => Some(inner.lock(meeting_id).await?),
            false => inner.try_lock_existing(meeting_id).await?,
        };
        let Some(mut held) = held else {
            return Ok(None);
        };
        let result = inner.end_session_room(&mut held.room, meeting_id, options).await;
        inner.release(held).await;
        result
    }

    async fn cancel_end(&self, meeting_id: &str, seat: Option<&Seat>) -> Result<bool, HubError> {
        let inner = &self.inner;
        let Some(mut held) = inner.try_lock_existing(meeting_id).await? else {
            return Ok(false);
        };
        let result = inner.cancel_in_room(&mut held.room, seat).await;
        inner.release(held).await;
        result
    }

    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String> {
        let inner = &self.inner;
        let Some(mut held) = inner.lock_existing(meeting_id).await else {
            return Vec::new();
        };
        let kicked = inner.kick_room(&mut held.room, meeting_id, participant_ids).await;
        inner.release(held).await;
        kicked
    }

    async fn update_permissions(
        &self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: &str,
        permissions: Permissions,
    ) {
        let inner = &self.inner;
        if let Some(mut held) = inner.lock_existing(meeting_id).await {
            inner.permissions_room(&mut held.room, meeting_id, participant_id, preset_name, permissions).await;
            inner.release(held).await;
        }
    }

    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions) {
        let inner = &self.inner;
        if let Some(mut held) = inner.lock_existing(meeting_id).await {
            inner.preset_room(&mut held.room, meeting_id, preset_name, new_name, permissions).await;
            inner.release(held).await;
        }
    }

    async fn live_session(&self, meeting_id: &str) -> Option<LiveInfo> {
        // A read of the last saved state, without the lock: what a transition under way decides is not there yet.
        let mut redis = self.inner.redis.clone();
        let text: Option<String> = match redis.get(self.inner.room_key(meeting_id)).await {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(meeting_id, error = %e, "redis: could not read a live session");
                return None;
            }
        };
        let snapshot: RoomSnapshot = serde_json::from_str(&text?).ok()?;
        let sink = Sink::default();
        Room::from_snapshot(snapshot, |conn| Remote { conn, sink: sink.clone() }).info()
    }
}
