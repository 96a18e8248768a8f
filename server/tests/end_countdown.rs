//! The countdown to an end (issue 13): `kickAll` with `graceSeconds` tells everyone `sessionEnding` (joiners too),
//! a second host (or the API) cancels it, at `endsAt` the server ends the session even after the host who started it
//! left, and through a restart. And the auto-end: with `end_when_no_host_after_secs`, a session whose hosts are all
//! gone counts down and ends `NO_HOST`; not while a host is there, and a host coming back cancels it.

mod common;

use common::{Meeting, TestServer, Ws};
use endsession_protocol::{ClientFrame, EndOptions, EndReason, EndedBy, ErrorCode, LeaveState, ServerFrame};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, SystemTime};

async fn join_as(server: &TestServer, token: &str) -> (Ws, String, EndedBy) {
    let (ws, joined) = server.join_with(token, None).await;
    let ServerFrame::Joined { session_id, self_participant, .. } = joined else { panic!("not joined: {joined:?}") };
    (ws, session_id, EndedBy::participant(&self_participant))
}

/// The next frame that is not an announcement of someone coming or going, nor a heartbeat.
async fn next_event(ws: &mut Ws) -> Option<ServerFrame> {
    loop {
        match ws.next().await? {
            ServerFrame::ParticipantJoined { .. } | ServerFrame::ParticipantLeft { .. } | ServerFrame::Ping => {}
            frame => return Some(frame),
        }
    }
}

async fn event(ws: &mut Ws) -> ServerFrame {
    next_event(ws).await.expect("the socket closed")
}

/// Nothing but announcements and heartbeats for `quiet`.
async fn nothing_for(ws: &mut Ws, quiet: Duration) {
    if let Ok(frame) = tokio::time::timeout(quiet, next_event(ws)).await {
        panic!("expected nothing for {quiet:?}, got {frame:?}");
    }
}

fn grace(seconds: u32, message: Option<&str>) -> EndOptions {
    EndOptions { message: message.map(Into::into), lock: false, grace_seconds: Some(seconds) }
}

fn unix_ms(at: &str) -> i64 {
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Asserts a `sessionEnding` of this session, reason and author; returns its `endsAt`.
fn ending(frame: &ServerFrame, session: &str, why: EndReason, by: Option<&EndedBy>, said: Option<&str>) -> String {
    let ServerFrame::SessionEnding { session_id, ends_at, reason, ended_by, message, .. } = frame else {
        panic!("expected sessionEnding, got {frame:?}")
    };
    assert_eq!((session_id.as_str(), *reason, ended_by.as_ref(), message.as_deref()), (session, why, by, said));
    ends_at.clone()
}

/// Asserts the end: `roomLeft { ended }` with this reason and author, no earlier than `ends_at` (less the
/// milliseconds the clock formats away).
fn ended_at_ends_at(frame: &ServerFrame, session: &str, why: EndReason, by: Option<&EndedBy>, ends_at: &str) {
    let ServerFrame::RoomLeft { state: LeaveState::Ended, session_id, reason, ended_by, event_id, .. } = frame else {
        panic!("expected the end, got {frame:?}")
    };
    assert_eq!((session_id.as_str(), *reason, ended_by.as_ref()), (session, Some(why), by));
    assert!(event_id.is_some());
    assert!(now_ms() >= unix_ms(ends_at) - 5, "ended before endsAt {ends_at}");
}

#[tokio::test]
async fn everyone_sees_the_countdown_a_second_host_cancels_it_and_the_next_ends_at_ends_at_after_its_host_left() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut first, session, first_by) = join_as(&server, &server.host(&meeting).await.1).await;
    let (mut second, _, second_by) = join_as(&server, &server.host(&meeting).await.1).await;
    let (mut guest, _, _) = join_as(&server, &server.guest(&meeting).await.1).await;

    first.send(&ClientFrame::kick_all_with(1, grace(30, Some("Wrapping up")))).await;
    let answer = event(&mut first).await;
    let ServerFrame::KickAllScheduled { id: 1, session_id, ends_at } = &answer else { panic!("{answer:?}") };
    assert_eq!(session_id, &session);
    let told = [event(&mut first).await, event(&mut second).await, event(&mut guest).await];
    for frame in &told {
        assert_eq!(
            &ending(frame, &session, EndReason::HostEndedMeeting, Some(&first_by), Some("Wrapping up")),
            ends_at
        );
    }
    // A joiner during the countdown learns of it in `Joined` (`sessionEnding`) and right after it.
    let (mut late, joined) = server.join_with(&server.guest(&meeting).await.1, None).await;
    let ServerFrame::Joined { session_ending: Some(running), .. } = &joined else { panic!("{joined:?}") };
    assert_eq!((&running.ends_at, running.reason), (ends_at, EndReason::HostEndedMeeting));
    assert_eq!((running.ended_by.as_ref(), running.message.as_deref()), (Some(&first_by), Some("Wrapping up")));
    assert!(running.remaining_ms > 0 && running.remaining_ms <= 30_000, "{running:?}");
    ending(&event(&mut late).await, &session, EndReason::HostEndedMeeting, Some(&first_by), Some("Wrapping up"));

    // A guest may not cancel; a second host may.
    guest.send(&ClientFrame::CancelEnd { id: 5 }).await;
    let refused = event(&mut guest).await;
    assert!(
        matches!(refused, ServerFrame::Error { id: Some(5), code: ErrorCode::PermissionDenied, .. }),
        "{refused:?}"
    );
    second.send(&ClientFrame::CancelEnd { id: 6 }).await;
    assert_eq!(event(&mut second).await, ServerFrame::CancelEndResult { id: 6, cancelled: true });
    let cancelled = ServerFrame::SessionEndCancelled { session_id: session.clone(), cancelled_by: Some(second_by) };
    for ws in [&mut first, &mut second, &mut guest, &mut late] {
        assert_eq!(event(ws).await, cancelled);
    }
    second.send(&ClientFrame::CancelEnd { id: 7 }).await;
    assert_eq!(event(&mut second).await, ServerFrame::CancelEndResult { id: 7, cancelled: false });

    // The next one ends the session at its endsAt, though the host who started it has left.
    first.send(&ClientFrame::kick_all_with(2, grace(1, None))).await;
    let ServerFrame::KickAllScheduled { ends_at, .. } = event(&mut first).await else { panic!() };
    first.send(&ClientFrame::Leave).await;
    for ws in [&mut second, &mut guest, &mut late] {
        ending(&event(ws).await, &session, EndReason::HostEndedMeeting, Some(&first_by), None);
        ended_at_ends_at(&event(ws).await, &session, EndReason::HostEndedMeeting, Some(&first_by), &ends_at);
        assert_eq!(next_event(ws).await, None);
    }
    let row = server.admin(Method::GET, &format!("/{}/sessions/{session}", meeting.app_id), None).await;
    assert_eq!(row["session"]["status"].as_str().or(row["status"].as_str()), Some("ENDED"), "{row}");
}

