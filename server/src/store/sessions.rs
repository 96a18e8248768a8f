//! Sessions: one live period of a meeting, from the first join to its end.

use super::paging::{contains_pattern, Filter, Page, PageRequest, PagedQuery};
use super::{Db, Result};
use endsession_protocol::{EndReason, LeaveState, Participant, Permissions};
use rusqlite::{params, OptionalExtension, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub meeting_id: String,
    pub started_at: String,
    /// None while the session is live.
    pub ended_at: Option<String>,
    pub end_reason: Option<EndReason>,
    pub peak_participants: u32,
    /// How many participants the end removed (0 when the last one left).
    pub kicked_count: Option<u32>,
}

impl SessionRow {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let reason: Option<String> = row.get(4)?;
        Ok(SessionRow {
            id: row.get(0)?,
            meeting_id: row.get(1)?,
            started_at: row.get(2)?,
            ended_at: row.get(3)?,
            end_reason: reason.as_deref().and_then(EndReason::parse),
            peak_participants: row.get(5)?,
            kicked_count: row.get(6)?,
        })
    }

    pub fn is_live(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// A session that was live when the server stopped, with who was in it, for the hub to restore.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSessionRow {
    pub session: SessionRow,
    pub app_id: String,
    /// The meeting's `session_keep_alive_time_in_secs` (see [`super::MeetingRow::session_keep_alive`]).
    pub keep_alive: std::time::Duration,
    /// The last moment anyone was known present (the start if never stamped).
    pub last_alive: String,
    /// The participants with an open stay, by arrival, and their preset's current permissions.
    pub members: Vec<(Participant, Permissions)>,
    /// The countdown to its end that was running, if any.
    pub countdown: Option<super::CountdownRow>,
    /// The meeting's `end_when_no_host_after_secs` (see [`super::MeetingRow::end_when_no_host_after`]).
    pub no_host_after: Option<std::time::Duration>,
}

/// What the store knows about a participant asking to resume a session (see [`Db::resume_check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeCheck {
    /// None if the meeting has no such session.
    pub session: Option<SessionRow>,
    /// How the participant was removed from it, if it was (`Kicked`) and has not joined it again since.
    pub removed: Option<LeaveState>,
    /// Whether the participant had a stay in it.
    pub was_in: bool,
    /// The participant was deleted: it is refused, whatever it was in.
    pub participant_gone: bool,
    /// The end record, if the session ended.
    pub end: Option<super::SessionEnd>,
}

/// Which sessions [`Db::list_sessions`] returns; None filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub meeting_id: Option<String>,
    /// Some(true) only live sessions, Some(false) only ended ones.
    pub live: Option<bool>,
    /// Part of the meeting title, or the whole meeting or session id.
    pub search: Option<String>,
    /// Started at or after this API timestamp.
    pub started_from: Option<String>,
    /// Started at or before this API timestamp.
    pub started_until: Option<String>,
}

/// The order of [`Db::list_sessions`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSort {
    /// By minutes consumed (a live session counts until `now`) instead of by start.
    pub by_minutes: bool,
    pub descending: bool,
}

const COLUMNS: &str = "id, meeting_id, started_at, ended_at, end_reason, peak_participants, kicked_count";
/// [`COLUMNS`] of `sessions s` joined with the meeting's title, for the history.
const HISTORY_COLUMNS: &str =
    "s.id, s.meeting_id, s.started_at, s.ended_at, s.end_reason, s.peak_participants, s.kicked_count, m.title";
const HISTORY_FROM: &str = "sessions s JOIN meetings m ON m.id = s.meeting_id";

fn with_title(row: &Row) -> rusqlite::Result<(SessionRow, Option<String>)> {
    Ok((SessionRow::from_row(row)?, row.get(7)?))
}

