//! [`super::RedisHub`]'s side of the [`Hub`] trait: each operation takes the meeting's lease, applies the rules as
//! `LocalHub` does, and releases (saving the room and publishing the frames).

use super::{Departure, KickRefusal, RedisHub, Remote, RoomSnapshot, Sink};
use super::{Hub, HubError, JoinOutcome, JoinRequest, KickAllOutcome, LiveInfo, Room, Seat};
use crate::clock;
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
        let mut was_in = false;
        if held.room.live_session_id() == Some(seat.session_id.as_str()) {
            let departure = held.room.leave(&seat.participant_id, seat.conn_id);
            was_in = !matches!(departure, Departure::NotPresent);
            inner.settle(seat, departure).await;
            inner.watch_hosts(&mut held).await;
        }
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
        let Some(mut held) = inner.lock_existing(&seat.meeting_id).await else {
            return;
        };
        if held.room.live_session_id() == Some(seat.session_id.as_str()) {
            let departure = held.room.disconnect(&seat.participant_id, seat.conn_id);
            inner.settle(seat, departure).await;
            inner.watch_hosts(&mut held).await;
        }
        inner.release(held).await;
    }

    async fn kick_all(&self, seat: &Seat, options: EndOptions) -> Result<KickAllOutcome, HubError> {
        let inner = &self.inner;
        let refusal = match inner.lock_existing(&seat.meeting_id).await {
            Some(mut held) => match held.room.check_host(Some(&seat.session_id), Some(&seat.participant_id)) {
                Ok(by) => {
                    let outcome = inner.end_or_schedule(&mut held, by, options).await;
                    inner.release(held).await;
                    return Ok(outcome);
                }
                Err(refusal) => {
                    inner.release(held).await;
                    refusal
                }
            },
            None => KickRefusal::NotLive,
        };
        match refusal {
            KickRefusal::PermissionDenied => Err(HubError::PermissionDenied),
            KickRefusal::NotLive => {
                let (meeting, session) = (seat.meeting_id.clone(), seat.session_id.clone());
                let row = inner.store.run(move |db| db.session(&meeting, &session)).await?;
                let kicked_count = row.and_then(|r| r.kicked_count).unwrap_or(0);
                Ok(KickAllOutcome {
                    session_id: seat.session_id.clone(),
                    kicked_count,
                    already_ended: true,
                    ends_at: None,
                })
            }
        }
    }

    async fn end_session(&self, meeting_id: &str, options: EndOptions) -> Result<Option<KickAllOutcome>, HubError> {
        let inner = &self.inner;
        // With `lock`, the room is taken even if idle: a join waits for it, then finds the meeting INACTIVE.
        let held = match options.lock {
            true => Some(inner.lock(meeting_id).await?),
            false => inner.lock_existing(meeting_id).await,
        };
        let Some(mut held) = held else {
            return Ok(None);
        };
        let result = match held.room.check_host(None, None) {
            Ok(by) => Ok(Some(inner.end_or_schedule(&mut held, by, options).await)),
            Err(_) => {
                let mut locked = Ok(None);
                if options.lock && !inner.halted() {
                    let meeting = meeting_id.to_owned();
                    if let Err(e) = inner.store.run(move |db| db.lock_meeting(&meeting)).await {
                        locked = Err(e.into());
                    }
                }
                locked
            }
        };
        inner.release(held).await;
        result
    }

    async fn cancel_end(&self, meeting_id: &str, seat: Option<&Seat>) -> Result<bool, HubError> {
        let inner = &self.inner;
        let Some(mut held) = inner.lock_existing(meeting_id).await else {
            return Ok(false);
        };
        let checked =
            held.room.check_host(seat.map(|s| s.session_id.as_str()), seat.map(|s| s.participant_id.as_str()));
        let result = match checked {
            Ok(_) if held.room.countdown().is_none() => Ok(false),
            Ok(by) => {
                inner.save_countdown(&held, None).await;
                Ok(held.room.cancel_countdown(Some(by)))
            }
            Err(KickRefusal::PermissionDenied) => Err(HubError::PermissionDenied),
            Err(KickRefusal::NotLive) => Ok(false),
        };
        inner.release(held).await;
        result
    }

    async fn kick(&self, meeting_id: &str, participant_ids: &[String]) -> Vec<String> {
        let inner = &self.inner;
        let Some(mut held) = inner.lock_existing(meeting_id).await else {
            return Vec::new();
        };
        let mut kicked = Vec::new();
        for id in participant_ids {
            let Some(session_id) = held.room.live_session_id().map(str::to_owned) else { break };
            if let Departure::Removed { ending, linger } = held.room.kick(id) {
                kicked.push(id.clone());
                inner.removed(meeting_id, &session_id, id, clock::now(), true, ending, linger).await;
            }
        }
        inner.watch_hosts(&mut held).await;
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
            held.room.set_permissions(participant_id, preset_name, permissions);
            inner.watch_hosts(&mut held).await;
            inner.release(held).await;
        }
    }

    async fn update_preset(&self, meeting_id: &str, preset_name: &str, new_name: &str, permissions: Permissions) {
        let inner = &self.inner;
        if let Some(mut held) = inner.lock_existing(meeting_id).await {
            held.room.set_preset(preset_name, new_name, permissions);
            inner.watch_hosts(&mut held).await;
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