#[tokio::test]
async fn a_countdown_during_a_countdown_keeps_the_first_and_an_end_now_ends_it() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut host, session, host_by) = join_as(&server, &server.host(&meeting).await.1).await;
    host.send(&ClientFrame::kick_all_with(1, grace(30, None))).await;
    let ServerFrame::KickAllScheduled { ends_at, .. } = event(&mut host).await else { panic!() };
    event(&mut host).await; // sessionEnding
    host.send(&ClientFrame::kick_all_with(2, grace(5, None))).await;
    assert_eq!(
        event(&mut host).await,
        ServerFrame::KickAllScheduled { id: 2, session_id: session.clone(), ends_at: ends_at.clone() },
        "the running countdown is kept"
    );
    host.send(&ClientFrame::kick_all(3)).await;
    assert!(matches!(event(&mut host).await, ServerFrame::KickAllResult { id: 3, already_ended: false, .. }));
    let end = event(&mut host).await;
    assert!(matches!(&end, ServerFrame::RoomLeft { ended_by: Some(by), .. } if *by == host_by), "{end:?}");
}

#[tokio::test]
async fn the_rest_api_starts_and_cancels_a_countdown() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let (mut guest, session, _) = join_as(&server, &server.guest(&meeting).await.1).await;
    let kick_all = TestServer::meeting_path(&meeting, "/active-session/kick-all");
    let cancel = TestServer::meeting_path(&meeting, "/active-session/cancel-end");
    let data = server.admin(Method::POST, &kick_all, Some(json!({ "graceSeconds": 30, "message": "m" }))).await;
    assert_eq!(data["kicked_participants_count"], 0);
    let ends_at = data["ends_at"].as_str().expect("ends_at").to_owned();
    assert_eq!(
        ending(&event(&mut guest).await, &session, EndReason::HostEndedMeeting, Some(&EndedBy::api()), Some("m")),
        ends_at
    );
    assert_eq!(server.admin(Method::POST, &cancel, None).await, json!({"action": "cancel_end", "cancelled": true}));
    assert_eq!(
        event(&mut guest).await,
        ServerFrame::SessionEndCancelled { session_id: session.clone(), cancelled_by: Some(EndedBy::api()) }
    );
    assert_eq!(server.admin(Method::POST, &cancel, None).await["cancelled"], false);
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!(live["data"]["status"], "LIVE");
}

