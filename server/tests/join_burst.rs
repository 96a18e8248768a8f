//! Many joins of one meeting at once (issue 15, "Joins"): the joins waiting for the meeting together are admitted
//! together, in one store transaction, and each is still what it would have been alone. Over real sockets, on SQLite
//! and on Postgres: every good token gets `Joined` as its own participant in one session, with its attendance row
//! (REST history) and its signed `meeting.participantJoined` at a real receiver, durable before its `Joined`; a bad
//! token among them (refreshed, deleted, forged) is refused alone with its reason; a second tab of a participant in
//! the same burst is one stay; an INACTIVE meeting refuses every join of a burst and records nothing; and a burst
//! racing an end lands each join in the ended session (then told `ended`) or in a new one.

mod common;
mod webhook_support;

use common::{Meeting, TestServer, Ws};
use endsession_protocol::{ClientFrame, ErrorCode, LeaveState, ServerFrame, PROTOCOL_VERSION};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::Barrier;
use webhook_support::{subscribe, Answer, Receiver, PATIENCE};

/// Participants joining in the big burst.
const BURST: usize = 500;
/// How many of their `meeting.participantJoined` deliveries the receiver waits for.
const DELIVERED: usize = 20;

/// The servers to run on: one on SQLite, and one on Postgres when the tests have one (see `common::postgres`).
async fn servers() -> Vec<(&'static str, TestServer)> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut servers = vec![("sqlite", TestServer::start().await)];
    if let Some(mut nodes) = TestServer::nodes_on_postgres(1, |_| {}).await {
        servers.push(("postgres", nodes.remove(0)));
    }
    servers
}

/// Opens one socket per token, then sends every `join` at the same moment (a barrier): the server gets them
/// together. Returns each socket with the server's first answer, in the order of `tokens`.
async fn join_at_once(server: &TestServer, tokens: &[String]) -> Vec<(Ws, ServerFrame)> {
    let sockets = join_all(tokens.iter().map(|_| server.connect())).await;
    let barrier = Arc::new(Barrier::new(tokens.len()));
    let joins = sockets.into_iter().zip(tokens).map(|(mut ws, token)| {
        let (barrier, token) = (barrier.clone(), token.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            ws.send(&ClientFrame::Join { token, resume: None, version: PROTOCOL_VERSION }).await;
            let answer = ws.recv().await;
            (ws, answer)
        })
    });
    join_all(joins).await.into_iter().map(Result::unwrap).collect()
}

/// `count` guests of the meeting, added concurrently: (participant id, token).
async fn guests(server: &TestServer, meeting: &Meeting, count: usize) -> Vec<(String, String)> {
    let mut added = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(25) {
        added.extend(join_all(chunk.iter().map(|_| server.guest(meeting))).await);
    }
    added
}

/// Every stay of the session, from the REST history (pages of 100): the participant ids, in arrival order.
async fn stays(server: &TestServer, meeting: &Meeting, session: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for page in 1.. {
        let path = format!("/{}/sessions/{session}/participants?per_page=100&page_no={page}", meeting.app_id);
        let body = server.admin(Method::GET, &path, None).await;
        let items = body["participants"].as_array().expect("a page of stays").clone();
        if items.is_empty() {
            break;
        }
        ids.extend(items.iter().map(|stay| stay["user_id"].as_str().unwrap().to_owned()));
    }
    ids
}

