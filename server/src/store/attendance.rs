//! Attendance: who was in a session and when, one row per stay (admission to removal). A reconnect within the grace
//! is the same stay; being kicked and joining again is a new one. A stay still open when its session ends is not
//! written again: it is read as having ended with the session, which keeps the end of a big session one write.

use super::paging::{Filter, Page, PageRequest, PagedQuery};
use super::{Db, Result};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceRow {
    /// The stay's own id (RealtimeKit's per-session peer id).
    pub id: String,
    pub session_id: String,
    /// The participant (RealtimeKit's `user_id`).
    pub participant_id: String,
    pub custom_participant_id: String,
    pub name: Option<String>,
    pub preset_name: String,
    pub joined_at: String,
    /// None while the participant is in the live session; the session's end if it was still in at the end.
    pub left_at: Option<String>,
}

impl AttendanceRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(AttendanceRow {
            id: row.try_get(0)?,
            session_id: row.try_get(1)?,
            participant_id: row.try_get(2)?,
            custom_participant_id: row.try_get(3)?,
            name: row.try_get(4)?,
            preset_name: row.try_get(5)?,
            joined_at: row.try_get(6)?,
            left_at: row.try_get(7)?,
        })
    }
}

/// A stay's columns (`session_participants p` in `sessions s`), an open stay of an ended session ending with it. The
/// stays are written by the session's owner (`lifecycle.rs`).
const READ_COLUMNS: &str = "p.id, p.session_id, p.participant_id, p.custom_participant_id, p.name, p.preset_name, \
                            p.joined_at, COALESCE(p.left_at, s.ended_at)";
impl Db {
    /// A page of the session's stays, by arrival.
    pub async fn list_attendance(
        &mut self,
        session_id: &str,
        newest_first: bool,
        page: PageRequest,
    ) -> Result<Page<AttendanceRow>> {
        let mut filter = Filter::default();
        filter.equals("p.session_id", session_id);
        let order = if newest_first { "p.joined_at DESC, p.rowid DESC" } else { "p.joined_at, p.rowid" };
        let from = "session_participants p JOIN sessions s ON s.id = p.session_id";
        let query = PagedQuery { columns: READ_COLUMNS, from, filter, order };
        self.page(query, page, AttendanceRow::from_row).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::with_meeting;
    use endsession_protocol::{EndReason, Participant};

    #[tokio::test]
    async fn stays_open_at_arrival_and_close_at_departure_or_at_the_end() {
        for (store, _, meeting) in with_meeting().await {
            let person = |id: &str| Participant {
                id: id.into(),
                name: String::new(),
                custom_participant_id: format!("c-{id}"),
                preset_name: "p".into(),
            };
            let m = &meeting.id;
            let mut tx = store.begin().await.unwrap();
            tx.start_session("s", m, "t0").await.unwrap();
            tx.record_arrival(m, "s", &person("a"), "t1").await.unwrap();
            tx.record_arrival(m, "s", &person("b"), "t2").await.unwrap();
            tx.record_departure(m, "s", "a", "t3").await.unwrap();
            tx.record_arrival(m, "s", &person("a"), "t4").await.unwrap();
            tx.end_session(m, "s", "t5", EndReason::HostEndedMeeting, 2, 2).await.unwrap();
            tx.commit().await.unwrap();
            let mut db = store.db().await.unwrap();
            let page = db.list_attendance("s", false, PageRequest::new(None, None)).await.unwrap();
            let stays: Vec<_> = page
                .items
                .iter()
                .map(|r| (r.participant_id.as_str(), r.joined_at.as_str(), r.left_at.as_deref()))
                .collect();
            assert_eq!(stays, [("a", "t1", Some("t3")), ("b", "t2", Some("t5")), ("a", "t4", Some("t5"))]);
            assert_eq!(page.items[0].name, None, "an empty name is no name");
        }
    }
}
