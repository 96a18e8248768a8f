//! The end record of an ended session (who ended it, the message, the `meeting.ended` event id) and the countdown
//! to the end of a live one, as the `sessions` row keeps them (migration 7). Written by [`super::Tx::end_session_recorded`]
//! and [`Db::save_countdown`]; read by a resume after the end and by a restart that puts live sessions back.

use super::{Db, Result};
use endsession_protocol::{EndReason, EndedBy};
use sqlx::Row;

/// What an ended session's participants were told besides its reason (see `RoomLeft`): the same for every
/// participant, and for one that resumes after the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionEnd {
    pub ended_by: Option<EndedBy>,
    pub message: Option<String>,
    /// The `meeting.ended` event id (`rtk-uuid`); None only for sessions ended before migration 7.
    pub event_id: Option<String>,
}

/// A countdown to the end of a live session: at `ends_at` (API timestamp) it ends with `reason`, `ended_by`,
/// `message`, and locks the meeting if `lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountdownRow {
    pub ends_at: String,
    pub reason: EndReason,
    pub ended_by: Option<EndedBy>,
    pub message: Option<String>,
    pub lock: bool,
}

fn json_by(text: Option<String>) -> Option<EndedBy> {
    text.and_then(|text| serde_json::from_str(&text).ok())
}

impl Db {
    /// The end record of the session (None if there is no such session).
    pub async fn session_end(&mut self, session_id: &str) -> Result<Option<SessionEnd>> {
        let row = sqlx::query("SELECT ended_by, end_message, end_event_id FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionEnd { ended_by: json_by(row.try_get(0)?), message: row.try_get(1)?, event_id: row.try_get(2)? }))
    }

    /// The countdown running on the live session, if any.
    pub async fn countdown(&mut self, session_id: &str) -> Result<Option<CountdownRow>> {
        let row = sqlx::query(
            "SELECT ending_at, ending_reason, ending_by, ending_message, ending_lock FROM sessions
             WHERE id = $1 AND ended_at IS NULL AND ending_at IS NOT NULL",
        )
        .bind(session_id)
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let reason: Option<String> = row.try_get(1)?;
        Ok(Some(CountdownRow {
            ends_at: row.try_get(0)?,
            reason: reason.as_deref().and_then(EndReason::parse).unwrap_or(EndReason::HostEndedMeeting),
            ended_by: json_by(row.try_get(2)?),
            message: row.try_get(3)?,
            lock: row.try_get::<i64, _>(4)? != 0,
        }))
    }

    /// Starts (Some) or clears (None) the countdown of a live session. Nothing changes on an ended session.
    pub async fn save_countdown(&mut self, session_id: &str, countdown: Option<&CountdownRow>) -> Result<()> {
        let ended_by = countdown.and_then(|c| c.ended_by.as_ref()).map(serde_json::to_string).transpose()?;
        sqlx::query(
            "UPDATE sessions SET ending_at = $1, ending_reason = $2, ending_by = $3, ending_message = $4,
                                 ending_lock = $5
             WHERE id = $6 AND ended_at IS NULL",
        )
        .bind(countdown.map(|c| c.ends_at.clone()))
        .bind(countdown.map(|c| c.reason.as_str()))
        .bind(ended_by)
        .bind(countdown.and_then(|c| c.message.clone()))
        .bind(i64::from(countdown.is_some_and(|c| c.lock)))
        .bind(session_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
