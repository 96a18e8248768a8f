//! Whatever is decided about a participant while its connection is down applies when it comes back (kick, end,
//! permission change, deletion, INACTIVE), a member of the live session can always resume it while it is live, and
//! what the server enforces for a connection is what that connection was last told (presets re-created, renamed
//! onto a carried name, a second tab that reads newer permissions).

mod common;

use clap::Parser;
use common::{Meeting, Pair, TestServer, Ws, GUARD};
use endsession_protocol::{ClientFrame, ErrorCode, LeaveState, Permissions, ServerFrame};
use endsession_server::config::Cli;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const CAN_KICK: Permissions = Permissions { kick_participant: true };
const CANNOT_KICK: Permissions = Permissions { kick_participant: false };

async fn live_participants(server: &TestServer, meeting: &Meeting) -> Value {
    let (_, live) = server.active_session(meeting).await;
    live["data"]["live_participants"].clone()
}

/// Polls the active session until `until` holds (each poll is a REST call; the whole wait is bounded).
async fn wait_session(server: &TestServer, meeting: &Meeting, what: &str, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + GUARD * 3;
    loop {
        let (_, live) = server.active_session(meeting).await;
        if until(&live["data"]) {
            return live["data"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {live}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `b`'s next frame must be about `c` joining: nothing about anyone else came before it.
async fn next_is_join_of(server: &TestServer, meeting: &Meeting, watcher: &mut Ws) -> Ws {
    let (c_id, c_token) = server.guest(meeting).await;
    let (c, _) = server.join(&c_token).await;
    match watcher.recv().await {
        ServerFrame::ParticipantJoined { participant } => assert_eq!(participant.id, c_id, "nothing before c's join"),
        other => panic!("expected participantJoined(c) and nothing before it, got {other:?}"),
    }
    c
}

#[tokio::test]
async fn a_kick_while_the_connection_is_down_is_what_the_resume_learns() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let Pair { session, mut host, guest: b, guest_id: b_id, guest_token: b_token, .. } =
        server.host_and_guest_joined(&meeting).await;

    b.drop_abruptly();
    let path = TestServer::meeting_path(&meeting, "/active-session/kick");
    let kicked = server.admin(Method::POST, &path, Some(json!({ "participant_ids": [b_id] }))).await;
    assert_eq!(kicked["participants"][0]["id"], b_id.as_str(), "answered with B's id: {kicked}");
    assert_eq!(host.recv().await, ServerFrame::ParticipantLeft { participant_id: b_id.clone() });

    // Twice: a second resume is answered the same way (nothing was re-admitted by the first).
    for _ in 0..2 {
        let (mut b, answer) = server.join_with(&b_token, Some(&session)).await;
        assert_eq!(
            answer,
            ServerFrame::RoomLeft {
                state: LeaveState::Kicked,
                session_id: session.clone(),
                reason: None,
                kicked_count: None,
                message: None,
                ended_by: None,
                event_id: None,
            }
        );
        b.expect_closed().await;
    }
    assert_eq!(live_participants(&server, &meeting).await, json!(1));
    let _c = next_is_join_of(&server, &meeting, &mut host).await;

    // A kick is not a delete: joining again without resume is a new stay in the same session, and from then on
    // that stay can be resumed.
    let (b, again) = server.join(&b_token).await;
    assert_eq!(again, session);
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { .. }));
    b.drop_abruptly();
    let (_b, answer) = server.join_with(&b_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { reconnected: true, .. }), "{answer:?}");
}

#[tokio::test]
async fn a_kick_while_down_is_remembered_across_a_restart() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let Pair { session, host, host_token, guest: b, guest_id: b_id, guest_token: b_token, .. } =
        server.host_and_guest_joined(&meeting).await;
    b.drop_abruptly();
    let path = TestServer::meeting_path(&meeting, "/active-session/kick");
    server.admin(Method::POST, &path, Some(json!({ "participant_ids": [b_id] }))).await;

    let server = server.restart().await;
    host.drop_abruptly();
    let (_host, answer) = server.join_with(&host_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { reconnected: true, .. }), "the host resumes: {answer:?}");
    let (_, answer) = server.join_with(&b_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::RoomLeft { state: LeaveState::Kicked, .. }), "{answer:?}");
    assert_eq!(live_participants(&server, &meeting).await, json!(1));
}