fn refusal(answer: &ServerFrame) -> (ErrorCode, String) {
    match answer {
        ServerFrame::Error { code, message, .. } => (*code, message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_burst_of_joins_is_each_joined_recorded_and_announced_and_bad_tokens_are_refused_alone() {
    for (store, server) in servers().await {
        let receiver = Receiver::start(&server, |_, _| Answer::Status(200)).await;
        let meeting = server.meeting().await;
        subscribe(&server, &meeting, &receiver.url, &["meeting.participantJoined"]).await;
        let good = guests(&server, &meeting, BURST).await;

        // The bad ones: a token replaced by a refresh, a deleted participant's token, a token this server never
        // signed. Each is checked in the same transaction as the others' admissions (the forged one before).
        let (refreshed_id, stale_token) = server.guest(&meeting).await;
        let path = TestServer::meeting_path(&meeting, &format!("/participants/{refreshed_id}/token"));
        server.admin(Method::POST, &path, None).await;
        let (deleted_id, deleted_token) = server.guest(&meeting).await;
        let path = TestServer::meeting_path(&meeting, &format!("/participants/{deleted_id}"));
        server.admin(Method::DELETE, &path, None).await;
        let forged = format!("{}x", good[0].1);

        // The bad ones in the middle of the burst, and a second tab of the first guest at its end.
        let mut tokens: Vec<String> = good.iter().map(|(_, token)| token.clone()).collect();
        tokens.insert(BURST / 2, stale_token);
        tokens.insert(BURST / 2 + 1, deleted_token);
        tokens.insert(BURST / 2 + 2, forged);
        tokens.push(good[0].1.clone());
        let answers = join_at_once(&server, &tokens).await;

        let mut joined: HashMap<String, usize> = HashMap::new();
        let mut sessions = BTreeSet::new();
        let mut refused = Vec::new();
        let mut sockets = Vec::new();
        for (ws, answer) in answers {
            match &answer {
                ServerFrame::Joined { session_id, self_participant, .. } => {
                    sessions.insert(session_id.clone());
                    *joined.entry(self_participant.id.clone()).or_default() += 1;
                    sockets.push(ws);
                }
                _ => refused.push((refusal(&answer), ws)),
            }
        }
        assert_eq!(sessions.len(), 1, "{store}: one session for the whole burst: {sessions:?}");
        let session = sessions.into_iter().next().unwrap();
        let expected: BTreeSet<String> = good.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(joined.keys().cloned().collect::<BTreeSet<_>>(), expected, "{store}: every good token joined");
        assert_eq!(joined[&good[0].0], 2, "{store}: both tabs of the first guest joined");
        assert_eq!(joined.values().sum::<usize>(), BURST + 1);

        let mut reasons: Vec<String> = Vec::new();
        for ((code, message), mut ws) in refused {
            assert_eq!(code, ErrorCode::InvalidToken, "{store}: {message}");
            ws.expect_closed().await;
            reasons.push(message);
        }
        reasons.sort();
        assert_eq!(reasons.len(), 3, "{store}: the three bad tokens and nothing else refused: {reasons:?}");
        assert!(reasons.iter().any(|m| m.contains("replaced by a refresh")), "{store}: {reasons:?}");
        assert!(reasons.iter().any(|m| m.contains("participant was deleted")), "{store}: {reasons:?}");
        assert!(reasons.iter().any(|m| m.starts_with("invalid participant token")), "{store}: {reasons:?}");

        // Durable before `Joined`: the history already has one stay per participant (two tabs are one stay), and
        // the live session counts them.
        let recorded = stays(&server, &meeting, &session).await;
        assert_eq!(recorded.len(), BURST, "{store}: one stay per participant");
        assert_eq!(recorded.iter().cloned().collect::<BTreeSet<_>>(), expected, "{store}");
        let (_, live) = server.active_session(&meeting).await;
        assert_eq!(live["data"]["live_participants"], json!(BURST), "{store}: {live}");

        // Durable before `Joined` too: one `meeting.participantJoined` per participant of this session in the
        // webhook outbox (none for the second tab).
        let events = server.server.store().db().await.unwrap().webhook_events(&meeting.app_id).await.unwrap();
        let announced: Vec<String> = events
            .iter()
            .filter(|(_, event, _)| event == "meeting.participantJoined")
            .map(|(_, _, body)| {
                let body: serde_json::Value = serde_json::from_slice(body).unwrap();
                assert_eq!(body["meeting"]["sessionId"], json!(session), "{store}: {body}");
                body["participant"]["id"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(announced.len(), BURST, "{store}: one event per participant");
        assert_eq!(announced.iter().cloned().collect::<BTreeSet<_>>(), expected, "{store}");
        // And they go out, signed, in the order they were recorded (the receiver is waited for only for the first
        // ones: the delivery of 500 events one after the other is the webhook worker's pace, not the joins').
        let first: Vec<String> = announced[..DELIVERED].to_vec();
        let got =
            receiver.wait_until(PATIENCE, "the first participantJoined deliveries", |got| got.len() >= DELIVERED).await;
        assert!(got.iter().all(|d| d.verified), "{store}: every delivery's signature verifies");
        let delivered: Vec<String> =
            got[..DELIVERED].iter().map(|d| d.json()["participant"]["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(delivered, first, "{store}");

        // Everyone is really in: the session ends for all of them.
        server.rest_kick_all(&meeting).await;
        for mut ws in sockets {
            let frames = ws.until_closed().await;
            assert!(
                matches!(frames.last(), Some(ServerFrame::RoomLeft { state: LeaveState::Ended, session_id, .. }) if *session_id == session),
                "{store}: {frames:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_burst_on_an_inactive_meeting_is_refused_join_by_join_and_records_nothing() {
    for (store, server) in servers().await {
        let meeting = server.meeting().await;
        let people = guests(&server, &meeting, 40).await;
        let path = TestServer::meeting_path(&meeting, "");
        server.admin(Method::PATCH, &path, Some(json!({ "status": "INACTIVE" }))).await;
        let tokens: Vec<String> = people.iter().map(|(_, token)| token.clone()).collect();
        for (mut ws, answer) in join_at_once(&server, &tokens).await {
            assert_eq!(refusal(&answer).0, ErrorCode::MeetingInactive, "{store}");
            ws.expect_closed().await;
        }
        let sessions = server.admin(Method::GET, &format!("/{}/sessions", meeting.app_id), None).await;
        assert_eq!(sessions["sessions"], json!([]), "{store}: no session was started");

        // Made ACTIVE again, the same burst joins.
        server.admin(Method::PATCH, &path, Some(json!({ "status": "ACTIVE" }))).await;
        let answers = join_at_once(&server, &tokens).await;
        assert!(answers.iter().all(|(_, answer)| matches!(answer, ServerFrame::Joined { .. })), "{store}");
    }
}

#[tokio::test]
async fn a_burst_racing_an_end_lands_each_join_in_the_ended_session_told_ended_or_in_a_new_one() {
    for (store, server) in servers().await {
        let meeting = server.meeting().await;
        let (_, host_token) = server.host(&meeting).await;
        let (mut host, first) = server.join(&host_token).await;
        let people = guests(&server, &meeting, 150).await;
        let tokens: Vec<String> = people.iter().map(|(_, token)| token.clone()).collect();

        let end = async {
            host.send(&ClientFrame::kick_all(1)).await;
            host.until_closed().await
        };
        let (answers, host_frames) = tokio::join!(join_at_once(&server, &tokens), end);
        assert!(
            host_frames.iter().any(|f| matches!(f, ServerFrame::RoomLeft { state: LeaveState::Ended, .. })),
            "{store}: {host_frames:?}"
        );

        let mut in_first = BTreeSet::new();
        let mut later_sessions = BTreeSet::new();
        let mut staying = Vec::new();
        for ((id, _), (mut ws, answer)) in people.iter().zip(answers) {
            match answer {
                ServerFrame::Joined { session_id, .. } if session_id == first => {
                    let frames = ws.until_closed().await;
                    assert!(
                        matches!(frames.last(), Some(ServerFrame::RoomLeft { state: LeaveState::Ended, session_id, .. }) if *session_id == first),
                        "{store}: admitted to the ending session, then told it ended: {frames:?}"
                    );
                    in_first.insert(id.clone());
                }
                ServerFrame::Joined { session_id, .. } => {
                    later_sessions.insert(session_id);
                    staying.push(ws);
                }
                other => panic!("{store}: a joiner is in a session or told ended: {other:?}"),
            }
        }
        // The ended session's history has exactly the host and those told it ended; the others are in one new
        // session, live.
        let mut recorded: BTreeSet<String> = stays(&server, &meeting, &first).await.into_iter().collect();
        assert_eq!(recorded.len(), in_first.len() + 1, "{store}: the host and those told ended");
        recorded.retain(|id| in_first.contains(id));
        assert_eq!(recorded, in_first, "{store}");
        assert!(later_sessions.len() <= 1, "{store}: {later_sessions:?}");
        if let Some(second) = later_sessions.into_iter().next() {
            let (_, live) = server.active_session(&meeting).await;
            assert_eq!(live["data"]["id"], json!(second), "{store}: {live}");
            assert_eq!(live["data"]["live_participants"], json!(staying.len()), "{store}: {live}");
        }
    }
}
