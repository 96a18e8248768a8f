//! Meetings: the rooms participants join. A meeting outlives its sessions.

use super::paging::{contains_pattern, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, Result};
use crate::clock;
use rusqlite::{params, OptionalExtension, Row};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `INACTIVE` meetings refuse every join; sessions already live are not ended by the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MeetingStatus {
    Active,
    Inactive,
}

impl MeetingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Active => "ACTIVE",
            MeetingStatus::Inactive => "INACTIVE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(MeetingStatus::Active),
            "INACTIVE" => Some(MeetingStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRow {
    pub id: String,
    pub app_id: String,
    pub title: Option<String>,
    pub status: MeetingStatus,
    /// The optional fields of the meeting model (record_on_start, ai_config, ...) as they were given.
    pub settings: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// The meeting setting that keeps a session live after its last participant left.
pub const KEEP_ALIVE_SETTING: &str = "session_keep_alive_time_in_secs";

/// The longest `session_keep_alive_time_in_secs` accepted: RealtimeKit documents none; a day bounds the timers a
/// meeting may hold.
pub const MAX_KEEP_ALIVE_SECS: f64 = 86_400.0;

/// The meeting setting (an extension of ours) that ends a session when no participant with `kick_participant` has
/// been connected to it for this many seconds (reason `NO_HOST`). 0 or unset: never.
pub const NO_HOST_SETTING: &str = "end_when_no_host_after_secs";

/// The longest `end_when_no_host_after_secs` accepted: a day, like the keep-alive.
pub const MAX_NO_HOST_SECS: u64 = 86_400;

impl MeetingRow {
    /// How long a session of this meeting may go on with no host connected before it ends with `NO_HOST` (see
    /// [`NO_HOST_SETTING`]); None: for ever. Read when a session starts (and when a restart puts it back).
    pub fn end_when_no_host_after(&self) -> Option<std::time::Duration> {
        let secs = self.settings.get(NO_HOST_SETTING).and_then(Value::as_u64).unwrap_or(0);
        (secs > 0).then(|| std::time::Duration::from_secs(secs.min(MAX_NO_HOST_SECS)))
    }

    /// How long a session of this meeting stays live after its last participant left (RealtimeKit's
    /// `session_keep_alive_time_in_secs`). Unset is 0 here: the session ends when the last participant leaves
    /// (RealtimeKit's own default is 60 s; set it on the meeting for that behaviour). Read when a session starts.
    pub fn session_keep_alive(&self) -> std::time::Duration {
        let secs = self.settings.get(KEEP_ALIVE_SETTING).and_then(Value::as_f64).unwrap_or(0.0);
        std::time::Duration::from_secs_f64(secs.clamp(0.0, MAX_KEEP_ALIVE_SECS))
    }

    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        let status: String = row.get(3)?;
        let settings: String = row.get(4)?;
        Ok(MeetingRow {
            id: row.get(0)?,
            app_id: row.get(1)?,
            title: row.get(2)?,
            status: MeetingStatus::parse(&status).unwrap_or(MeetingStatus::Inactive),
            settings: serde_json::from_str(&settings).unwrap_or_default(),
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        })
    }
}

/// Which meetings [`Db::list_meetings`] returns; None filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeetingFilter {
    /// Part of the title, or the whole id.
    pub search: Option<String>,
    pub status: Option<MeetingStatus>,
    /// Created at or after this API timestamp.
    pub created_from: Option<String>,
    /// Created at or before this API timestamp.
    pub created_until: Option<String>,
}

const COLUMNS: &str = "id, app_id, title, status, settings, created_at, updated_at";

