//! Heartbeats (issue 10, fault 1, the server's side): the server pings every joined socket, and a socket from which
//! nothing arrives for the heartbeat timeout is treated as dropped: the reconnect grace, then `participantLeft`.
//! A frozen client is a raw WebSocket that stops reading: tungstenite answers pings only while it reads.

mod common;

use common::*;
use endsession_protocol::{ClientFrame, EndReason, LeaveState, ServerFrame};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_secs(1);
const GRACE: Duration = Duration::from_millis(300);
/// Timeout + grace with a wide margin for a loaded machine.
const BOUND: Duration = Duration::from_secs(15);

async fn server_with_heartbeats() -> TestServer {
    TestServer::start_with(|config| {
        config.limits.heartbeat_interval = INTERVAL;
        config.limits.heartbeat_timeout = TIMEOUT;
        config.reconnect_grace = GRACE;
    })
    .await
}

/// A webhook receiver on 127.0.0.1 that keeps every JSON body it is sent (signatures are checked in webhooks.rs).
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::{extract::State, routing::post, Json, Router};
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/hooks",
            post(|State(got): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>| async move {
                got.lock().unwrap().push(body);
            }),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Reads `ws` (so it answers pings) until a frame other than `ping` arrives, within [`BOUND`].
async fn next_event(ws: &mut Ws) -> Option<ServerFrame> {
    tokio::time::timeout(BOUND, ws.next_skipping_pings()).await.expect("no frame within the bound")
}

#[tokio::test]
async fn joined_names_the_interval_and_the_server_pings_at_it_both_ways() {
    let server = server_with_heartbeats().await;
    let meeting = server.meeting().await;
    let (_, token) = server.guest(&meeting).await;
    let (mut ws, joined) = server.join_with(&token, None).await;
    let ServerFrame::Joined { heartbeat_ms, .. } = joined else { panic!("expected joined, got {joined:?}") };
    assert_eq!(heartbeat_ms, Some(200));

    let (mut transport_pings, mut ping_frames) = (0, 0);
    tokio::time::timeout(BOUND, async {
        while transport_pings < 3 || ping_frames < 3 {
            match ws.stream.next().await {
                Some(Ok(Message::Ping(_))) => transport_pings += 1,
                Some(Ok(Message::Text(text))) => {
                    assert_eq!(ServerFrame::decode(&text).unwrap(), ServerFrame::Ping);
                    ping_frames += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("three heartbeats of each kind");
}

#[tokio::test]
async fn a_connection_that_stops_answering_is_dropped_after_the_timeout_and_the_grace() {
    let server = server_with_heartbeats().await;
    let meeting = server.meeting().await;
    let (url, webhooks) = webhook_receiver().await;
    let hook = json!({ "name": "left", "url": url, "events": ["meeting.participantLeft"] });
    server.admin(Method::POST, &format!("/{}/webhooks", meeting.app_id), Some(hook)).await;
    let (_, host_token) = server.host(&meeting).await;
    let (_, reader_token) = server.guest(&meeting).await;
    let (frozen_id, frozen_token) = server.guest(&meeting).await;
    let (mut host, session) = server.join(&host_token).await;
    // Sends nothing but keeps reading, so its transport answers every ping: that is not silence.
    let (mut reader, _) = server.join(&reader_token).await;
    let reading = tokio::spawn(async move { while reader.next().await.is_some() {} });
    let (mut frozen, _) = server.join(&frozen_token).await;
    assert!(matches!(next_event(&mut host).await, Some(ServerFrame::ParticipantJoined { .. })));
    assert!(matches!(next_event(&mut host).await, Some(ServerFrame::ParticipantJoined { .. })));

    // `frozen` is never read from here on.
    assert_eq!(next_event(&mut host).await, Some(ServerFrame::ParticipantLeft { participant_id: frozen_id.clone() }));
    let (_, body) = server.active_session(&meeting).await;
    assert_eq!(body["data"]["id"], session.as_str());
    assert_eq!((body["data"]["status"].as_str(), body["data"]["live_participants"].as_u64()), (Some("LIVE"), Some(2)));
    assert!(!reading.is_finished(), "a client that answers pings is kept");
    // The backend is told, as for a dropped TCP connection.
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let told =
            webhooks.lock().unwrap().iter().any(|body| {
                body["event"] == "meeting.participantLeft" && body["participant"]["id"] == frozen_id.as_str()
            });
        if told {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no participantLeft webhook: {:?}", webhooks.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(webhooks.lock().unwrap().len(), 1, "only the frozen participant left: {:?}", webhooks.lock().unwrap());

    // The frozen client finds its socket closed once it reads again, and resuming puts it back in the session.
    tokio::time::timeout(BOUND, async { while frozen.next().await.is_some() {} }).await.expect("closed");
    let (_, answer) = server.join_with(&frozen_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { session_id, .. } if session_id == session));
    reading.abort();
}

#[tokio::test]
async fn a_tab_frozen_while_the_other_tab_leaves_does_not_keep_the_session_alive() {
    let server = server_with_heartbeats().await;
    let meeting = server.meeting().await;
    let (_, token) = server.host(&meeting).await;
    let (mut leaving, session) = server.join(&token).await;
    let (_frozen, _) = server.join(&token).await;

    leaving.send(&ClientFrame::Leave).await;
    let left = tokio::time::timeout(BOUND, leaving.until_closed()).await.unwrap();
    assert!(left.iter().any(|f| matches!(f, ServerFrame::RoomLeft { state: LeaveState::Left, .. })), "{left:?}");

    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let (_, body) = server.active_session(&meeting).await;
        if body["data"]["status"] == "ENDED" {
            assert_eq!(body["data"]["id"], session.as_str());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the session did not end by itself: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = server.server.store().db().await.unwrap().session(&meeting.id, &session).await.unwrap().unwrap();
    assert_eq!(row.end_reason, Some(EndReason::AllParticipantsLeft));
}
