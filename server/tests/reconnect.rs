//! A dropped socket: resuming within the grace, learning `ended` after an end, and removal after the grace.

mod common;

use common::{TestServer, GUARD};
use endsession_protocol::{ClientFrame, EndReason, LeaveState, ServerFrame};
use std::time::Duration;

#[tokio::test]
async fn a_dropped_participant_resumes_the_same_session_within_the_grace() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let (a_id, a_token) = server.guest(&meeting).await;
    let (b_id, b_token) = server.guest(&meeting).await;
    let (a, session) = server.join(&a_token).await;
    let (mut b, _) = server.join(&b_token).await;

    a.drop_abruptly();
    let (_a, answer) = server.join_with(&a_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, participants, self_participant, .. } => {
            assert_eq!(session_id, session);
            assert!(reconnected);
            assert_eq!(self_participant.id, a_id);
            assert_eq!(participants.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [b_id.as_str()]);
        }
        other => panic!("expected joined, got {other:?}"),
    }

    // b saw neither a leave nor a second join: its next frame is about a newcomer.
    let (c_id, c_token) = server.guest(&meeting).await;
    let (_c, _) = server.join(&c_token).await;
    match b.recv().await {
        ServerFrame::ParticipantJoined { participant } => assert_eq!(participant.id, c_id),
        other => panic!("expected participantJoined(c), got {other:?}"),
    }
}

#[tokio::test]
async fn resuming_a_session_that_ended_meanwhile_learns_ended() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let (_, guest_token) = server.guest(&meeting).await;
    let (mut host, session) = server.join(&host_token).await;
    let (guest, _) = server.join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));

    guest.drop_abruptly();
    host.send(&ClientFrame::kick_all(1)).await;
    let frames = host.until_closed().await;
    assert_eq!(
        frames[0],
        ServerFrame::KickAllResult { id: 1, session_id: session.clone(), kicked_count: 2, already_ended: false },
        "the absent guest is counted"
    );

    let (mut guest, answer) = server.join_with(&guest_token, Some(&session)).await;
    assert!(
        matches!(
            &answer,
            ServerFrame::RoomLeft {
                state: LeaveState::Ended,
                reason: Some(EndReason::HostEndedMeeting),
                kicked_count: Some(2),
                ..
            }
        ),
        "the same count the kickAll got, so a client whose kickAll crossed the end resolves with it: {answer:?}"
    );
    assert_eq!(frames.last(), Some(&answer), "the very record the host got");
    guest.expect_closed().await;
}

#[tokio::test]
async fn after_the_grace_the_participant_is_removed_and_an_empty_session_ends() {
    let server = TestServer::start_with_grace(Duration::from_millis(200)).await;
    let meeting = server.meeting().await;
    let (a_id, a_token) = server.guest(&meeting).await;
    let (_, b_token) = server.guest(&meeting).await;
    let (a, session) = server.join(&a_token).await;
    let (b, _) = server.join(&b_token).await;

    a.drop_abruptly();
    let mut b = b;
    assert_eq!(b.recv().await, ServerFrame::ParticipantLeft { participant_id: a_id });

    b.drop_abruptly();
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let (_, body) = server.active_session(&meeting).await;
        if body["data"]["status"] == "ENDED" {
            assert_eq!(body["data"]["id"], session.as_str());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the session did not end after the grace: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = server.server.store().db().await.unwrap().session(&meeting.id, &session).await.unwrap().unwrap();
    assert_eq!(row.end_reason, Some(EndReason::AllParticipantsLeft));

    // Too late to resume into it: the client learns it ended.
    let (_, answer) = server.join_with(&a_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::RoomLeft { state: LeaveState::Ended, .. }), "{answer:?}");
}
