//! Arrivals in bulk: the stays of a batch of joins admitted together (see `hub/transitions.rs`), with their
//! `meeting.participantJoined` events, in the caller's transaction. A child of `lifecycle.rs`, so that the stays are
//! still written only where their events are.

use super::super::batched::{cached, pow2_chunks, row_placeholders};
use super::{context, Subject};
use crate::store::{new_id, OpenStay, Result, Tx, WebhookEvent};
use endsession_protocol::Participant;

impl Tx {
    /// [`Tx::record_arrival`] of several participants new to the session, all at `at`: their stays in a few
    /// multi-row `INSERT`s, then (if anyone subscribed to it) one `meeting.participantJoined` per stay, in the order
    /// given, written in a few multi-row statements too. Each participant must appear once.
    pub async fn record_arrivals(
        &mut self,
        meeting_id: &str,
        session_id: &str,
        participants: &[&Participant],
        at: &str,
    ) -> Result<()> {
        let stays: Vec<OpenStay> = participants
            .iter()
            .map(|participant| OpenStay {
                id: new_id(),
                participant_id: participant.id.clone(),
                custom_participant_id: participant.custom_participant_id.clone(),
                // An empty name is no name, as `insert_stay` stores it.
                name: Some(participant.name.clone()).filter(|name| !name.is_empty()),
                preset_name: participant.preset_name.clone(),
                joined_at: at.to_owned(),
            })
            .collect();
        for chunk in pow2_chunks(stays.len()) {
            let sql = format!(
                "INSERT INTO session_participants
                   (id, session_id, participant_id, custom_participant_id, name, preset_name, joined_at)
                 VALUES {}",
                row_placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql).persistent(cached(chunk.len()));
            for stay in &stays[chunk] {
                query = query
                    .bind(&stay.id)
                    .bind(session_id)
                    .bind(&stay.participant_id)
                    .bind(&stay.custom_participant_id)
                    .bind(stay.name.as_deref())
                    .bind(&stay.preset_name)
                    .bind(&stay.joined_at);
            }
            query.execute(self.conn()).await?;
        }
        let hooks = self.webhook_subscribers(meeting_id, WebhookEvent::ParticipantJoined).await?;
        if hooks.is_empty() || stays.is_empty() {
            return Ok(());
        }
        let Some((meeting, started_at)) = context(self, meeting_id, session_id).await? else { return Ok(()) };
        let subject = Subject { meeting: &meeting, session_id, started_at: &started_at, ended_at: None };
        subject.joined_events(self, &stays, &hooks).await
    }
}
