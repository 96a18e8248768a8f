//! One end record (issue 13): every participant's `roomLeft` for an end carries the same `{reason, endedBy,
//! message, eventId}`, a participant resuming after the end gets it too, and `eventId` is the `rtk-uuid` of the
//! session's `meeting.ended` delivery as a signature-verifying receiver sees it, whose body carries the same
//! `endedBy` and `message`. And the end options: `message` bounded, `lock` in the end's transaction (300 racing
//! joins, none admitted after the end).

mod common;
mod webhook_support;

use common::{Meeting, TestServer, GUARD};
use endsession_protocol::{
    ClientFrame, EndOptions, EndReason, EndedBy, ErrorCode, LeaveState, ServerFrame, MAX_END_MESSAGE_CHARS,
    PROTOCOL_VERSION,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use webhook_support::{subscribe, Answer, Receiver, PATIENCE};

/// Joins; returns the socket and `endedBy` as the server names this participant.
async fn join_as(server: &TestServer, token: &str) -> (common::Ws, String, EndedBy) {
    let (ws, joined) = server.join_with(token, None).await;
    let ServerFrame::Joined { session_id, self_participant, .. } = joined else { panic!("not joined: {joined:?}") };
    (ws, session_id, EndedBy::participant(&self_participant))
}

/// The frames until the socket closes, without the announcements of others coming and going.
async fn to_the_end(ws: &mut common::Ws) -> Vec<ServerFrame> {
    let frames = ws.until_closed().await;
    frames
        .into_iter()
        .filter(|f| !matches!(f, ServerFrame::ParticipantJoined { .. } | ServerFrame::ParticipantLeft { .. }))
        .collect()
}

fn options(message: Option<&str>, lock: bool, grace_seconds: Option<u32>) -> EndOptions {
    EndOptions { message: message.map(Into::into), lock, grace_seconds }
}

async fn ended_webhook(receiver: &Receiver, session: &str) -> webhook_support::Delivery {
    let got = receiver
        .wait_until(PATIENCE, "meeting.ended", |got| {
            got.iter().any(|d| d.event() == "meeting.ended" && d.session_id() == session)
        })
        .await;
    got.into_iter().find(|d| d.event() == "meeting.ended" && d.session_id() == session).unwrap()
}

#[tokio::test]
async fn every_participant_and_a_late_resume_get_one_end_record_whose_event_id_is_the_rtk_uuid() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let receiver = Receiver::start(&server, |_, _| Answer::Status(200)).await;
    subscribe(&server, &meeting, &receiver.url, &["meeting.ended"]).await;

    let (_, host_token) = server.host(&meeting).await;
    let (mut host, session, host_by) = join_as(&server, &host_token).await;
    let (_, guest_token) = server.guest(&meeting).await;
    let (mut guest, _, _) = join_as(&server, &guest_token).await;
    let (_, away_token) = server.guest(&meeting).await;
    let (away, _, _) = join_as(&server, &away_token).await;
    away.drop_abruptly();

    let message = "Thanks, everyone — see you Monday";
    host.send(&ClientFrame::kick_all_with(1, options(Some(message), false, None))).await;
    let host_frames = to_the_end(&mut host).await;
    assert!(
        matches!(&host_frames[0], ServerFrame::KickAllResult { id: 1, kicked_count: 3, already_ended: false, .. }),
        "{host_frames:?}"
    );
    let record = host_frames[1].clone();
    let ServerFrame::RoomLeft { state, session_id, reason, ended_by, message: said, event_id, .. } = &record else {
        panic!("{record:?}")
    };
    assert_eq!((state, session_id, reason), (&LeaveState::Ended, &session, &Some(EndReason::HostEndedMeeting)));
    assert_eq!((ended_by.as_ref(), said.as_deref()), (Some(&host_by), Some(message)));
    let event_id = event_id.clone().expect("an event id");

    assert_eq!(to_the_end(&mut guest).await, vec![record.clone()], "the guest's record is the host's");
    let (mut late, answer) = server.join_with(&away_token, Some(&session)).await;
    assert_eq!(answer, record, "a resume after the end gets the same record");
    late.expect_closed().await;

    let delivery = ended_webhook(&receiver, &session).await;
    assert!(delivery.verified, "rtk-signature verifies");
    assert_eq!(delivery.uuid, event_id, "roomLeft.eventId is the delivery's rtk-uuid");
    let body = delivery.json();
    assert_eq!(body["reason"], "HOST_ENDED_MEETING");
    assert_eq!(body["endedBy"], serde_json::to_value(&host_by).unwrap());
    assert_eq!(body["message"], message);
    assert_eq!(body["meeting"]["status"], "ENDED", "RealtimeKit's fields unchanged");

    // The API's end: `endedBy: {api: true}`, through REST kick-all's extension fields.
    let (mut guest, second, _) = join_as(&server, &guest_token).await;
    assert_ne!(second, session);
    let path = TestServer::meeting_path(&meeting, "/active-session/kick-all");
    let data = server.admin(Method::POST, &path, Some(json!({ "message": "Closed by the office" }))).await;
    assert_eq!(data, json!({"action": "kick_all", "kicked_participants_count": 1}));
    let frames = to_the_end(&mut guest).await;
    let [ServerFrame::RoomLeft { ended_by, message, event_id, .. }] = frames.as_slice() else { panic!("{frames:?}") };
    assert_eq!((ended_by, message.as_deref()), (&Some(EndedBy::api()), Some("Closed by the office")));
    let delivery = ended_webhook(&receiver, &second).await;
    assert_eq!(Some(delivery.uuid.clone()), *event_id);
    assert_eq!(delivery.json()["endedBy"], json!({"api": true}));
}

