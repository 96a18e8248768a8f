//! Ends that race: every `kickAll` on a session that ends gets an answer the client resolves with, the same for
//! all; and the reliability suite's 1,000 join-vs-end races (REST and WebSocket ends mixed), after which nobody is
//! left in an ENDED session, every joiner is in a new session or told `ended`, and a real receiver got exactly one
//! signed `meeting.ended` per session.

mod common;
mod receiver;

use common::{Joiner, Meeting, TestServer};
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame};
use futures_util::future::join_all;
use receiver::Receiver;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// What a host's client resolves its `kickAll` with: `(session id, kicked count, ended by this call)`, from the
/// `KickAllResult` if it came, else from the `RoomLeft { ended }` that closed the socket.
fn resolution(frames: &[ServerFrame]) -> (String, u32, bool) {
    for frame in frames {
        if let ServerFrame::KickAllResult { session_id, kicked_count, already_ended, .. } = frame {
            return (session_id.clone(), *kicked_count, !already_ended);
        }
    }
    for frame in frames {
        if let ServerFrame::RoomLeft { state: LeaveState::Ended, session_id, kicked_count, .. } = frame {
            let count = kicked_count.expect("a RoomLeft { ended } carries the end's kicked count");
            return (session_id.clone(), count, false);
        }
    }
    panic!("neither a KickAllResult nor a RoomLeft {{ ended }}: {frames:?}")
}

async fn kick_all_race(server: &TestServer, round: usize) {
    let meeting = server.meeting().await;
    let (_, h1_token) = server.host(&meeting).await;
    let (_, h2_token) = server.host(&meeting).await;
    let (mut h1, session) = server.join(&h1_token).await;
    let (mut h2, _) = server.join(&h2_token).await;
    assert!(matches!(h1.recv().await, ServerFrame::ParticipantJoined { .. }));

    // Both hosts and the backend end it at once; the order varies with the round.
    let rest = async {
        if round.is_multiple_of(3) {
            tokio::task::yield_now().await;
        }
        server.rest_kick_all(&meeting).await["kicked_participants_count"].as_u64().unwrap() as u32
    };
    let first = async {
        h1.send(&ClientFrame::kick_all(1)).await;
        h1.until_closed().await
    };
    let second = async {
        if round.is_multiple_of(2) {
            tokio::task::yield_now().await;
        }
        h2.send(&ClientFrame::kick_all(1)).await;
        h2.until_closed().await
    };
    let (rest_count, h1_frames, h2_frames) = tokio::join!(rest, first, second);
    let answers = [resolution(&h1_frames), resolution(&h2_frames)];
    for (answer_session, count, _) in &answers {
        assert_eq!((answer_session.as_str(), *count), (session.as_str(), 2), "round {round}: {answers:?}");
    }
    let enders = answers.iter().filter(|(_, _, ended)| *ended).count() + usize::from(rest_count > 0);
    assert_eq!(enders, 1, "round {round}: exactly one call ended it: {answers:?}, REST {rest_count}");
    assert!(rest_count == 0 || rest_count == 2, "round {round}: REST counted {rest_count}");

    // Just after: a host whose socket closed before its kickAll got out resumes and is told the same answer.
    for token in [&h1_token, &h2_token] {
        let (mut ws, answer) = server.join_with(token, Some(&session)).await;
        assert_eq!(resolution(std::slice::from_ref(&answer)), (session.clone(), 2, false), "round {round}");
        ws.expect_closed().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kick_all_on_an_ending_session_is_answered_with_the_same_result() {
    let server = TestServer::start().await;
    for batch in 0..6 {
        join_all((0..10).map(|i| kick_all_race(&server, batch * 10 + i))).await;
    }
}

/// One meeting's share of the races, one after another: each race starts a session with the host, then a joiner
/// joins while the session is ended by the backend (even races) or by the host's kickAll (odd ones). Returns the
/// sessions and how many joiners were admitted to the ending session (and told ended).
async fn races_in_one_meeting(server: &TestServer, meeting: Meeting, races: usize) -> (Vec<String>, usize) {
    let mut with_the_end = 0;
    let (_, host_token) = server.host(&meeting).await;
    let (_, joiner_token) = server.guest(&meeting).await;
    let mut sessions = Vec::new();
    for race in 0..races {
        let joiner =
            common::join_vs_end_race(server, server, server, &meeting, &host_token, &joiner_token, race, &mut sessions)
                .await;
        if matches!(joiner, Joiner::EndedWithIt) {
            with_the_end += 1;
        }
        let ended = server.admin(Method::GET, &TestServer::meeting_path(&meeting, "/active-session"), None).await;
        assert_eq!(ended["status"], "ENDED");
    }
    (sessions, with_the_end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_join_vs_end_races_leave_nobody_in_an_ended_session_and_one_webhook_each() {
    const MEETINGS: usize = 20;
    const RACES_PER_MEETING: usize = 50;
    let server = TestServer::start().await;
    let (receiver, url) = Receiver::start().await;
    receiver.trust(&server.base).await;
    let app = server.admin(Method::POST, "/apps", Some(json!({ "name": "races" }))).await;
    let app_id = app["app"]["id"].as_str().unwrap().to_owned();
    let hook = json!({ "name": "ended", "url": url, "events": ["meeting.ended"] });
    server.admin(Method::POST, &format!("/{app_id}/webhooks"), Some(hook)).await;

    let mut meetings = Vec::new();
    for _ in 0..MEETINGS {
        meetings.push(server.meeting_in(&app_id).await);
    }
    // The meetings race in parallel, the races of one meeting one after another.
    let outcomes = join_all(meetings.into_iter().map(|m| races_in_one_meeting(&server, m, RACES_PER_MEETING))).await;
    let with_the_end: usize = outcomes.iter().map(|(_, n)| n).sum();
    let sessions: Vec<String> = outcomes.into_iter().flat_map(|(sessions, _)| sessions).collect();
    // Which side won varies with the machine's load: reported, not asserted.
    eprintln!(
        "{} races: {with_the_end} joiners admitted to the ending session and told ended, {} in a new session",
        MEETINGS * RACES_PER_MEETING,
        MEETINGS * RACES_PER_MEETING - with_the_end
    );
    assert!(sessions.len() >= MEETINGS * RACES_PER_MEETING);

    // Half a second longer: nothing beyond one per session may arrive.
    let received = || receiver.events().iter().map(|e| (e.name().to_owned(), e.session_id().to_owned())).collect();
    common::one_meeting_ended_per_session(&sessions, Duration::from_secs(120), Duration::from_millis(500), received)
        .await;
    assert_eq!(*receiver.forged.lock().unwrap(), 0, "every delivery was signed");
}