impl Db {
    pub fn create_meeting(
        &self,
        app_id: &str,
        title: Option<&str>,
        settings: Map<String, Value>,
    ) -> Result<MeetingRow> {
        let now = clock::now();
        let meeting = MeetingRow {
            id: new_id(),
            app_id: app_id.into(),
            title: title.map(Into::into),
            status: MeetingStatus::Active,
            settings,
            created_at: now.clone(),
            updated_at: now,
        };
        self.conn.execute(
            "INSERT INTO meetings (id, app_id, title, status, settings, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                meeting.id,
                meeting.app_id,
                meeting.title,
                meeting.status.as_str(),
                Value::Object(meeting.settings.clone()).to_string(),
                meeting.created_at,
                meeting.updated_at
            ],
        )?;
        Ok(meeting)
    }

    /// The meeting if it belongs to the app.
    pub fn meeting(&self, app_id: &str, meeting_id: &str) -> Result<Option<MeetingRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM meetings WHERE id = ?1 AND app_id = ?2"),
                [meeting_id, app_id],
                MeetingRow::from_row,
            )
            .optional()?)
    }

    /// The app's oldest meeting with this title (for idempotent seeding).
    pub fn meeting_by_title(&self, app_id: &str, title: &str) -> Result<Option<MeetingRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM meetings WHERE app_id = ?1 AND title = ?2 ORDER BY created_at, rowid LIMIT 1"),
                [app_id, title],
                MeetingRow::from_row,
            )
            .optional()?)
    }

    /// A page of the app's meetings, oldest first.
    pub fn list_meetings(&self, app_id: &str, filter: &MeetingFilter, page: PageRequest) -> Result<Page<MeetingRow>> {
        let mut where_ = Filter::default();
        where_.equals("app_id", app_id.to_owned());
        if let Some(search) = filter.search.as_deref() {
            let (pattern, id) = (where_.bind(contains_pattern(search)), where_.bind(search.to_owned()));
            where_.and(format!("(title LIKE {pattern} ESCAPE '\\' OR id = {id})"));
        }
        if let Some(status) = filter.status {
            where_.equals("status", status.as_str());
        }
        if let Some(from) = &filter.created_from {
            let from = where_.bind(from.clone());
            where_.and(format!("created_at >= {from}"));
        }
        if let Some(until) = &filter.created_until {
            let until = where_.bind(until.clone());
            where_.and(format!("created_at <= {until}"));
        }
        let query = PagedQuery { columns: COLUMNS, from: "meetings", filter: where_, order: "created_at, rowid" };
        self.page(query, page, MeetingRow::from_row)
    }

    /// Writes title, status and settings of a changed meeting and stamps `updated_at`; the stored row, or None if
    /// the app has no such meeting. `created_at` never changes.
    pub fn save_meeting(&self, meeting: &MeetingRow) -> Result<Option<MeetingRow>> {
        self.conn.execute(
            "UPDATE meetings SET title = ?1, status = ?2, settings = ?3, updated_at = ?4 WHERE id = ?5 AND app_id = ?6",
            params![
                meeting.title,
                meeting.status.as_str(),
                Value::Object(meeting.settings.clone()).to_string(),
                clock::now(),
                meeting.id,
                meeting.app_id
            ],
        )?;
        self.meeting(&meeting.app_id, &meeting.id)
    }

    /// Makes the meeting INACTIVE (an end with `lock` when no session is live).
    pub fn lock_meeting(&self, meeting_id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE meetings SET status = 'INACTIVE', updated_at = ?1 WHERE id = ?2",
            params![clock::now(), meeting_id],
        )?;
        Ok(())
    }

    /// Sets ACTIVE / INACTIVE; the updated meeting, or None if the app has no such meeting.
    pub fn set_meeting_status(
        &self,
        app_id: &str,
        meeting_id: &str,
        status: MeetingStatus,
    ) -> Result<Option<MeetingRow>> {
        self.conn.execute(
            "UPDATE meetings SET status = ?1, updated_at = ?2 WHERE id = ?3 AND app_id = ?4",
            params![status.as_str(), clock::now(), meeting_id, app_id],
        )?;
        self.meeting(app_id, meeting_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use serde_json::json;

    #[test]
    fn meetings_keep_their_settings_and_status() {
        let store = Store::open_in_memory().unwrap();
        let app = store.with(|db| db.create_app("acct", "a")).unwrap();
        let settings = json!({ "record_on_start": true }).as_object().unwrap().clone();
        let meeting = store.with(|db| db.create_meeting(&app.id, Some("Standup"), settings.clone())).unwrap();
        let read = store.with(|db| db.meeting(&app.id, &meeting.id)).unwrap().unwrap();
        assert_eq!(read, meeting);
        assert_eq!(read.status, MeetingStatus::Active);
        assert_eq!(read.settings, settings);
        assert_eq!(store.with(|db| db.meeting("other-app", &meeting.id)).unwrap(), None);
        let read = store.with(|db| db.set_meeting_status(&app.id, &meeting.id, MeetingStatus::Inactive)).unwrap();
        assert_eq!(read.unwrap().status, MeetingStatus::Inactive);
        assert_eq!(store.with(|db| db.meeting_by_title(&app.id, "Standup")).unwrap().unwrap().id, meeting.id);
    }
}
