//! Sessions: one live period of a meeting, from the first join to its end.

use super::paging::{contains_pattern, like, Filter, Page, PageRequest, PagedQuery};
use super::{fits, Db, Result};
use endsession_protocol::{EndReason, LeaveState, Participant, Permissions};
use sqlx::any::AnyRow;
use sqlx::Row;

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
    fn from_row(row: &AnyRow) -> Result<Self> {
        let reason: Option<String> = row.try_get(4)?;
        let kicked: Option<i64> = row.try_get(6)?;
        Ok(SessionRow {
            id: row.try_get(0)?,
            meeting_id: row.try_get(1)?,
            started_at: row.try_get(2)?,
            ended_at: row.try_get(3)?,
            end_reason: reason.as_deref().and_then(EndReason::parse),
            peak_participants: fits(row.try_get(5)?, "peak_participants")?,
            kicked_count: kicked.map(|n| fits(n, "kicked_count")).transpose()?,
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
    /// When the last participant left, if nobody is in it (its keep-alive then ran from this moment).
    pub emptied_at: Option<String>,
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
    /// The participant's current token version (None when it is gone), for the join's token check.
    pub token_version: Option<i64>,
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

fn with_title(row: &AnyRow) -> Result<(SessionRow, Option<String>)> {
    Ok((SessionRow::from_row(row)?, row.try_get(7)?))
}

impl Db {
    /// The session if it belongs to the meeting.
    pub async fn session(&mut self, meeting_id: &str, session_id: &str) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1 AND meeting_id = $2");
        let row = sqlx::query(&sql).bind(session_id).bind(meeting_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(SessionRow::from_row).transpose()
    }

    /// The meeting's most recent session, live or ended.
    pub async fn latest_session(&mut self, meeting_id: &str) -> Result<Option<SessionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions WHERE meeting_id = $1 ORDER BY started_at DESC, rowid DESC LIMIT 1"
        );
        let row = sqlx::query(&sql).bind(meeting_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(SessionRow::from_row).transpose()
    }

    /// Someone was present in the live session at `at`, and it has had `peak` participants at once (None: no
    /// change): both only grow, so a session restored after a restart keeps its true peak and ends at the last
    /// moment anyone was there.
    pub async fn touch_session(&mut self, session_id: &str, at: &str, peak: Option<u32>) -> Result<()> {
        // CASE, not SQLite's two-argument MAX (Postgres' is GREATEST): the larger of the two.
        sqlx::query(
            "UPDATE sessions
             SET last_alive_at = CASE WHEN COALESCE(last_alive_at, started_at) > $1
                                      THEN COALESCE(last_alive_at, started_at) ELSE $1 END,
                 peak_participants = CASE WHEN peak_participants > COALESCE($2, 0)
                                          THEN peak_participants ELSE COALESCE($2, 0) END
             WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(at)
        .bind(peak.map(i64::from))
        .bind(session_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// [`Db::touch_session`] for many sessions at once (the hub's periodic stamp of sessions with someone
    /// connected), in one write transaction.
    pub async fn stamp_alive(&mut self, session_ids: &[String], at: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for id in session_ids {
            sqlx::query(
                "UPDATE sessions
                 SET last_alive_at = CASE WHEN COALESCE(last_alive_at, started_at) > $1
                                          THEN COALESCE(last_alive_at, started_at) ELSE $1 END
                 WHERE id = $2 AND ended_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        Ok(tx.commit().await?)
    }

    /// Remembers that the participant was removed from the session (`Kicked`), so that a resume is told so.
    pub async fn record_removal(
        &mut self,
        session_id: &str,
        participant_id: &str,
        state: LeaveState,
        at: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO session_removals (session_id, participant_id, state, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id, participant_id) DO UPDATE SET state = excluded.state, at = excluded.at",
        )
        .bind(session_id)
        .bind(participant_id)
        .bind(state.as_str())
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The participant is in the session again (it joined anew): a removal no longer applies.
    pub async fn clear_removal(&mut self, session_id: &str, participant_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM session_removals WHERE session_id = $1 AND participant_id = $2")
            .bind(session_id)
            .bind(participant_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// [`Db::clear_removal`] of several participants at once (a batch of joins, see [`Db::admission_batch`]).
    pub async fn clear_removals(&mut self, session_id: &str, participant_ids: &[&str]) -> Result<()> {
        for chunk in participant_ids.chunks(super::batched::MAX_ROWS) {
            let ids = super::batched::padded(chunk);
            let sql = format!(
                "DELETE FROM session_removals WHERE session_id = $1 AND participant_id IN ({})",
                super::batched::placeholders(2, ids.len())
            );
            let mut query = sqlx::query(&sql).persistent(super::batched::cached(ids.len())).bind(session_id);
            for id in ids {
                query = query.bind(id);
            }
            query.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Everything a resume into `session_id` needs to know, in one call.
    pub async fn resume_check(
        &mut self,
        meeting_id: &str,
        session_id: &str,
        participant_id: &str,
    ) -> Result<ResumeCheck> {
        let session = self.session(meeting_id, session_id).await?;
        let token_version = self.participant(meeting_id, participant_id).await?.map(|row| row.token_version);
        let participant_gone = token_version.is_none();
        if session.is_none() || participant_gone {
            return Ok(ResumeCheck {
                session,
                removed: None,
                was_in: false,
                participant_gone,
                end: None,
                token_version,
            });
        }
        let removed = sqlx::query("SELECT state FROM session_removals WHERE session_id = $1 AND participant_id = $2")
            .bind(session_id)
            .bind(participant_id)
            .fetch_optional(self.conn())
            .await?;
        let removed: Option<String> = removed.map(|row| row.try_get(0)).transpose()?;
        let was_in =
            sqlx::query("SELECT 1 FROM session_participants WHERE session_id = $1 AND participant_id = $2 LIMIT 1")
                .bind(session_id)
                .bind(participant_id)
                .fetch_optional(self.conn())
                .await?
                .is_some();
        let end = match &session {
            Some(row) if !row.is_live() => self.session_end(session_id).await?,
            _ => None,
        };
        let removed = removed.as_deref().and_then(LeaveState::parse);
        Ok(ResumeCheck { session, removed, was_in, participant_gone, end, token_version })
    }

    /// Every session not ended, with its open stays: what a previous run of the server left live.
    pub async fn live_sessions_to_restore(&mut self) -> Result<Vec<LiveSessionRow>> {
        self.live_sessions_of(None).await
    }

    /// The meeting's session not ended, with its open stays (the oldest, should there be several): what a hub
    /// whose live state was lost (`RedisHub`: Redis restarted without its data) puts back.
    pub async fn live_session_to_restore(&mut self, meeting_id: &str) -> Result<Option<LiveSessionRow>> {
        Ok(self.live_sessions_of(Some(meeting_id)).await?.into_iter().next())
    }

    /// Every session not ended, as (meeting id, session id), oldest first: one indexed read, for a hub to compare
    /// with the sessions it holds.
    pub async fn live_session_ids(&mut self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT meeting_id, id FROM sessions WHERE ended_at IS NULL ORDER BY started_at, rowid")
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }

    /// The sessions not ended, of one meeting or of all, with their open stays.
    async fn live_sessions_of(&mut self, meeting_id: Option<&str>) -> Result<Vec<LiveSessionRow>> {
        let of_meeting = if meeting_id.is_some() { "AND meeting_id = $1" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS}, (SELECT app_id FROM meetings m WHERE m.id = meeting_id), last_alive_at
             FROM sessions WHERE ended_at IS NULL {of_meeting} ORDER BY started_at, rowid"
        );
        let mut query = sqlx::query(&sql);
        if let Some(id) = meeting_id {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.conn()).await?;
        let sessions = rows
            .iter()
            .map(|row| Ok((SessionRow::from_row(row)?, row.try_get::<Option<String>, _>(7)?, row.try_get(8)?)))
            .collect::<Result<Vec<(SessionRow, Option<String>, Option<String>)>>>()?;
        let mut restored = Vec::with_capacity(sessions.len());
        for (session, app_id, last_alive) in sessions {
            let app_id = app_id.unwrap_or_default();
            let meeting = self.meeting(&app_id, &session.meeting_id).await?;
            let keep_alive = meeting.as_ref().map(|m| m.session_keep_alive()).unwrap_or_default();
            let no_host_after = meeting.as_ref().and_then(|m| m.end_when_no_host_after());
            let countdown = self.countdown(&session.id).await?;
            let mut members = Vec::new();
            for stay in self.open_stays(&session.id, None).await? {
                let preset = self.preset(&app_id, &stay.preset_name).await?;
                let permissions = preset.map(|p| p.permissions()).unwrap_or_default();
                let participant = Participant {
                    id: stay.participant_id,
                    name: stay.name.unwrap_or_default(),
                    custom_participant_id: stay.custom_participant_id,
                    preset_name: stay.preset_name,
                };
                members.push((participant, permissions));
            }
            let last_alive = last_alive.unwrap_or_else(|| session.started_at.clone());
            let emptied_at = match members.is_empty() {
                true => sqlx::query("SELECT MAX(left_at) FROM session_participants WHERE session_id = $1")
                    .bind(&session.id)
                    .fetch_one(self.conn())
                    .await?
                    .try_get(0)?,
                false => None,
            };
            restored.push(LiveSessionRow {
                session,
                app_id,
                keep_alive,
                last_alive,
                members,
                countdown,
                no_host_after,
                emptied_at,
            });
        }
        Ok(restored)
    }

    /// The session if it belongs to one of the app's meetings, with that meeting's title.
    pub async fn session_of_app(
        &mut self,
        app_id: &str,
        session_id: &str,
    ) -> Result<Option<(SessionRow, Option<String>)>> {
        let sql = format!("SELECT {HISTORY_COLUMNS} FROM {HISTORY_FROM} WHERE s.id = $1 AND m.app_id = $2");
        let row = sqlx::query(&sql).bind(session_id).bind(app_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(with_title).transpose()
    }

    /// A page of the sessions of the app's meetings, each with its meeting's title. Sorted by minutes, a live
    /// session counts until now.
    pub async fn list_sessions(
        &mut self,
        app_id: &str,
        filter: &SessionFilter,
        sort: SessionSort,
        page: PageRequest,
    ) -> Result<Page<(SessionRow, Option<String>)>> {
        let mut where_ = Filter::default();
        where_.equals("m.app_id", app_id);
        if let Some(meeting_id) = &filter.meeting_id {
            where_.equals("s.meeting_id", meeting_id.clone());
        }
        match filter.live {
            Some(true) => where_.and("s.ended_at IS NULL"),
            Some(false) => where_.and("s.ended_at IS NOT NULL"),
            None => {}
        }
        if let Some(search) = filter.search.as_deref() {
            let (pattern, id) = (where_.bind(contains_pattern(search)), where_.bind(search));
            where_.and(format!("({} OR m.id = {id} OR s.id = {id})", like("m.title", &pattern)));
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
            let minutes = self.dialect().seconds_between("s.started_at", "s.ended_at");
            format!("{minutes} {direction}, s.rowid {direction}")
        } else {
            format!("s.started_at {direction}, s.rowid {direction}")
        };
        let query = PagedQuery { columns: HISTORY_COLUMNS, from: HISTORY_FROM, filter: where_, order: &order };
        self.page(query, page, with_title).await
    }

    /// The app's meetings that have a live session: where a preset change must reach connected participants.
    pub async fn live_meetings_of_app(&mut self, app_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT s.meeting_id FROM sessions s JOIN meetings m ON m.id = s.meeting_id
             WHERE m.app_id = $1 AND s.ended_at IS NULL",
        )
        .bind(app_id)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(|row| row.try_get(0)).collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::store::tests::with_meeting;

    #[tokio::test]
    async fn a_session_ends_once_and_keeps_its_first_end() {
        for (store, _, meeting) in with_meeting().await {
            let m = &meeting.id;
            let end = |reason, peak, kicked| {
                let store = store.clone();
                async move {
                    let mut tx = store.begin().await.unwrap();
                    let ended = tx.end_session(m, "s-1", &clock::now(), reason, peak, kicked).await.unwrap();
                    tx.commit().await.unwrap();
                    ended
                }
            };
            let mut tx = store.begin().await.unwrap();
            tx.start_session("s-1", m, &clock::now()).await.unwrap();
            tx.commit().await.unwrap();
            let mut db = store.db().await.unwrap();
            assert!(db.latest_session(m).await.unwrap().unwrap().is_live());
            assert!(end(EndReason::HostEndedMeeting, 3, 3).await);
            assert!(!end(EndReason::AllParticipantsLeft, 9, 0).await);
            let row = db.session(&meeting.id, "s-1").await.unwrap().unwrap();
            assert_eq!(row.end_reason, Some(EndReason::HostEndedMeeting));
            assert_eq!((row.peak_participants, row.kicked_count), (3, Some(3)));
            assert_eq!(db.session("other-meeting", "s-1").await.unwrap(), None);
        }
    }
}