#[tokio::test]
async fn a_permission_change_while_down_is_in_the_resumed_joined() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let Pair { session, guest: b, guest_id: b_id, guest_token: b_token, .. } =
        server.host_and_guest_joined(&meeting).await;

    // The participant's preset changes while it is away...
    b.drop_abruptly();
    let path = TestServer::meeting_path(&meeting, &format!("/participants/{b_id}"));
    server.admin(Method::PATCH, &path, Some(json!({ "preset_name": "group_call_host" }))).await;
    let (b, answer) = server.join_with(&b_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { permissions, reconnected, self_participant, .. } => {
            assert!(reconnected);
            assert_eq!(permissions, CAN_KICK);
            assert_eq!(self_participant.preset_name, "group_call_host");
        }
        other => panic!("expected joined, got {other:?}"),
    }
    // ...and so does the preset itself.
    b.drop_abruptly();
    let host_preset = preset_id(&server, &meeting, "group_call_host").await;
    let path = format!("/{}/presets/{host_preset}", meeting.app_id);
    server.admin(Method::PATCH, &path, Some(json!({ "permissions": { "kick_participant": false } }))).await;
    let (mut b, answer) = server.join_with(&b_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { permissions: CANNOT_KICK, reconnected: true, .. }), "{answer:?}");
    b.send(&ClientFrame::kick_all(1)).await;
    assert!(matches!(b.recv().await, ServerFrame::Error { code: ErrorCode::PermissionDenied, .. }));
}

#[tokio::test]
async fn a_participant_deleted_while_down_is_refused_and_out_of_the_session() {
    let server = TestServer::start_with_grace(Duration::from_secs(30)).await;
    let meeting = server.meeting().await;
    let Pair { session, mut host, guest: b, guest_id: b_id, guest_token: b_token, .. } =
        server.host_and_guest_joined(&meeting).await;

    b.drop_abruptly();
    server.admin(Method::DELETE, &TestServer::meeting_path(&meeting, &format!("/participants/{b_id}")), None).await;
    assert_eq!(host.recv().await, ServerFrame::ParticipantLeft { participant_id: b_id });
    let (mut b, answer) = server.join_with(&b_token, Some(&session)).await;
    // The token check says why before the hub is asked (see token.rs): its tokens no longer join.
    match &answer {
        ServerFrame::Error { code: ErrorCode::InvalidToken, message, .. } => assert!(message.contains("deleted")),
        other => panic!("refused: {other:?}"),
    }
    b.expect_closed().await;
    assert_eq!(live_participants(&server, &meeting).await, json!(1));
    let _c = next_is_join_of(&server, &meeting, &mut host).await;
}

#[tokio::test]
async fn a_member_resumes_an_inactive_meetings_live_session_even_after_its_grace() {
    let server = TestServer::start_with_grace(Duration::from_millis(300)).await;
    let meeting = server.meeting().await;
    let (host_id, host_token) = server.host(&meeting).await;
    let (_, guest_token) = server.guest(&meeting).await;
    let (_, outsider_token) = server.guest(&meeting).await;
    let (host, session) = server.join(&host_token).await;
    let (mut guest, _) = server.join(&guest_token).await;
    server.admin(Method::PATCH, &TestServer::meeting_path(&meeting, ""), Some(json!({ "status": "INACTIVE" }))).await;

    // The host's dropout outlasts the grace: the others see it leave.
    host.drop_abruptly();
    assert_eq!(guest.recv().await, ServerFrame::ParticipantLeft { participant_id: host_id.clone() });
    wait_session(&server, &meeting, "the host is out", |s| s["live_participants"] == 1).await;

    // It was in this session and was not kicked: it resumes it, INACTIVE or not, and can still end it.
    let (mut host, answer) = server.join_with(&host_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, .. } => {
            assert_eq!((session_id.as_str(), reconnected), (session.as_str(), true))
        }
        other => panic!("expected joined, got {other:?}"),
    }
    assert!(matches!(guest.recv().await, ServerFrame::ParticipantJoined { .. }));
    // Somebody who was never in it is still refused.
    let (mut outsider, answer) = server.join_with(&outsider_token, None).await;
    assert!(matches!(answer, ServerFrame::Error { code: ErrorCode::MeetingInactive, .. }), "{answer:?}");
    outsider.expect_closed().await;
    // Nor does a resume naming the session let a non-member in.
    let (_, answer) = server.join_with(&outsider_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Error { code: ErrorCode::MeetingInactive, .. }), "{answer:?}");

    host.send(&ClientFrame::kick_all(1)).await;
    assert!(matches!(host.recv().await, ServerFrame::KickAllResult { already_ended: false, kicked_count: 2, .. }));
}

