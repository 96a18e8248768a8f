//! Participants: who may join a meeting, and with which preset.

use super::batched::{cached, padded, placeholders};
use super::paging::{bind_all, Filter, Page, PageRequest, PagedQuery};
use super::{new_id, Db, MeetingRow, MeetingStatus, Result};
use crate::clock;
use endsession_protocol::{Participant, Permissions};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

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
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(ParticipantRow {
            id: row.try_get(0)?,
            meeting_id: row.try_get(1)?,
            custom_participant_id: row.try_get(2)?,
            preset_name: row.try_get(3)?,
            name: row.try_get(4)?,
            picture: row.try_get(5)?,
            created_at: row.try_get(6)?,
            updated_at: row.try_get(7)?,
            token_version: row.try_get(8)?,
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

/// Whether a participant's tokens may join, read at each `join` with its admission (see [`Db::admission_batch`]
/// and [`crate::token::refusal`]).
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
    /// The join's token is not of the participant's current token version (it was refreshed since), or the
    /// participant was deleted: what the store has instead.
    Token(TokenStanding),
}

/// One join of an admission batch (see [`Db::admission_batch`]): the ids its token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionAsk<'a> {
    pub app_id: &'a str,
    pub participant_id: &'a str,
    /// The token version the join's token carries (its `ver` claim); it joins only if that is the participant's
    /// current one. None: not checked here.
    pub token_version: Option<i64>,
    /// The participant is already in the live session (a resume, another tab): an INACTIVE meeting lets it in.
    pub member_of_live_session: bool,
}

/// What [`Db::admission_batch`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionBatch {
    /// The meeting, if any ask was admitted.
    pub meeting: Option<MeetingRow>,
    /// One answer per ask, in order.
    pub contexts: Vec<std::result::Result<JoinContext, JoinRefusal>>,
}

const COLUMNS: &str =
    "id, meeting_id, custom_participant_id, preset_name, name, picture, created_at, updated_at, token_version";

