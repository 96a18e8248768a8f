//! Meetings: the rooms participants join. A meeting outlives its sessions.

use super::paging::{contains_pattern, like, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, Result};
use crate::clock;
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

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

    fn from_row(row: &AnyRow) -> Result<Self> {
        let status: String = row.try_get(3)?;
        let settings: String = row.try_get(4)?;
        Ok(MeetingRow {
            id: row.try_get(0)?,
            app_id: row.try_get(1)?,
            title: row.try_get(2)?,
            status: MeetingStatus::parse(&status).unwrap_or(MeetingStatus::Inactive),
            settings: serde_json::from_str(&settings).unwrap_or_default(),
            created_at: row.try_get(5)?,
            updated_at: row.try_get(6)?,
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
    pub async fn create_meeting(
        &mut self,
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
        sqlx::query(
            "INSERT INTO meetings (id, app_id, title, status, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&meeting.id)
        .bind(&meeting.app_id)
        .bind(meeting.title.as_deref())
        .bind(meeting.status.as_str())
        .bind(Value::Object(meeting.settings.clone()).to_string())
        .bind(&meeting.created_at)
        .bind(&meeting.updated_at)
        .execute(self.conn())
        .await?;
        Ok(meeting)
    }

    /// The meeting if it belongs to the app.
    pub async fn meeting(&mut self, app_id: &str, meeting_id: &str) -> Result<Option<MeetingRow>> {
        let sql = format!("SELECT {COLUMNS} FROM meetings WHERE id = $1 AND app_id = $2");
        let row = sqlx::query(&sql).bind(meeting_id).bind(app_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(MeetingRow::from_row).transpose()
    }

    /// The app's oldest meeting with this title (for idempotent seeding).
    pub async fn meeting_by_title(&mut self, app_id: &str, title: &str) -> Result<Option<MeetingRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM meetings WHERE app_id = $1 AND title = $2 ORDER BY created_at, rowid LIMIT 1"
        );
        let row = sqlx::query(&sql).bind(app_id).bind(title).fetch_optional(self.conn()).await?;
        row.as_ref().map(MeetingRow::from_row).transpose()
    }

    /// A page of the app's meetings, oldest first.
    pub async fn list_meetings(
        &mut self,
        app_id: &str,
        filter: &MeetingFilter,
        page: PageRequest,
    ) -> Result<Page<MeetingRow>> {
        let mut where_ = Filter::default();
        where_.equals("app_id", app_id);
        if let Some(search) = filter.search.as_deref() {
            let (pattern, id) = (where_.bind(contains_pattern(search)), where_.bind(search));
            where_.and(format!("({} OR id = {id})", like("title", &pattern)));
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
        self.page(query, page, MeetingRow::from_row).await
    }

    /// Writes title, status and settings of a changed meeting and stamps `updated_at`; the stored row, or None if
    /// the app has no such meeting. `created_at` never changes.
    pub async fn save_meeting(&mut self, meeting: &MeetingRow) -> Result<Option<MeetingRow>> {
        sqlx::query(
            "UPDATE meetings SET title = $1, status = $2, settings = $3, updated_at = $4 WHERE id = $5 AND app_id = $6",
        )
        .bind(meeting.title.as_deref())
        .bind(meeting.status.as_str())
        .bind(Value::Object(meeting.settings.clone()).to_string())
        .bind(clock::now())
        .bind(&meeting.id)
        .bind(&meeting.app_id)
        .execute(self.conn())
        .await?;
        self.meeting(&meeting.app_id, &meeting.id).await
    }

    /// Makes the meeting INACTIVE (an end with `lock` when no session is live).
    pub async fn lock_meeting(&mut self, meeting_id: &str) -> Result<()> {
        sqlx::query("UPDATE meetings SET status = 'INACTIVE', updated_at = $1 WHERE id = $2")
            .bind(clock::now())
            .bind(meeting_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Sets ACTIVE / INACTIVE; the updated meeting, or None if the app has no such meeting.
    pub async fn set_meeting_status(
        &mut self,
        app_id: &str,
        meeting_id: &str,
        status: MeetingStatus,
    ) -> Result<Option<MeetingRow>> {
        sqlx::query("UPDATE meetings SET status = $1, updated_at = $2 WHERE id = $3 AND app_id = $4")
            .bind(status.as_str())
            .bind(clock::now())
            .bind(meeting_id)
            .bind(app_id)
            .execute(self.conn())
            .await?;
        self.meeting(app_id, meeting_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_db::stores;
    use serde_json::json;

    #[tokio::test]
    async fn meetings_keep_their_settings_and_status() {
        for store in stores().await {
            let mut db = store.db().await.unwrap();
            let app = db.create_app("acct", "a").await.unwrap();
            let settings = json!({ "record_on_start": true }).as_object().unwrap().clone();
            let meeting = db.create_meeting(&app.id, Some("Standup"), settings.clone()).await.unwrap();
            let read = db.meeting(&app.id, &meeting.id).await.unwrap().unwrap();
            assert_eq!(read, meeting);
            assert_eq!(read.status, MeetingStatus::Active);
            assert_eq!(read.settings, settings);
            assert_eq!(db.meeting("other-app", &meeting.id).await.unwrap(), None);
            let read = db.set_meeting_status(&app.id, &meeting.id, MeetingStatus::Inactive).await.unwrap();
            assert_eq!(read.unwrap().status, MeetingStatus::Inactive);
            assert_eq!(db.meeting_by_title(&app.id, "Standup").await.unwrap().unwrap().id, meeting.id);
        }
    }
}
