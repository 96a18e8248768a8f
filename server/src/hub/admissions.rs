//! Joins admitted together: the joins of one meeting that arrive while its room lock is taken wait in the meeting's
//! queue ([`Admissions`]), and whoever takes the lock next admits up to [`ADMISSION_BATCH`] of them at once
//! ([`Transitions::join_batch`]: one store transaction, committed before any of them is answered), then answers each.
//! A join answered meanwhile by another's batch does not take the lock at all.
//!
//! Hand-written rather than a channel with a consumer task: the consumer must be whoever holds the room lock (the
//! batch is a transition under it, ordered with the meeting's ends, leaves and kicks), and a joiner must be able to
//! take its request back if it goes away before being admitted.
//!
//! Why it keeps the hub's guarantees: a batch is one transition under the room lock, and joins that were queued
//! when an end took the lock are admitted after it, in a new session (or told `ended` if they resume the ended one),
//! as a join that came after the end would be.

use super::{Entry, Inner, RoomGuard};
use crate::hub::hub_core::HubCore;
use crate::hub::transitions::Transitions;
use crate::hub::{JoinOutcome, JoinRequest};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::oneshot;

/// At most this many joins are admitted in one store transaction (the multi-row statements stay within
/// `store::batched::MAX_ROWS`).
pub const ADMISSION_BATCH: usize = 256;

/// At most this many joins of one meeting wait in its queue; one more waits for the room lock on its own (and is
/// admitted alone, as before batching): the queue's bound loses nobody.
pub const ADMISSION_QUEUE: usize = 4096;

/// The joins of one meeting waiting for its room lock, oldest first.
#[derive(Default)]
pub(super) struct Admissions {
    waiting: VecDeque<Waiting>,
    next_ticket: u64,
    /// The meeting's room was retired: a join must look the meeting up again.
    closed: bool,
}

struct Waiting {
    ticket: u64,
    request: JoinRequest,
    answer: oneshot::Sender<JoinOutcome>,
}

/// Why [`Admissions::push`] gave the request back.
enum NotQueued {
    /// The room was retired: look the meeting up again.
    Closed(JoinRequest, oneshot::Sender<JoinOutcome>),
    /// [`ADMISSION_QUEUE`] joins wait already.
    Full(JoinRequest),
}

impl Admissions {
    /// Queues a join; its ticket, to withdraw it.
    fn push(&mut self, request: JoinRequest, answer: oneshot::Sender<JoinOutcome>) -> Result<u64, NotQueued> {
        if self.closed {
            return Err(NotQueued::Closed(request, answer));
        }
        if self.waiting.len() >= ADMISSION_QUEUE {
            return Err(NotQueued::Full(request));
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.push_back(Waiting { ticket, request, answer });
        Ok(ticket)
    }

    /// Takes the oldest `max` joins.
    fn take(&mut self, max: usize) -> Vec<Waiting> {
        let n = self.waiting.len().min(max);
        self.waiting.drain(..n).collect()
    }

    /// Removes the join if it is still queued (its connection went away).
    fn withdraw(&mut self, ticket: u64) {
        if let Some(at) = self.waiting.iter().position(|w| w.ticket == ticket) {
            self.waiting.remove(at);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The room is retired (only when no join waits): later joins look the meeting up again.
    pub(super) fn close(&mut self) {
        self.closed = true;
    }
}

/// Withdraws a queued join whose joiner went away (its future dropped) before it was answered.
struct Withdraw<'a> {
    entry: &'a Entry,
    ticket: Option<u64>,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.entry.admissions.lock().unwrap_or_else(|p| p.into_inner()).withdraw(ticket);
        }
    }
}