impl Db {
    /// The session if it belongs to the meeting.
    pub fn session(&self, meeting_id: &str, session_id: &str) -> Result<Option<SessionRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1 AND meeting_id = ?2"),
                [session_id, meeting_id],
                SessionRow::from_row,
            )
            .optional()?)
    }

    /// The meeting's most recent session, live or ended.
    pub fn latest_session(&self, meeting_id: &str) -> Result<Option<SessionRow>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM sessions WHERE meeting_id = ?1 ORDER BY started_at DESC, rowid DESC LIMIT 1"
                ),
                [meeting_id],
                SessionRow::from_row,
            )
            .optional()?)
    }

    /// Someone was present in the live session at `at`, and it has had `peak` participants at once (None: no
    /// change): both only grow, so a session restored after a restart keeps its true peak and ends at the last
    /// moment anyone was there.
    pub fn touch_session(&self, session_id: &str, at: &str, peak: Option<u32>) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE sessions SET last_alive_at = MAX(COALESCE(last_alive_at, started_at), ?1),
                                     peak_participants = MAX(peak_participants, COALESCE(?2, 0))
                 WHERE id = ?3 AND ended_at IS NULL",
            )?
            .execute(params![at, peak, session_id])?;
        Ok(())
    }

    /// [`Db::touch_session`] for many sessions at once (the hub's periodic stamp of sessions with someone
    /// connected).
    pub fn stamp_alive(&mut self, session_ids: &[String], at: &str) -> Result<()> {
        self.transaction(|db| {
            for id in session_ids {
                db.touch_session(id, at, None)?;
            }
            Ok(())
        })
    }

    /// Remembers that the participant was removed from the session (`Kicked`), so that a resume is told so.
    pub fn record_removal(&self, session_id: &str, participant_id: &str, state: LeaveState, at: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO session_removals (session_id, participant_id, state, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (session_id, participant_id) DO UPDATE SET state = excluded.state, at = excluded.at",
            params![session_id, participant_id, state.as_str(), at],
        )?;
        Ok(())
    }

    /// The participant is in the session again (it joined anew): a removal no longer applies.
    pub fn clear_removal(&self, session_id: &str, participant_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM session_removals WHERE session_id = ?1 AND participant_id = ?2")?
            .execute([session_id, participant_id])?;
        Ok(())
    }

    /// Everything a resume into `session_id` needs to know, in one call.
    pub fn resume_check(&self, meeting_id: &str, session_id: &str, participant_id: &str) -> Result<ResumeCheck> {
        let session = self.session(meeting_id, session_id)?;
        let participant_gone = self.participant(meeting_id, participant_id)?.is_none();
        if session.is_none() || participant_gone {
            return Ok(ResumeCheck { session, removed: None, was_in: false, participant_gone, end: None });
        }
        let removed: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM session_removals WHERE session_id = ?1 AND participant_id = ?2",
                [session_id, participant_id],
                |row| row.get(0),
            )
            .optional()?;
        let was_in = self
            .conn
            .query_row(
                "SELECT 1 FROM session_participants WHERE session_id = ?1 AND participant_id = ?2 LIMIT 1",
                [session_id, participant_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let end = match &session {
            Some(row) if !row.is_live() => self.session_end(session_id)?,
            _ => None,
        };
        let removed = removed.as_deref().and_then(LeaveState::parse);
        Ok(ResumeCheck { session, removed, was_in, participant_gone, end })
    }

    /// Every session not ended, with its open stays: what a previous run of the server left live.
    pub fn live_sessions_to_restore(&self) -> Result<Vec<LiveSessionRow>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {COLUMNS}, (SELECT app_id FROM meetings m WHERE m.id = meeting_id), last_alive_at
             FROM sessions WHERE ended_at IS NULL ORDER BY started_at, rowid"
        ))?;
        let sessions = statement
            .query_map([], |row| Ok((SessionRow::from_row(row)?, row.get::<_, Option<String>>(7)?, row.get(8)?)))?
            .collect::<rusqlite::Result<Vec<(SessionRow, Option<String>, Option<String>)>>>()?;
        drop(statement);
        let mut restored = Vec::with_capacity(sessions.len());
        for (session, app_id, last_alive) in sessions {
            let app_id = app_id.unwrap_or_default();
            let meeting = self.meeting(&app_id, &session.meeting_id)?;
            let keep_alive = meeting.as_ref().map(|m| m.session_keep_alive()).unwrap_or_default();
            let no_host_after = meeting.as_ref().and_then(|m| m.end_when_no_host_after());
            let countdown = self.countdown(&session.id)?;
            let mut members = Vec::new();
            for stay in self.open_stays(&session.id, None)? {
                let permissions = self.preset(&app_id, &stay.preset_name)?.map(|p| p.permissions()).unwrap_or_default();
                let participant = Participant {
                    id: stay.participant_id,
                    name: stay.name.unwrap_or_default(),
                    custom_participant_id: stay.custom_participant_id,
                    preset_name: stay.preset_name,
                };
                members.push((participant, permissions));
            }
            let last_alive = last_alive.unwrap_or_else(|| session.started_at.clone());
            restored.push(LiveSessionRow {
                session,
                app_id,
                keep_alive,
                last_alive,
                members,
                countdown,
                no_host_after,
            });
        }
        Ok(restored)
    }

    /// The session if it belongs to one of the app's meetings, with that meeting's title.
    pub fn session_of_app(&self, app_id: &str, session_id: &str) -> Result<Option<(SessionRow, Option<String>)>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {HISTORY_COLUMNS} FROM {HISTORY_FROM} WHERE s.id = ?1 AND m.app_id = ?2"),
                [session_id, app_id],
                with_title,
            )
            .optional()?)
    }

    /// A page of the sessions of the app's meetings, each with its meeting's title. Sorted by minutes, a live
    /// session counts until now.
    pub fn list_sessions(
        &self,
        app_id: &str,
        filter: &SessionFilter,
        sort: SessionSort,
        page: PageRequest,
    ) -> Result<Page<(SessionRow, Option<String>)>> {
        let mut where_ = Filter::default();
        where_.equals("m.app_id", app_id.to_owned());
        if let Some(meeting_id) = &filter.meeting_id {
            where_.equals("s.meeting_id", meeting_id.clone());
        }
        match filter.live {
            Some(true) => where_.and("s.ended_at IS NULL"),
            Some(false) => where_.and("s.ended_at IS NOT NULL"),
            None => {}
        }
        if let Some(search) = filter.search.as_deref() {
            let (pattern, id) = (where_.bind(contains_pattern(search)), where_.bind(search.to_owned()));
            where_.and(format!("(m.title LIKE {pattern} ESCAPE '\\' OR m.id = {id} OR s.id = {id})"));
        }
        if let Some(from) = &filter.started_from {
            let from = where_.bind(from.clone());
            where_.and(format!("s.started_at >= {from}"));
        }
        if let Some(until) = &filter.started_until {
            let until = where_.bind(until.clone());
            where_.and(format!("s.started_at <= {until}"));
        }
        let direction = if sort.descending { "DESC" } else { "ASC" };
        let order = if sort.by_minutes {
            format!("julianday(COALESCE(s.ended_at, 'now')) - julianday(s.started_at) {direction}, s.rowid {direction}")
        } else {
            format!("s.started_at {direction}, s.rowid {direction}")
        };
        let query = PagedQuery { columns: HISTORY_COLUMNS, from: HISTORY_FROM, filter: where_, order: &order };
        self.page(query, page, with_title)
    }

    /// The app's meetings that have a live session: where a preset change must reach connected participants.
    pub fn live_meetings_of_app(&self, app_id: &str) -> Result<Vec<String>> {
        let mut statement = self.conn.prepare(
            "SELECT DISTINCT s.meeting_id FROM sessions s JOIN meetings m ON m.id = s.meeting_id
             WHERE m.app_id = ?1 AND s.ended_at IS NULL",
        )?;
        let ids = statement.query_map([app_id], |row| row.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::store::tests::store_with_meeting;

    #[test]
    fn a_session_ends_once_and_keeps_its_first_end() {
        let (store, _, meeting) = store_with_meeting();
        let m = &meeting.id;
        let end = |reason, peak, kicked| {
            store.with(|db| db.transaction(|tx| tx.end_session(m, "s-1", &clock::now(), reason, peak, kicked))).unwrap()
        };
        store.with(|db| db.transaction(|tx| tx.start_session("s-1", m, &clock::now()))).unwrap();
        assert!(store.with(|db| db.latest_session(m)).unwrap().unwrap().is_live());
        assert!(end(EndReason::HostEndedMeeting, 3, 3));
        assert!(!end(EndReason::AllParticipantsLeft, 9, 0));
        let row = store.with(|db| db.session(&meeting.id, "s-1")).unwrap().unwrap();
        assert_eq!(row.end_reason, Some(EndReason::HostEndedMeeting));
        assert_eq!((row.peak_participants, row.kicked_count), (3, Some(3)));
        assert_eq!(store.with(|db| db.session("other-meeting", "s-1")).unwrap(), None);
    }
}
