//! The end record of an ended session (who ended it, the message, the `meeting.ended` event id) and the countdown
//! to the end of a live one, as the `sessions` row keeps them (migration 7). Written by [`super::Tx::end_session_recorded`]
//! and [`Db::save_countdown`]; read by a resume after the end and by a restart that puts live sessions back.

use super::{Db, Result};
use endsession_protocol::{EndReason, EndedBy};
use rusqlite::{params, OptionalExtension};

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
    pub fn session_end(&self, session_id: &str) -> Result<Option<SessionEnd>> {
        Ok(self
            .conn
            .query_row("SELECT ended_by, end_message, end_event_id FROM sessions WHERE id = ?1", [session_id], |row| {
                Ok(SessionEnd { ended_by: json_by(row.get(0)?), message: row.get(1)?, event_id: row.get(2)? })
            })
            .optional()?)
    }

    /// The countdown running on the live session, if any.
    pub fn countdown(&self, session_id: &str) -> Result<Option<CountdownRow>> {
        let row = self
            .conn
            .query_row(
                "SELECT ending_at, ending_reason, ending_by, ending_message, ending_lock FROM sessions
                 WHERE id = ?1 AND ended_at IS NULL AND ending_at IS NOT NULL",
                [session_id],
                |row| {
                    let reason: Option<String> = row.get(1)?;
                    Ok(CountdownRow {
                        ends_at: row.get(0)?,
                        reason: reason.as_deref().and_then(EndReason::parse).unwrap_or(EndReason::HostEndedMeeting),
                        ended_by: json_by(row.get(2)?),
                        message: row.get(3)?,
                        lock: row.get(4)?,
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    /// Starts (Some) or clears (None) the countdown of a live session. Nothing changes on an ended session.
    pub fn save_countdown(&self, session_id: &str, countdown: Option<&CountdownRow>) -> Result<()> {
        let ended_by = countdown.and_then(|c| c.ended_by.as_ref()).map(serde_json::to_string).transpose()?;
        self.conn.execute(
            "UPDATE sessions SET ending_at = ?1, ending_reason = ?2, ending_by = ?3, ending_message = ?4,
                                 ending_lock = ?5
             WHERE id = ?6 AND ended_at IS NULL",
            params![
                countdown.map(|c| c.ends_at.as_str()),
                countdown.map(|c| c.reason.as_str()),
                ended_by,
                countdown.and_then(|c| c.message.as_deref()),
                countdown.is_some_and(|c| c.lock),
                session_id
            ],
        )?;
        Ok(())
    }
}