#[test]
fn the_default_grace_covers_the_clients_default_retry_window() {
    // The client's defaults (src/reconnect.rs `Reconnect::default()`): 6 attempts, the n-th after 250 ms * 2^n,
    // at most 5 s; each attempt may also take a connect of up to a few seconds.
    let waits: u64 = (0..6).map(|n| (250u64 << n).min(5_000)).sum();
    assert_eq!(waits, 12_750);
    let config = Cli::parse_from(["endsession-server"]).into_config(None).unwrap();
    assert!(
        config.reconnect_grace >= Duration::from_millis(waits * 2),
        "the default grace {:?} must cover the client's retry window ({waits} ms of waits) with margin",
        config.reconnect_grace
    );
}

async fn preset_id(server: &TestServer, meeting: &Meeting, name: &str) -> String {
    let presets = server.admin(Method::GET, &format!("/{}/presets", meeting.app_id), None).await;
    let found = presets.as_array().unwrap().iter().find(|p| p["name"] == name).expect("the preset");
    found["id"].as_str().unwrap().to_owned()
}

/// A complete preset body named `name`: `group_call_participant`'s with `kick_participant` set to `kick`.
async fn preset_body(server: &TestServer, meeting: &Meeting, name: &str, kick: bool) -> Value {
    let id = preset_id(server, meeting, "group_call_participant").await;
    let mut body = server.admin(Method::GET, &format!("/{}/presets/{id}", meeting.app_id), None).await;
    let object = body.as_object_mut().unwrap();
    for key in ["id", "created_at", "updated_at"] {
        object.remove(key);
    }
    object.insert("name".into(), json!(name));
    body["permissions"]["kick_participant"] = json!(kick);
    body
}

/// The next frame must be a `PermissionsUpdate` with `kick_participant == kick`.
async fn told(ws: &mut Ws, name: &str, kick: bool) {
    let expected = ServerFrame::PermissionsUpdate {
        preset_name: name.into(),
        permissions: Permissions { kick_participant: kick },
    };
    assert_eq!(ws.recv().await, expected);
}

#[tokio::test]
async fn a_preset_deleted_then_created_again_or_renamed_onto_the_name_is_pushed() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let presets = format!("/{}/presets", meeting.app_id);
    let made = server.admin(Method::POST, &presets, Some(preset_body(&server, &meeting, "mod", true).await)).await;
    let (_, token) = server.participant(&meeting, "mod").await;
    let (mut tab, _) = server.join(&token).await;

    server.admin(Method::DELETE, &format!("{presets}/{}", made["id"].as_str().unwrap()), None).await;
    told(&mut tab, "mod", false).await;
    let made = server.admin(Method::POST, &presets, Some(preset_body(&server, &meeting, "mod", true).await)).await;
    told(&mut tab, "mod", true).await;

    // Deleted again; another preset renamed onto the name the participant still carries.
    server.admin(Method::DELETE, &format!("{presets}/{}", made["id"].as_str().unwrap()), None).await;
    told(&mut tab, "mod", false).await;
    let other = server.admin(Method::POST, &presets, Some(preset_body(&server, &meeting, "other", true).await)).await;
    let path = format!("{presets}/{}", other["id"].as_str().unwrap());
    server.admin(Method::PATCH, &path, Some(json!({ "name": "mod" }))).await;
    told(&mut tab, "mod", true).await;
    // What it was told is what is enforced.
    tab.send(&ClientFrame::kick_all(1)).await;
    assert!(matches!(tab.recv().await, ServerFrame::KickAllResult { already_ended: false, .. }));
}

#[tokio::test]
async fn a_second_tab_that_reads_newer_permissions_tells_the_first() {
    let server = TestServer::start().await;
    let meeting = server.meeting().await;
    let presets = format!("/{}/presets", meeting.app_id);
    let made = server.admin(Method::POST, &presets, Some(preset_body(&server, &meeting, "mod", true).await)).await;
    let (_, token) = server.participant(&meeting, "mod").await;
    let (mut first, _) = server.join(&token).await;
    server.admin(Method::DELETE, &format!("{presets}/{}", made["id"].as_str().unwrap()), None).await;
    told(&mut first, "mod", false).await;

    // The preset comes back in the store by a path that pushes nothing (as a push lost between nodes would).
    let app_id = meeting.app_id.clone();
    let document = json!({ "permissions": { "kick_participant": true } });
    server.server.store().db().await.unwrap().create_preset(&app_id, "mod", document).await.unwrap().unwrap();

    let (mut second, answer) = server.join_with(&token, None).await;
    assert!(matches!(answer, ServerFrame::Joined { permissions: CAN_KICK, .. }), "{answer:?}");
    told(&mut first, "mod", true).await;
    first.send(&ClientFrame::kick_all(1)).await;
    assert!(matches!(first.recv().await, ServerFrame::KickAllResult { already_ended: false, .. }));
    assert!(matches!(second.recv().await, ServerFrame::RoomLeft { state: LeaveState::Ended, .. }));
}
