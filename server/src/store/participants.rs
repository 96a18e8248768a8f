//! Participants: who may join a meeting, and with which preset.

use super::paging::{Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, MeetingStatus, Result};
use crate::clock;
use endsession_protocol::{Participant, Permissions};
use rusqlite::{params, OptionalExtension, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRow {
    pub id: String,
    pub meeting_id: String,
    pub custom_participant_id: String,
    pub preset_name: String,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Raised by every token refresh; a token joins only while it carries the current version.
    pub token_version: i64,
}

impl ParticipantRow {
    fn from_row(row: &Row) -> rusqlite::Result<Self> {
        Ok(ParticipantRow {
            id: row.get(0)?,
            meeting_id: row.get(1)?,
            custom_participant_id: row.get(2)?,
            preset_name: row.get(3)?,
            name: row.get(4)?,
            picture: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            token_version: row.get(8)?,
        })
    }

    /// The participant as other participants see it on the wire.
    pub fn to_wire(&self) -> Participant {
        Participant {
            id: self.id.clone(),
            name: self.name.clone().unwrap_or_default(),
            custom_participant_id: self.custom_participant_id.clone(),
            preset_name: self.preset_name.clone(),
        }
    }
}

/// Everything the hub needs to admit a participant, read in one go at join time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinContext {
    pub participant: Participant,
    /// From the participant's preset as it is NOW, not as it was when the token was issued.
    pub permissions: Permissions,
}

/// Whether a participant's tokens may join, read at each `join` (see [`crate::token::admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStanding {
    /// The participant exists; only tokens of this version join.
    Current(i64),
    /// No such participant in the meeting: it was deleted (tokens are only issued for participants that exist).
    Deleted,
}

/// Why the store refuses a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The meeting or the participant (or the app) is gone.
    NotFound(String),
    /// The meeting is INACTIVE.
    Inactive,
}

const COLUMNS: &str =
    "id, meeting_id, custom_participant_id, preset_name, name, picture, created_at, updated_at, token_version";

impl Db {
    pub fn add_participant(
        &self,
        meeting_id: &str,
        custom_participant_id: &str,
        preset_name: &str,
        name: Option<&str>,
        picture: Option<&str>,
    ) -> Result<ParticipantRow> {
        let now = clock::now();
        let row = ParticipantRow {
            id: new_id(),
            meeting_id: meeting_id.into(),
            custom_participant_id: custom_participant_id.into(),
            preset_name: preset_name.into(),
            name: name.map(Into::into),
            picture: picture.map(Into::into),
            created_at: now.clone(),
            updated_at: now,
            token_version: 0,
        };
        self.conn.execute(
            &format!("INSERT INTO participants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                row.id,
                row.meeting_id,
                row.custom_participant_id,
                row.preset_name,
                row.name,
                row.picture,
                row.created_at,
                row.updated_at,
                row.token_version
            ],
        )?;
        Ok(row)
    }