impl Inner {
    /// [`super::super::Hub::join`]: queues the join with its meeting, then waits for whichever comes first, its
    /// answer (another join's batch admitted it) or the room lock (it admits the queued joins itself, then looks
    /// again: the batch it admitted may not have reached it).
    pub(super) async fn join(self: &Arc<Self>, request: JoinRequest) -> JoinOutcome {
        if self.halted() {
            return JoinOutcome::Unavailable;
        }
        let meeting_id = request.meeting_id.clone();
        let (answer_tx, mut answer) = oneshot::channel();
        let mut pending = (request, answer_tx);
        let (entry, ticket) = loop {
            let entry = self.entry(&meeting_id);
            let pushed = entry.admissions.lock().unwrap_or_else(|p| p.into_inner()).push(pending.0, pending.1);
            match pushed {
                Ok(ticket) => break (entry, ticket),
                Err(NotQueued::Closed(request, answer_tx)) => pending = (request, answer_tx),
                Err(NotQueued::Full(request)) => {
                    let mut room = self.lock(&meeting_id).await;
                    return self.join_room(&mut room, request, |outbox| self.connect(outbox)).await;
                }
            }
        };
        let mut withdraw = Withdraw { entry: &entry, ticket: Some(ticket) };
        loop {
            tokio::select! {
                // An answer first: once admitted by another's batch, this join has nothing to do under the lock.
                biased;
                answered = &mut answer => {
                    withdraw.ticket = None;
                    // The sender is dropped unanswered only if the batch's task was torn down: nothing was joined.
                    return answered.unwrap_or(JoinOutcome::Unavailable);
                }
                guard = entry.slot.clone().lock_owned() => {
                    if guard.retired {
                        // Retired only with nobody queued: this join was taken by a batch, which answered it
                        // before it released the lock.
                        drop(guard);
                        withdraw.ticket = None;
                        return answer.await.unwrap_or(JoinOutcome::Unavailable);
                    }
                    let mut room = RoomGuard { inner: self, meeting_id: meeting_id.clone(), entry: entry.clone(), guard };
                    self.admit_waiting(&mut room).await;
                }
            }
        }
    }

    /// Admits the oldest queued joins of the locked room (up to [`ADMISSION_BATCH`]) and answers each.
    async fn admit_waiting(self: &Arc<Self>, room: &mut RoomGuard<'_>) {
        let batch = room.entry.admissions.lock().unwrap_or_else(|p| p.into_inner()).take(ADMISSION_BATCH);
        if batch.is_empty() {
            return;
        }
        let (requests, answers): (Vec<_>, Vec<_>) = batch.into_iter().map(|w| (w.request, w.answer)).unzip();
        let outcomes = self.join_batch(room, requests, |outbox| self.connect(outbox)).await;
        for (answer, outcome) in answers.into_iter().zip(outcomes) {
            if let Err(JoinOutcome::Joined { seat, .. }) = answer.send(outcome) {
                // Its connection went away while the batch was admitted: it dropped, as a lost connection does.
                self.disconnect_room(room, &seat).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Outbox;

    fn request(participant_id: &str) -> JoinRequest {
        JoinRequest {
            app_id: "a".into(),
            meeting_id: "m".into(),
            participant_id: participant_id.into(),
            resume: None,
            outbox: Outbox::bounded(4).0,
            token_version: 0,
        }
    }

    #[test]
    fn the_queue_keeps_order_gives_back_withdrawn_joins_and_refuses_past_its_bound_or_once_closed() {
        let mut admissions = Admissions::default();
        let tickets: Vec<u64> = ["p0", "p1", "p2"]
            .into_iter()
            .map(|p| admissions.push(request(p), oneshot::channel().0).ok().unwrap())
            .collect();
        admissions.withdraw(tickets[1]);
        let taken: Vec<String> = admissions.take(8).into_iter().map(|w| w.request.participant_id).collect();
        assert_eq!(taken, ["p0", "p2"]);
        assert!(admissions.is_empty());

        for i in 0..ADMISSION_QUEUE {
            assert!(admissions.push(request(&format!("q{i}")), oneshot::channel().0).is_ok());
        }
        assert!(matches!(admissions.push(request("over"), oneshot::channel().0), Err(NotQueued::Full(_))));
        assert_eq!(admissions.take(ADMISSION_BATCH).len(), ADMISSION_BATCH);
        admissions.take(ADMISSION_QUEUE);
        admissions.close();
        assert!(matches!(admissions.push(request("late"), oneshot::channel().0), Err(NotQueued::Closed(..))));
    }
}
