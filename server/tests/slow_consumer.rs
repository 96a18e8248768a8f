//! A participant that stops reading (issue 11, fault 3; issue 10's reliability suite): its queue is bounded and its
//! writes have a deadline, so the server lets go of it (grace, then `participantLeft`) instead of holding its frames
//! without bound, it catches up when it resumes, and it does not delay the end for the others.

mod common;

use common::*;
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame, PROTOCOL_VERSION, WS_PATH};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::MaybeTlsStream;

/// Frames queued per connection in this test.
const OUTBOX: usize = 16;
/// At most this many joins and leaves of the churning participant (each sends the slow one ~48 KB). Loopback buffers
/// take a few MB before a write blocks (about 100 rounds), then the write deadline and the grace run while it churns.
const CHURN_MAX: usize = 1_000;
/// How long the test may take to see the slow one let go (bounded by CHURN_MAX too).
const BOUND: Duration = Duration::from_secs(60);

/// A participant that joins and never reads again, with a small receive buffer so that its TCP window fills fast.
async fn join_without_reading(server: &TestServer, token: &str) -> Ws {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.server.addr()).await.unwrap();
    let url = format!("ws://{}{WS_PATH}", server.server.addr());
    let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await.unwrap();
    let mut ws = Ws { stream };
    ws.send(&ClientFrame::Join { token: token.into(), resume: None, version: PROTOCOL_VERSION }).await;
    assert!(matches!(ws.recv().await, ServerFrame::Joined { .. }));
    ws
}

/// Reads `ws` in the background (answering pings); its frames, heartbeats aside, come out of the receiver.
fn read_in_background(ws: Ws) -> mpsc::UnboundedReceiver<ServerFrame> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut ws = ws;
    tokio::spawn(async move {
        while let Some(frame) = ws.next_skipping_pings().await {
            if tx.send(frame).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next frame matching `wanted` from a background reader, within `bound`.
async fn wait_for(
    frames: &mut mpsc::UnboundedReceiver<ServerFrame>,
    bound: Duration,
    wanted: impl Fn(&ServerFrame) -> bool,
) -> ServerFrame {
    tokio::time::timeout(bound, async {
        loop {
            let frame = frames.recv().await.expect("the socket closed before the awaited frame");
            if wanted(&frame) {
                return frame;
            }
        }
    })
    .await
    .expect("the awaited frame did not come in time")
}

/// One round of churn: a participant with a long name joins and leaves.
async fn churn_once(server: &TestServer, token: &str) {
    let (mut ws, _) = server.join(token).await;
    ws.send(&ClientFrame::Leave).await;
    ws.until_closed().await;
}

fn is_joined(frame: &ServerFrame) -> bool {
    matches!(frame, ServerFrame::ParticipantJoined { .. })
}

#[tokio::test]
async fn a_client_that_stops_reading_is_let_go_and_does_not_delay_the_end_for_the_others() {
    let server = TestServer::start_with(|config| {
        config.limits.outbox_frames = OUTBOX;
        config.limits.write_timeout = Duration::from_secs(1);
        // Heartbeats would catch the silent reader too; this test is about the queue and the write deadline.
        config.limits.heartbeat_interval = Duration::from_secs(600);
        config.limits.heartbeat_timeout = Duration::from_secs(600);
        config.reconnect_grace = Duration::from_millis(300);
    })
    .await;
    let meeting = server.meeting().await;
    let mut others = Vec::new();
    for _ in 0..4 {
        let (_, token) = server.guest(&meeting).await;
        let (ws, _) = server.join(&token).await;
        others.push(read_in_background(ws));
    }
    let (slow_id, slow_token) = server.guest(&meeting).await;
    let mut slow = join_without_reading(&server, &slow_token).await;

    // A participant with a 48 KB name joins and leaves: every round sends each connection a ~48 KB frame.
    let name = "n".repeat(48 * 1024);
    let body = json!({ "custom_participant_id": "churn", "preset_name": "group_call_participant", "name": name });
    let churn = server.admin(Method::POST, &TestServer::meeting_path(&meeting, "/participants"), Some(body)).await;
    let churn_token = churn["token"].as_str().unwrap().to_owned();
    let slow_left = |frame: &ServerFrame| matches!(frame, ServerFrame::ParticipantLeft { participant_id } if *participant_id == slow_id);
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut rounds = 0;
    'churn: loop {
        assert!(rounds < CHURN_MAX && tokio::time::Instant::now() < deadline, "the server kept the slow reader");
        churn_once(&server, &churn_token).await;
        rounds += 1;
        while let Ok(frame) = others[0].try_recv() {
            if slow_left(&frame) {
                break 'churn;
            }
        }
    }
    for frames in &mut others[1..] {
        wait_for(frames, GUARD, slow_left).await;
    }
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["live_participants"], 4, "the slow reader is out: {body}");
    let session = body["data"]["id"].as_str().unwrap().to_owned();

    // Its socket was closed: reading what reached it ends in a close, well before all the rounds it missed.
    let received = tokio::time::timeout(BOUND, slow.until_closed()).await.expect("the slow reader's socket is closed");
    let joins = received.iter().filter(|f| is_joined(f)).count();
    assert!(joins < rounds, "{joins} of {rounds} rounds reached it: the server queued for it without bound");
    // It catches up when it resumes.
    let (resumed, answer) = server.join_with(&slow_token, Some(&session)).await;
    assert!(matches!(&answer, ServerFrame::Joined { session_id, .. } if *session_id == session), "{answer:?}");
    resumed.drop_abruptly();

    // Another reader stops reading and falls behind; the end still reaches everybody else at once.
    let (_, frozen_token) = server.guest(&meeting).await;
    let _frozen = join_without_reading(&server, &frozen_token).await;
    for _ in 0..10 {
        churn_once(&server, &churn_token).await;
    }
    server.rest_kick_all(&meeting).await;
    for frames in &mut others {
        let ended = wait_for(frames, GUARD, |f| matches!(f, ServerFrame::RoomLeft { .. })).await;
        assert!(matches!(ended, ServerFrame::RoomLeft { state: LeaveState::Ended, .. }), "{ended:?}");
    }
    // The first slow reader, resuming after the end, learns it.
    let (_, answer) = server.join_with(&slow_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::RoomLeft { state: LeaveState::Ended, .. }), "{answer:?}");
}