impl Db {
    pub async fn add_participant(
        &mut self,
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
        sqlx::query(&format!("INSERT INTO participants ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(&row.id)
            .bind(&row.meeting_id)
            .bind(&row.custom_participant_id)
            .bind(&row.preset_name)
            .bind(row.name.as_deref())
            .bind(row.picture.as_deref())
            .bind(&row.created_at)
            .bind(&row.updated_at)
            .bind(row.token_version)
            .execute(self.conn())
            .await?;
        Ok(row)
    }

    /// The participant if it belongs to the meeting.
    pub async fn participant(&mut self, meeting_id: &str, participant_id: &str) -> Result<Option<ParticipantRow>> {
        let sql = format!("SELECT {COLUMNS} FROM participants WHERE id = $1 AND meeting_id = $2");
        let row = sqlx::query(&sql).bind(participant_id).bind(meeting_id).fetch_optional(self.conn()).await?;
        row.as_ref().map(ParticipantRow::from_row).transpose()
    }

    /// A page of the meeting's participants, in the order they were added.
    pub async fn list_participants(&mut self, meeting_id: &str, page: PageRequest) -> Result<Page<ParticipantRow>> {
        let mut filter = Filter::default();
        filter.equals("meeting_id", meeting_id);
        let query = PagedQuery { columns: COLUMNS, from: "participants", filter, order: "created_at, rowid" };
        self.page(query, page, ParticipantRow::from_row).await
    }

    /// The meeting's participants with any of these ids or custom participant ids (a custom id may name several
    /// participants: the API does not make it unique), in the order they were added.
    pub async fn find_participants(
        &mut self,
        meeting_id: &str,
        ids: &[String],
        custom_ids: &[String],
    ) -> Result<Vec<ParticipantRow>> {
        let mut filter = Filter::default();
        let meeting = filter.bind(meeting_id);
        let mut any_of = |column: &str, values: &[String]| {
            let placeholders: Vec<String> = values.iter().map(|v| filter.bind(v.as_str())).collect();
            match placeholders.is_empty() {
                true => "1 = 0".to_owned(),
                false => format!("{column} IN ({})", placeholders.join(", ")),
            }
        };
        let (by_id, by_custom_id) = (any_of("id", ids), any_of("custom_participant_id", custom_ids));
        let sql = format!(
            "SELECT {COLUMNS} FROM participants WHERE meeting_id = {meeting} AND ({by_id} OR {by_custom_id})
             ORDER BY created_at, rowid"
        );
        let rows = bind_all(sqlx::query(&sql), filter.params()).fetch_all(self.conn()).await?;
        rows.iter().map(ParticipantRow::from_row).collect()
    }

    /// Deletes the participant; the deleted row, or None if the meeting has no such participant. Its tokens stop
    /// working: a join re-reads the participant.
    pub async fn delete_participant(
        &mut self,
        meeting_id: &str,
        participant_id: &str,
    ) -> Result<Option<ParticipantRow>> {
        let Some(row) = self.participant(meeting_id, participant_id).await? else { return Ok(None) };
        sqlx::query("DELETE FROM participants WHERE id = $1 AND meeting_id = $2")
            .bind(participant_id)
            .bind(meeting_id)
            .execute(self.conn())
            .await?;
        Ok(Some(row))
    }

    /// Changes the given fields (None leaves a field as it is); the updated row, or None if there is no such
    /// participant in the meeting.
    pub async fn update_participant(
        &mut self,
        meeting_id: &str,
        participant_id: &str,
        preset_name: Option<&str>,
        name: Option<&str>,
        picture: Option<&str>,
    ) -> Result<Option<ParticipantRow>> {
        sqlx::query(
            "UPDATE participants
             SET preset_name = COALESCE($1, preset_name), name = COALESCE($2, name),
                 picture = COALESCE($3, picture), updated_at = $4
             WHERE id = $5 AND meeting_id = $6",
        )
        .bind(preset_name)
        .bind(name)
        .bind(picture)
        .bind(clock::now())
        .bind(participant_id)
        .bind(meeting_id)
        .execute(self.conn())
        .await?;
        self.participant(meeting_id, participant_id).await
    }

    /// Raises the participant's token version (a token refresh): tokens issued before stop joining. The updated row,
    /// or None if there is no such participant in the meeting.
    pub async fn bump_token_version(
        &mut self,
        meeting_id: &str,
        participant_id: &str,
    ) -> Result<Option<ParticipantRow>> {
        sqlx::query("UPDATE participants SET token_version = token_version + 1 WHERE id = $1 AND meeting_id = $2")
            .bind(participant_id)
            .bind(meeting_id)
            .execute(self.conn())
            .await?;
        self.participant(meeting_id, participant_id).await
    }

    /// The meeting's participants among `ids` (at most [`super::batched::MAX_ROWS`] per query), by id.
    async fn participants_in(&mut self, meeting_id: &str, ids: &[&str]) -> Result<HashMap<String, ParticipantRow>> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(super::batched::MAX_ROWS) {
            let ids = padded(chunk);
            let sql = format!(
                "SELECT {COLUMNS} FROM participants WHERE meeting_id = $1 AND id IN ({})",
                placeholders(2, ids.len())
            );
            let mut query = sqlx::query(&sql).persistent(cached(ids.len())).bind(meeting_id);
            for id in ids {
                query = query.bind(id);
            }
            for row in query.fetch_all(self.conn()).await? {
                let row = ParticipantRow::from_row(&row)?;
                found.insert(row.id.clone(), row);
            }
        }
        Ok(found)
    }

    /// Whether the participant's tokens may join: its current token version, or [`TokenStanding::Deleted`].
    pub async fn token_standing(&mut self, meeting_id: &str, participant_id: &str) -> Result<TokenStanding> {
        let row = sqlx::query("SELECT token_version FROM participants WHERE id = $1 AND meeting_id = $2")
            .bind(participant_id)
            .bind(meeting_id)
            .fetch_optional(self.conn())
            .await?;
        let version: Option<i64> = row.map(|row| row.try_get(0)).transpose()?;
        Ok(version.map_or(TokenStanding::Deleted, TokenStanding::Current))
    }

    /// Reads the participant, its meeting and its current preset for a join. The ids come from a participant token,
    /// so each is checked against the others: a token for a deleted or moved participant is refused.
    pub async fn join_context(
        &mut self,
        app_id: &str,
        meeting_id: &str,
        participant_id: &str,
    ) -> Result<std::result::Result<JoinContext, JoinRefusal>> {
        self.admission_context(app_id, meeting_id, participant_id, false).await
    }

    /// [`Db::join_context`] that may let an INACTIVE meeting's participant in: `member_of_live_session` is true
    /// when the participant is already in the live session (a resume or another tab). INACTIVE stops new joins,
    /// not the session, so the people in it keep it over a network blip.
    pub async fn admission_context(
        &mut self,
        app_id: &str,
        meeting_id: &str,
        participant_id: &str,
        member_of_live_session: bool,
    ) -> Result<std::result::Result<JoinContext, JoinRefusal>> {
        let ask = AdmissionAsk { app_id, participant_id, token_version: None, member_of_live_session };
        let mut batch = self.admission_batch(meeting_id, &[ask]).await?;
        Ok(batch.contexts.pop().expect("one answer per ask"))
    }

    /// [`Db::admission_context`] of several joins of one meeting at once, each decided on its own: its token's
    /// version against the participant's current one ([`JoinRefusal::Token`], checked first), then the meeting
    /// (`NotFound`), the participant (`NotFound`), the meeting's status (`Inactive` unless already in the live
    /// session). The meeting and each preset are read once, the participants in one query: a batch costs a few
    /// statements, not a few per join.
    pub async fn admission_batch(&mut self, meeting_id: &str, asks: &[AdmissionAsk<'_>]) -> Result<AdmissionBatch> {
        let mut meetings: HashMap<&str, Option<MeetingRow>> = HashMap::new();
        for ask in asks {
            if !meetings.contains_key(ask.app_id) {
                let row = self.meeting(ask.app_id, meeting_id).await?;
                meetings.insert(ask.app_id, row);
            }
        }
        let mut ids: Vec<&str> = asks.iter().map(|ask| ask.participant_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let participants = self.participants_in(meeting_id, &ids).await?;
        let mut presets: HashMap<(&str, &str), Permissions> = HashMap::new();
        let mut admitted_meeting = None;
        let mut contexts = Vec::with_capacity(asks.len());
        for ask in asks {
            let row = participants.get(ask.participant_id);
            if let Some(version) = ask.token_version {
                let standing = row.map_or(TokenStanding::Deleted, |row| TokenStanding::Current(row.token_version));
                if standing != TokenStanding::Current(version) {
                    contexts.push(Err(JoinRefusal::Token(standing)));
                    continue;
                }
            }
            let Some(meeting) = &meetings[ask.app_id] else {
                contexts.push(Err(JoinRefusal::NotFound("the meeting no longer exists".into())));
                continue;
            };
            let Some(participant) = row else {
                contexts.push(Err(JoinRefusal::NotFound("the participant no longer exists".into())));
                continue;
            };
            if meeting.status == MeetingStatus::Inactive && !ask.member_of_live_session {
                contexts.push(Err(JoinRefusal::Inactive));
                continue;
            }
            let key = (ask.app_id, participant.preset_name.as_str());
            let permissions = match presets.get(&key) {
                Some(permissions) => *permissions,
                None => {
                    // A preset deleted after the participant was added grants nothing rather than refusing the join.
                    let preset = self.preset(ask.app_id, &participant.preset_name).await?;
                    let permissions = preset.map(|p| p.permissions()).unwrap_or_default();
                    presets.insert(key, permissions);
                    permissions
                }
            };
            admitted_meeting.get_or_insert_with(|| meeting.clone());
            contexts.push(Ok(JoinContext { participant: participant.to_wire(), permissions }));
        }
        Ok(AdmissionBatch { meeting: admitted_meeting, contexts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::with_meeting;

    #[tokio::test]
    async fn join_context_follows_the_current_preset_and_status() {
        for (store, app, meeting) in with_meeting().await {
            let mut db = store.db().await.unwrap();
            let p = db.add_participant(&meeting.id, "c-1", "group_call_participant", Some("Ann"), None).await.unwrap();
            let ctx = db.join_context(&app.id, &meeting.id, &p.id).await.unwrap().unwrap();
            assert!(!ctx.permissions.kick_participant);
            assert_eq!(ctx.participant.name, "Ann");

            let updated = db.update_participant(&meeting.id, &p.id, Some("group_call_host"), None, None).await.unwrap();
            assert_eq!(updated.unwrap().name.as_deref(), Some("Ann"), "fields not given are kept");
            let ctx = db.join_context(&app.id, &meeting.id, &p.id).await.unwrap().unwrap();
            assert!(ctx.permissions.kick_participant);

            let refused = db.join_context(&app.id, &meeting.id, "nobody").await.unwrap();
            assert!(matches!(refused, Err(JoinRefusal::NotFound(_))));
            let refused = db.join_context("other-app", &meeting.id, &p.id).await.unwrap();
            assert!(matches!(refused, Err(JoinRefusal::NotFound(_))));
            db.set_meeting_status(&app.id, &meeting.id, MeetingStatus::Inactive).await.unwrap();
            let refused = db.join_context(&app.id, &meeting.id, &p.id).await.unwrap();
            assert_eq!(refused, Err(JoinRefusal::Inactive));
        }
    }

    #[tokio::test]
    async fn a_batch_decides_each_join_on_its_own() {
        for (store, app, meeting) in with_meeting().await {
            let mut db = store.db().await.unwrap();
            let host = db.add_participant(&meeting.id, "h", "group_call_host", Some("Hal"), None).await.unwrap();
            let guest = db.add_participant(&meeting.id, "g", "group_call_participant", None, None).await.unwrap();
            let refreshed = db.add_participant(&meeting.id, "r", "group_call_participant", None, None).await.unwrap();
            db.bump_token_version(&meeting.id, &refreshed.id).await.unwrap();
            let gone = db.add_participant(&meeting.id, "d", "group_call_participant", None, None).await.unwrap();
            db.delete_participant(&meeting.id, &gone.id).await.unwrap();
            let ask = |app_id, participant_id, version, member| AdmissionAsk {
                app_id,
                participant_id,
                token_version: Some(version),
                member_of_live_session: member,
            };
            let asks = [
                ask(app.id.as_str(), host.id.as_str(), 0, false),
                ask(&app.id, &refreshed.id, 0, false),
                ask(&app.id, &gone.id, 0, false),
                ask(&app.id, &guest.id, 0, false),
                ask("other-app", &guest.id, 0, false),
                ask(&app.id, &guest.id, 0, false),
            ];
            let batch = db.admission_batch(&meeting.id, &asks).await.unwrap();
            assert_eq!(batch.meeting.as_ref().map(|m| m.id.as_str()), Some(meeting.id.as_str()));
            let c = &batch.contexts;
            assert_eq!(c.len(), asks.len());
            let host_ctx = c[0].as_ref().unwrap();
            assert!(host_ctx.permissions.kick_participant);
            assert_eq!(host_ctx.participant.name, "Hal");
            assert_eq!(c[1], Err(JoinRefusal::Token(TokenStanding::Current(1))));
            assert_eq!(c[2], Err(JoinRefusal::Token(TokenStanding::Deleted)));
            assert!(!c[3].as_ref().unwrap().permissions.kick_participant);
            assert!(matches!(c[4], Err(JoinRefusal::NotFound(_))), "another app's meeting is not this one");
            assert_eq!(c[5], c[3], "the same participant twice: the same answer twice");

            db.set_meeting_status(&app.id, &meeting.id, MeetingStatus::Inactive).await.unwrap();
            let asks = [ask(&app.id, &host.id, 0, true), ask(&app.id, &guest.id, 0, false)];
            let batch = db.admission_batch(&meeting.id, &asks).await.unwrap();
            assert!(batch.contexts[0].is_ok(), "INACTIVE lets a member of the live session back in");
            assert_eq!(batch.contexts[1], Err(JoinRefusal::Inactive));
        }
    }

    #[tokio::test]
    async fn refreshes_raise_the_token_version_and_deletes_end_it() {
        for (store, _, meeting) in with_meeting().await {
            let mut db = store.db().await.unwrap();
            let p = db.add_participant(&meeting.id, "c", "group_call_host", None, None).await.unwrap();
            assert_eq!(p.token_version, 0);
            assert_eq!(db.token_standing(&meeting.id, &p.id).await.unwrap(), TokenStanding::Current(0));
            let bumped = db.bump_token_version(&meeting.id, &p.id).await.unwrap().unwrap();
            assert_eq!(bumped.token_version, 1);
            assert_eq!(db.token_standing(&meeting.id, &p.id).await.unwrap(), TokenStanding::Current(1));
            assert_eq!(db.token_standing("other", &p.id).await.unwrap(), TokenStanding::Deleted);
            assert_eq!(db.bump_token_version("other", &p.id).await.unwrap(), None);
            db.delete_participant(&meeting.id, &p.id).await.unwrap();
            assert_eq!(db.token_standing(&meeting.id, &p.id).await.unwrap(), TokenStanding::Deleted);
        }
    }

    #[tokio::test]
    async fn participants_are_found_by_ids_or_custom_ids_listed_and_deleted() {
        for (store, _, meeting) in with_meeting().await {
            let mut db = store.db().await.unwrap();
            let mut added = Vec::new();
            for custom in ["ann", "bob", "ann"] {
                added
                    .push(db.add_participant(&meeting.id, custom, "group_call_participant", None, None).await.unwrap());
            }
            let (a, b, c) = (&added[0], &added[1], &added[2]);
            let found = db.find_participants(&meeting.id, std::slice::from_ref(&b.id), &["ann".into()]).await.unwrap();
            assert_eq!(found.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [&a.id, &b.id, &c.id]);
            assert!(db.find_participants("other", std::slice::from_ref(&a.id), &[]).await.unwrap().is_empty());
            assert!(db.find_participants(&meeting.id, &[], &[]).await.unwrap().is_empty());

            assert_eq!(db.delete_participant(&meeting.id, &b.id).await.unwrap(), Some(b.clone()));
            assert_eq!(db.delete_participant(&meeting.id, &b.id).await.unwrap(), None);
            let page = db.list_participants(&meeting.id, PageRequest::new(None, Some(1))).await.unwrap();
            assert_eq!((page.items[0].id.as_str(), page.total_count), (a.id.as_str(), 2));
        }
    }
}