    /// The participant if it belongs to the meeting.
    pub fn participant(&self, meeting_id: &str, participant_id: &str) -> Result<Option<ParticipantRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM participants WHERE id = ?1 AND meeting_id = ?2"),
                [participant_id, meeting_id],
                ParticipantRow::from_row,
            )
            .optional()?)
    }

    /// A page of the meeting's participants, in the order they were added.
    pub fn list_participants(&self, meeting_id: &str, page: PageRequest) -> Result<Page<ParticipantRow>> {
        let mut filter = Filter::default();
        filter.equals("meeting_id", meeting_id.to_owned());
        let query = PagedQuery { columns: COLUMNS, from: "participants", filter, order: "created_at, rowid" };
        self.page(query, page, ParticipantRow::from_row)
    }

    /// The meeting's participants with any of these ids or custom participant ids (a custom id may name several
    /// participants: the API does not make it unique), in the order they were added.
    pub fn find_participants(
        &self,
        meeting_id: &str,
        ids: &[String],
        custom_ids: &[String],
    ) -> Result<Vec<ParticipantRow>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM participants
             WHERE meeting_id = ?1 AND (id IN (SELECT value FROM json_each(?2))
                                        OR custom_participant_id IN (SELECT value FROM json_each(?3)))
             ORDER BY created_at, rowid"
        ))?;
        let (ids, custom_ids) = (serde_json::to_string(ids)?, serde_json::to_string(custom_ids)?);
        let rows = statement
            .query_map(params![meeting_id, ids, custom_ids], ParticipantRow::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Deletes the participant; the deleted row, or None if the meeting has no such participant. Its tokens stop
    /// working: a join re-reads the participant.
    pub fn delete_participant(&self, meeting_id: &str, participant_id: &str) -> Result<Option<ParticipantRow>> {
        let Some(row) = self.participant(meeting_id, participant_id)? else { return Ok(None) };
        self.conn
            .execute("DELETE FROM participants WHERE id = ?1 AND meeting_id = ?2", [participant_id, meeting_id])?;
        Ok(Some(row))
    }

    /// Changes the given fields (None leaves a field as it is); the updated row, or None if there is no such
    /// participant in the meeting.
    pub fn update_participant(
        &self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: Option<&str>,
        name: Option<&str>,
        picture: Option<&str>,
    ) -> Result<Option<ParticipantRow>> {
        self.conn.execute(
            "UPDATE participants
             SET preset_name = COALESCE(?1, preset_name), name = COALESCE(?2, name),
                 picture = COALESCE(?3, picture), updated_at = ?4
             WHERE id = ?5 AND meeting_id = ?6",
            params![preset_name, name, picture, clock::now(), participant_id, meeting_id],
        )?;
        self.participant(meeting_id, participant_id)
    }

    /// Raises the participant's token version (a token refresh): tokens issued before stop joining. The updated row,
    /// or None if there is no such participant in the meeting.
    pub fn bump_token_version(&self, meeting_id: &str, participant_id: &str) -> Result<Option<ParticipantRow>> {
        self.conn.execute(
            "UPDATE participants SET token_version = token_version + 1 WHERE id = ?1 AND meeting_id = ?2",
            [participant_id, meeting_id],
        )?;
        self.participant(meeting_id, participant_id)
    }

    /// Whether the participant's tokens may join: its current token version, or [`TokenStanding::Deleted`].
    pub fn token_standing(&self, meeting_id: &str, participant_id: &str) -> Result<TokenStanding> {
        let version: Option<i64> = self
            .conn
            .query_row(
                "SELECT token_version FROM participants WHERE id = ?1 AND meeting_id = ?2",
                [participant_id, meeting_id],
                |row| row.get(0),
            )
            .optional()?;
        Ok(version.map_or(TokenStanding::Deleted, TokenStanding::Current))
    }

    /// Reads the participant, its meeting and its current preset for a join. The ids come from a participant token,
    /// so each is checked against the others: a token for a deleted or moved participant is refused.
    pub fn join_context(
        &self,
        app_id: &str,
        meeting_id: &str,
        participant_id: &str,
    ) -> Result<std::result::Result<JoinContext, JoinRefusal>> {
        self.admission_context(app_id, meeting_id, participant_id, false)
    }

    /// [`Db::join_context`] that may let an INACTIVE meeting's participant in: `member_of_live_session` is true
    /// when the participant is already in the live session (a resume or another tab). INACTIVE stops new joins,
    /// not the session, so the people in it keep it over a network blip.
    pub fn admission_context(
        &self,
        app_id: &str,
        meeting_id: &str,
        participant_id: &str,
        member_of_live_session: bool,
    ) -> Result<std::result::Result<JoinContext, JoinRefusal>> {
        let Some(meeting) = self.meeting(app_id, meeting_id)? else {
            return Ok(Err(JoinRefusal::NotFound("the meeting no longer exists".into())));
        };
        let Some(participant) = self.participant(meeting_id, participant_id)? else {
            return Ok(Err(JoinRefusal::NotFound("the participant no longer exists".into())));
        };
        if meeting.status == MeetingStatus::Inactive && !member_of_live_session {
            return Ok(Err(JoinRefusal::Inactive));
        }
        // A preset deleted after the participant was added grants nothing rather than refusing the join.
        let permissions = self.preset(app_id, &participant.preset_name)?.map(|p| p.permissions()).unwrap_or_default();
        Ok(Ok(JoinContext { participant: participant.to_wire(), permissions }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::store_with_meeting;

    #[test]
    fn join_context_follows_the_current_preset_and_status() {
        let (store, app, meeting) = store_with_meeting();
        let p = store
            .with(|db| db.add_participant(&meeting.id, "c-1", "group_call_participant", Some("Ann"), None))
            .unwrap();
        let ctx = store.with(|db| db.join_context(&app.id, &meeting.id, &p.id)).unwrap().unwrap();
        assert!(!ctx.permissions.kick_participant);
        assert_eq!(ctx.participant.name, "Ann");

        let updated =
            store.with(|db| db.update_participant(&meeting.id, &p.id, Some("group_call_host"), None, None)).unwrap();
        assert_eq!(updated.unwrap().name.as_deref(), Some("Ann"), "fields not given are kept");
        let ctx = store.with(|db| db.join_context(&app.id, &meeting.id, &p.id)).unwrap().unwrap();
        assert!(ctx.permissions.kick_participant);

        let refused = store.with(|db| db.join_context(&app.id, &meeting.id, "nobody")).unwrap();
        assert!(matches!(refused, Err(JoinRefusal::NotFound(_))));
        let refused = store.with(|db| db.join_context("other-app", &meeting.id, &p.id)).unwrap();
        assert!(matches!(refused, Err(JoinRefusal::NotFound(_))));
        store.with(|db| db.set_meeting_status(&app.id, &meeting.id, MeetingStatus::Inactive)).unwrap();
        let refused = store.with(|db| db.join_context(&app.id, &meeting.id, &p.id)).unwrap();
        assert_eq!(refused, Err(JoinRefusal::Inactive));
    }

    #[test]
    fn refreshes_raise_the_token_version_and_deletes_end_it() {
        let (store, _, meeting) = store_with_meeting();
        let p = store.with(|db| db.add_participant(&meeting.id, "c", "group_call_host", None, None)).unwrap();
        assert_eq!(p.token_version, 0);
        assert_eq!(store.with(|db| db.token_standing(&meeting.id, &p.id)).unwrap(), TokenStanding::Current(0));
        let bumped = store.with(|db| db.bump_token_version(&meeting.id, &p.id)).unwrap().unwrap();
        assert_eq!(bumped.token_version, 1);
        assert_eq!(store.with(|db| db.token_standing(&meeting.id, &p.id)).unwrap(), TokenStanding::Current(1));
        assert_eq!(store.with(|db| db.token_standing("other", &p.id)).unwrap(), TokenStanding::Deleted);
        assert_eq!(store.with(|db| db.bump_token_version("other", &p.id)).unwrap(), None);
        store.with(|db| db.delete_participant(&meeting.id, &p.id)).unwrap();
        assert_eq!(store.with(|db| db.token_standing(&meeting.id, &p.id)).unwrap(), TokenStanding::Deleted);
    }

    #[test]
    fn participants_are_found_by_ids_or_custom_ids_listed_and_deleted() {
        let (store, _, meeting) = store_with_meeting();
        let add = |custom: &str| {
            store.with(|db| db.add_participant(&meeting.id, custom, "group_call_participant", None, None)).unwrap()
        };
        let (a, b, c) = (add("ann"), add("bob"), add("ann"));
        let found =
            store.with(|db| db.find_participants(&meeting.id, std::slice::from_ref(&b.id), &["ann".into()])).unwrap();
        assert_eq!(found.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [&a.id, &b.id, &c.id]);
        assert!(store.with(|db| db.find_participants("other", std::slice::from_ref(&a.id), &[])).unwrap().is_empty());

        assert_eq!(store.with(|db| db.delete_participant(&meeting.id, &b.id)).unwrap(), Some(b.clone()));
        assert_eq!(store.with(|db| db.delete_participant(&meeting.id, &b.id)).unwrap(), None);
        let page = store.with(|db| db.list_participants(&meeting.id, PageRequest::new(None, Some(1)))).unwrap();
        assert_eq!((page.items[0].id.as_str(), page.total_count), (a.id.as_str(), 2));
    }
}