#[tokio::test]
async fn the_last_leave_ends_with_a_record_that_names_nobody_and_a_retried_delivery_keeps_the_event_id() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    // The first attempt fails: the retry must carry the same rtk-uuid, the one the participants were told.
    let receiver = Receiver::start(&server, |_, before| match before.is_empty() {
        true => Answer::Status(500),
        false => Answer::Status(200),
    })
    .await;
    subscribe(&server, &meeting, &receiver.url, &["meeting.ended"]).await;
    let (_, token) = server.guest(&meeting).await;
    let (mut ws, session, _) = join_as(&server, &token).await;
    ws.send(&ClientFrame::Leave).await;
    ws.until_closed().await;
    let got = receiver.wait_until(PATIENCE, "a retried meeting.ended", |got| got.iter().any(|d| d.accepted())).await;
    assert!(got.len() >= 2 && got.iter().all(|d| d.uuid == got[0].uuid), "{:?}", webhook_support::summary(&got));
    assert_eq!(got[0].json()["endedBy"], Value::Null);
    assert_eq!(got[0].json()["reason"], "ALL_PARTICIPANTS_LEFT");
    let (mut late, answer) = server.join_with(&token, Some(&session)).await;
    let ServerFrame::RoomLeft { reason, ended_by, event_id, .. } = answer else { panic!("{answer:?}") };
    assert_eq!((reason, ended_by), (Some(EndReason::AllParticipantsLeft), None));
    assert_eq!(event_id.as_deref(), Some(got[0].uuid.as_str()));
    late.expect_closed().await;
}

#[tokio::test]
async fn end_options_out_of_bounds_are_refused_by_name_and_end_nothing() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (_, token) = server.host(&meeting).await;
    let (mut host, session, _) = join_as(&server, &token).await;
    let too_long = "x".repeat(MAX_END_MESSAGE_CHARS + 1);
    let cases =
        [(options(Some(&too_long), false, None), "`message`"), (options(None, true, Some(3601)), "`graceSeconds`")];
    for (id, (bad, field)) in cases.into_iter().enumerate() {
        let id = id as u64 + 1;
        host.send(&ClientFrame::kick_all_with(id, bad)).await;
        let answer = host.recv().await;
        let ServerFrame::Error { id: Some(answered), code, message } = &answer else { panic!("{answer:?}") };
        assert_eq!((*answered, *code), (id, ErrorCode::InvalidOptions));
        assert!(message.contains(field), "{message}");
    }
    // Exactly the maximum is fine, and the socket stayed open through the refusals.
    let path = TestServer::meeting_path(&meeting, "/active-session/kick-all");
    for (body, field) in [
        (json!({ "message": too_long }), "`message`"),
        (json!({ "graceSeconds": 3601 }), "`graceSeconds`"),
        (json!({ "graceSeconds": -1 }), "`graceSeconds`"),
        (json!({ "lock": "yes" }), "`lock`"),
        (json!({ "locked": true }), "`locked`"),
    ] {
        let (status, answer) = server.api(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let text = answer.to_string();
        assert!(text.contains(field), "{body}: {text}");
    }
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!((live["data"]["id"].as_str(), live["data"]["status"].as_str()), (Some(session.as_str()), Some("LIVE")));
    let meeting_json = server.admin(Method::GET, &TestServer::meeting_path(&meeting, ""), None).await;
    assert_eq!(meeting_json["status"], "ACTIVE");
    let exactly = "y".repeat(MAX_END_MESSAGE_CHARS);
    host.send(&ClientFrame::kick_all_with(9, options(Some(&exactly), false, None))).await;
    let frames = to_the_end(&mut host).await;
    assert!(matches!(&frames[1], ServerFrame::RoomLeft { message: Some(m), .. } if *m == exactly), "{frames:?}");
}

