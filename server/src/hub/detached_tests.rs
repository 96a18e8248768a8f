//! A caller dropped at any point of a transition leaves no half-done end: the session either goes on as before, or
//! is ended in the store, gone from the hub and told to every participant.

use super::*;
use crate::hub::{Inbox, LocalHub, Outbound, Outbox, Queued};
use crate::store::{test_db, MeetingRow};
use endsession_protocol::{LeaveState, ServerFrame};
use std::time::Duration;

/// Takes frames until `RoomLeft` or the hub lets go; returns the `RoomLeft`'s state, if one came.
async fn room_left(inbox: &mut Inbox, bound: Duration) -> Option<LeaveState> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let Ok(queued) = tokio::time::timeout_at(deadline, inbox.next()).await else { return None };
        match queued {
            Queued::Message(Outbound::Frame(text) | Outbound::Final(text, _)) => {
                if let Ok(ServerFrame::RoomLeft { state, .. }) = serde_json::from_str(text.as_str()) {
                    return Some(state);
                }
            }
            Queued::Lagging | Queued::Reconnect | Queued::Closed => return None,
        }
    }
}

/// A new meeting of the app with one host: the meeting, the host's join request, and its connection's inbox.
async fn a_participant_to_join(store: &crate::store::Store, app_id: &str) -> (MeetingRow, JoinRequest, Inbox) {
    let mut db = store.db().await.unwrap();
    let meeting = db.create_meeting(app_id, None, Default::default()).await.unwrap();
    let participant = db.add_participant(&meeting.id, "p", "group_call_host", Some("P"), None).await.unwrap();
    let (outbox, inbox) = Outbox::bounded(64);
    let request = JoinRequest {
        app_id: app_id.to_owned(),
        meeting_id: meeting.id.clone(),
        participant_id: participant.id,
        token_version: participant.token_version,
        resume: None,
        outbox,
    };
    (meeting, request, inbox)
}

/// How many drop points each test tries (the end takes a few dozen polls on either store).
const STEPS: u32 = 120;

/// Ends a session through `hub` with its caller dropped after `budget`, for budgets from nothing to past the
/// end's completion; after each, the store, the hub and the participant agree.
async fn an_end_whose_caller_is_dropped_is_whole_or_nothing(hub: Arc<dyn Hub>, store: &crate::store::Store) {
    let app = store.db().await.unwrap().create_app("acct", "a").await.unwrap();
    let mut ended_whole = 0;
    for step in 0..STEPS {
        let (meeting, request, mut inbox) = a_participant_to_join(store, &app.id).await;
        let JoinOutcome::Joined { seat, .. } = hub.join(request).await else { panic!("the join failed") };

        // Dropped after `step` polls, each followed by a yield to the runtime: from before the lock to after the
        // end told everyone.
        let mut end = Box::pin(hub.end_session(&meeting.id, EndOptions::default()));
        for _ in 0..step {
            if futures_util::FutureExt::now_or_never(end.as_mut()).is_some() {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(end);

        let told = room_left(&mut inbox, Duration::from_secs(5)).await;
        let row = store.db().await.unwrap().session(&meeting.id, &seat.session_id).await.unwrap().unwrap();
        let live = hub.live_session(&meeting.id).await;
        match told {
            Some(LeaveState::Ended) => {
                ended_whole += 1;
                assert!(row.ended_at.is_some(), "step {step}: told ended, but the store has it live: {row:?}");
                assert!(live.is_none(), "step {step}: told ended, but the hub has it live: {live:?}");
            }
            None => {
                assert!(row.ended_at.is_none(), "step {step}: ended in the store, nobody told: {row:?}");
                assert_eq!(live.map(|l| l.session_id), Some(seat.session_id.clone()), "step {step}");
            }
            Some(other) => panic!("step {step}: told {other:?}"),
        }
    }
    assert!(ended_whole > 0, "no budget was long enough for the end to complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_hub_finishes_every_end_whose_caller_was_dropped() {
    for store in test_db::stores().await {
        let local: Arc<dyn Hub> = Arc::new(LocalHub::new((*store).clone(), Duration::from_secs(30)));
        let hub: Arc<dyn Hub> = Arc::new(Detached::new(local));
        an_end_whose_caller_is_dropped_is_whole_or_nothing(hub, &store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_caller_is_gone_when_it_completes_is_undone_as_a_dropped_connection() {
    let store = test_db::fresh_sqlite().await;
    let grace = Duration::from_millis(300);
    let hub: Arc<dyn Hub> = Arc::new(Detached::new(Arc::new(LocalHub::new((*store).clone(), grace))));
    let app = store.db().await.unwrap().create_app("acct", "a").await.unwrap();
    let (meeting, request, _inbox) = a_participant_to_join(&store, &app.id).await;
    // The caller gives up at once; the join completes without it.
    let _ = tokio::time::timeout(Duration::ZERO, hub.join(request)).await;
    // Nobody reads that connection: it is absent, then removed after the grace, and the session ends empty.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row = store.db().await.unwrap().latest_session(&meeting.id).await.unwrap();
        if row.as_ref().is_some_and(|r| r.ended_at.is_some()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a join nobody waited for stayed in the session: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hub.live_session(&meeting.id).await.is_none());
}