#[tokio::test]
async fn a_countdown_survives_a_restart_and_ends_the_session_with_its_record() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let (mut host, session, host_by) = join_as(&server, &server.host(&meeting).await.1).await;
    let (_, guest_token) = server.guest(&meeting).await;
    let (mut guest, _, _) = join_as(&server, &guest_token).await;
    host.send(&ClientFrame::kick_all_with(1, grace(3, Some("restarting")))).await;
    let ServerFrame::KickAllScheduled { ends_at, .. } = event(&mut host).await else { panic!() };
    ending(&event(&mut guest).await, &session, EndReason::HostEndedMeeting, Some(&host_by), Some("restarting"));

    host.drop_abruptly();
    guest.drop_abruptly();
    let server = server.restart().await;
    // The guest resumes: the countdown is still on (or, on a slow restart, already over) — never forgotten.
    let (mut guest, answer) = server.join_with(&guest_token, Some(&session)).await;
    let end = match answer {
        ServerFrame::Joined { session_id, reconnected: true, .. } => {
            assert_eq!(session_id, session);
            let told = event(&mut guest).await;
            assert_eq!(
                ending(&told, &session, EndReason::HostEndedMeeting, Some(&host_by), Some("restarting")),
                ends_at
            );
            event(&mut guest).await
        }
        other => other,
    };
    ended_at_ends_at(&end, &session, EndReason::HostEndedMeeting, Some(&host_by), &ends_at);
    let ServerFrame::RoomLeft { message, .. } = &end else { unreachable!() };
    assert_eq!(message.as_deref(), Some("restarting"));
}

async fn no_host_meeting(server: &TestServer, secs: u64) -> Meeting {
    let meeting = server.meeting().await;
    let path = TestServer::meeting_path(&meeting, "");
    let data = server.admin(Method::PATCH, &path, Some(json!({ "end_when_no_host_after_secs": secs }))).await;
    assert_eq!(data["end_when_no_host_after_secs"], secs);
    meeting
}

#[tokio::test]
async fn a_session_ends_no_host_once_its_last_host_is_gone_and_not_while_one_is_there() {
    let server = TestServer::start().await;
    let meeting = no_host_meeting(&server, 1).await;
    let (mut host, session, _) = join_as(&server, &server.host(&meeting).await.1).await;
    let (mut guest, _, _) = join_as(&server, &server.guest(&meeting).await.1).await;
    nothing_for(&mut guest, Duration::from_millis(2500)).await;

    host.send(&ClientFrame::Leave).await;
    host.until_closed().await;
    let ends_at = ending(&event(&mut guest).await, &session, EndReason::NoHost, None, None);
    ended_at_ends_at(&event(&mut guest).await, &session, EndReason::NoHost, None, &ends_at);
    let row = server.admin(Method::GET, &format!("/{}/sessions/{session}", meeting.app_id), None).await;
    assert!(row.to_string().contains("NO_HOST"), "{row}");
}

#[tokio::test]
async fn a_host_coming_back_cancels_the_no_host_countdown() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = no_host_meeting(&server, 10).await;
    let (_, host_token) = server.host(&meeting).await;
    let (host, session, _) = join_as(&server, &host_token).await;
    let (mut guest, _, _) = join_as(&server, &server.guest(&meeting).await.1).await;
    host.drop_abruptly();
    ending(&event(&mut guest).await, &session, EndReason::NoHost, None, None);
    let (mut host, answer) = server.join_with(&host_token, Some(&session)).await;
    // The countdown this return cancelled is not in its `Joined`.
    assert!(matches!(answer, ServerFrame::Joined { reconnected: true, session_ending: None, .. }), "{answer:?}");
    let cancelled = ServerFrame::SessionEndCancelled { session_id: session.clone(), cancelled_by: None };
    assert_eq!(event(&mut guest).await, cancelled);
    assert_eq!(event(&mut host).await, cancelled, "the returning host, too, learns the countdown is off");
    nothing_for(&mut guest, Duration::from_secs(4)).await;
    nothing_for(&mut host, Duration::from_millis(10)).await;
    let (_, live) = server.active_session(&meeting).await;
    assert_eq!(live["data"]["status"], "LIVE");
}

#[tokio::test]
async fn the_meeting_field_is_validated_and_returned() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let path = TestServer::meeting_path(&meeting, "");
    assert_eq!(server.admin(Method::GET, &path, None).await["end_when_no_host_after_secs"], 0);
    for bad in [json!(-1), json!(1.5), json!("60"), json!(86_401)] {
        let (status, body) =
            server.api(Method::PATCH, &path, Some(json!({ "end_when_no_host_after_secs": bad }))).await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.to_string().contains("end_when_no_host_after_secs"), "{body}");
    }
    let created = server
        .admin(
            Method::POST,
            &format!("/{}/meetings", meeting.app_id),
            Some(json!({ "end_when_no_host_after_secs": 120 })),
        )
        .await;
    assert_eq!(created["end_when_no_host_after_secs"], 120);
}