/// One joiner: connects, joins, and reports what it got: `Ok(session)` if it was admitted (and then the session it
/// was in must end for it), `Err(code)` if refused.
async fn racing_join(server: &TestServer, token: String) -> Result<(String, ServerFrame), ErrorCode> {
    let mut ws = server.connect().await;
    ws.send(&ClientFrame::Join { token, resume: None, version: PROTOCOL_VERSION }).await;
    match ws.recv().await {
        ServerFrame::Joined { session_id, .. } => {
            let last = ws.until_closed().await.pop().expect("a frame before the close");
            Ok((session_id, last))
        }
        ServerFrame::Error { code, .. } => Err(code),
        other => panic!("unexpected answer to a join: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_and_lock_admits_none_of_300_racing_joins_after_the_end() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let meeting: Meeting = server.meeting().await;
    let (_, host_token) = server.host(&meeting).await;
    let mut tokens = Vec::new();
    for _ in 0..300 {
        tokens.push(server.guest(&meeting).await.1);
    }
    let (mut host, session, _) = join_as(&server, &host_token).await;

    let joins: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let server = server.clone();
            tokio::spawn(async move { racing_join(&server, token).await })
        })
        .collect();
    // The end lands in the middle of the joins.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    host.send(&ClientFrame::kick_all_with(1, options(Some("locked"), true, None))).await;
    let host_frames = to_the_end(&mut host).await;
    assert!(matches!(host_frames.last(), Some(ServerFrame::RoomLeft { state: LeaveState::Ended, .. })));

    let (mut admitted, mut refused) = (0, 0);
    for join in joins {
        match tokio::time::timeout(GUARD * 4, join).await.expect("a join hung").unwrap() {
            Ok((joined, last)) => {
                admitted += 1;
                assert_eq!(joined, session, "admitted only into the session that ended, never a new one");
                let ServerFrame::RoomLeft { state: LeaveState::Ended, message, .. } = &last else { panic!("{last:?}") };
                assert_eq!(message.as_deref(), Some("locked"));
            }
            Err(code) => {
                refused += 1;
                assert_eq!(code, ErrorCode::MeetingInactive);
            }
        }
    }
    assert_eq!(admitted + refused, 300);
    let meeting_json = server.admin(Method::GET, &TestServer::meeting_path(&meeting, ""), None).await;
    assert_eq!(meeting_json["status"], "INACTIVE");
    let sessions =
        server.admin(Method::GET, &format!("/{}/sessions?associated_id={}", meeting.app_id, meeting.id), None).await;
    assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(1), "no session after the end: {sessions}");
    let (mut ws, answer) = server.join_with(&host_token, None).await;
    assert!(matches!(answer, ServerFrame::Error { code: ErrorCode::MeetingInactive, .. }), "{answer:?}");
    ws.expect_closed().await;
}

#[tokio::test]
async fn rest_lock_with_no_live_session_still_locks() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let path = TestServer::meeting_path(&meeting, "/active-session/kick-all");
    let data = server.admin(Method::POST, &path, Some(json!({ "lock": true }))).await;
    assert_eq!(data["kicked_participants_count"], 0);
    let meeting_json = server.admin(Method::GET, &TestServer::meeting_path(&meeting, ""), None).await;
    assert_eq!(meeting_json["status"], "INACTIVE");
}
