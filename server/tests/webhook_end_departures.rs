//! The `meeting.participantLeft` events of an end, with a real receiver that verifies every signature: every
//! participant still in the session gets exactly one, before `meeting.ended` (whose `rtk-uuid` is the `eventId` the
//! participants were told), although the end writes them after the participants are told (store/lifecycle_left.rs):
//! on one node, after a restart that found them not yet written, and with two nodes on one Postgres database.

mod common;
mod webhook_support;

use common::{Meeting, TestServer, Ws};
use endsession_protocol::{LeaveState, ServerFrame};
use endsession_server::config::Config;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use webhook_support::{subscribe, summary, Answer, Delivery, Receiver};

/// Participants in the ended session (the host among them).
const PARTICIPANTS: usize = 300;

const LEFT_AND_ENDED: [&str; 2] = ["meeting.participantLeft", "meeting.ended"];

/// Enough time for 300 deliveries (each signed, ~2 ms of CPU) on a loaded 2-core debug build.
const DELIVERIES: Duration = Duration::from_secs(120);

/// The host and `PARTICIPANTS - 1` guests joined on `node`: their participant ids, sockets and the session id.
async fn crowd(node: &TestServer, meeting: &Meeting) -> (Vec<String>, Vec<Ws>, String) {
    let (host_id, host) = node.host(meeting).await;
    let (host_ws, session_id) = node.join(&host).await;
    let (mut ids, mut sockets) = (vec![host_id], vec![host_ws]);
    for _ in 1..PARTICIPANTS {
        let (id, token) = node.guest(meeting).await;
        let (ws, joined) = node.join(&token).await;
        assert_eq!(joined, session_id);
        ids.push(id);
        sockets.push(ws);
    }
    (ids, sockets, session_id)
}

/// Every socket is told the session ended, with one `eventId` for all; returns it.
async fn told_ended(sockets: Vec<Ws>) -> String {
    let told = futures_util::future::join_all(sockets.into_iter().map(|mut ws| async move {
        match ws.until_closed().await.last() {
            Some(ServerFrame::RoomLeft { state: LeaveState::Ended, event_id: Some(id), .. }) => id.clone(),
            other => panic!("expected roomLeft ended with an eventId last, got {other:?}"),
        }
    }))
    .await;
    assert!(told.iter().all(|id| *id == told[0]), "one eventId for everyone");
    told[0].clone()
}

/// Waits until the receiver accepted `meeting.ended` of the session, lets duplicates (if any) a moment to come, and
/// checks what a receiver would: each of `ids` got exactly one verified `participantLeft` of the session, dated at
/// the end, all before `meeting.ended`, which came once with the id the participants were told.
async fn every_participant_left_once(receiver: &Receiver, session_id: &str, ids: &[String], event_id: &str) -> Value {
    let is_ended = |d: &Delivery| d.event() == "meeting.ended" && d.session_id() == session_id && d.accepted();
    receiver.wait_until(DELIVERIES, "meeting.ended", |got| got.iter().any(is_ended)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got();
    assert!(got.iter().all(|d| d.verified), "every signature verifies");
    assert!(got.iter().all(|d| d.accepted()), "the receiver accepted everything: {:?}", summary(&got));
    let ended: Vec<&Delivery> = got.iter().filter(|d| is_ended(d)).collect();
    assert_eq!(ended.len(), 1, "one meeting.ended");
    assert_eq!(ended[0].uuid, event_id, "meeting.ended is the event the participants were told of");
    let ended_json = ended[0].json();
    let ended_at = ended_json["meeting"]["endedAt"].as_str().unwrap();

    let left: Vec<&Delivery> = got.iter().filter(|d| d.event() == "meeting.participantLeft").collect();
    let mut per_participant: HashMap<String, usize> = HashMap::new();
    for d in &left {
        let body = d.json();
        assert_eq!(body["meeting"]["sessionId"], session_id);
        assert_eq!(body["meeting"]["status"], "ENDED");
        assert_eq!(body["participant"]["leftAt"], ended_at, "left when the session ended");
        *per_participant.entry(body["participant"]["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !per_participant.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} participants got no participantLeft, e.g. {:?}", missing.len(), &missing[..1]);
    let twice: Vec<_> = per_participant.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "participantLeft more than once: {twice:?}");
    assert_eq!(left.len(), ids.len(), "and for nobody else");
    let uuids: std::collections::HashSet<&str> = got.iter().map(|d| d.uuid.as_str()).collect();
    assert_eq!(uuids.len(), got.len(), "no event delivered twice");
    assert_eq!(got.last().map(Delivery::event).as_deref(), Some("meeting.ended"), "meeting.ended comes last");
    ended_json
}

/// The REST API's attendance of the session: every stay left when the session ended.
async fn attendance_closed_at_the_end(node: &TestServer, meeting: &Meeting, session_id: &str, ended_at: &str) {
    let mut stays = Vec::new();
    for page in 1.. {
        let path = format!("/{}/sessions/{session_id}/participants?per_page=100&page_no={page}", meeting.app_id);
        let got = node.admin(Method::GET, &path, None).await;
        let got = got["participants"].as_array().unwrap().clone();
        if got.is_empty() {
            break;
        }
        stays.extend(got);
    }
    assert_eq!(stays.len(), PARTICIPANTS);
    assert!(stays.iter().all(|s| s["left_at"] == ended_at), "every stay left at the end: {:?}", &stays[..1]);
}

#[tokio::test]
async fn every_participant_of_an_end_of_300_gets_one_verified_participant_left() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(&server, |_, _| Answer::Status(200)).await;
    let meeting = server.meeting().await;
    subscribe(&server, &meeting, &receiver.url, &LEFT_AND_ENDED).await;
    let (ids, sockets, session_id) = crowd(&server, &meeting).await;

    server.rest_kick_all(&meeting).await;
    let event_id = told_ended(sockets).await;
    let ended = every_participant_left_once(&receiver, &session_id, &ids, &event_id).await;
    attendance_closed_at_the_end(&server, &meeting, &session_id, ended["meeting"]["endedAt"].as_str().unwrap()).await;
}

/// The events not yet written when the server stops (held here by the first-attempt delay, which holds them as it
/// holds a first attempt) are written and delivered once by the next start.
#[tokio::test]
async fn the_participant_left_events_of_an_end_come_once_after_a_restart_that_found_them_pending() {
    let server = TestServer::start_with(|config| config.webhooks.first_delay = Duration::from_secs(3600)).await;
    let receiver = Receiver::start(&server, |_, _| Answer::Status(200)).await;
    let meeting = server.meeting().await;
    subscribe(&server, &meeting, &receiver.url, &LEFT_AND_ENDED).await;
    let (ids, sockets, session_id) = crowd(&server, &meeting).await;

    server.rest_kick_all(&meeting).await;
    let event_id = told_ended(sockets).await;
    let app_events = server.server.store().db().await.unwrap().webhook_events(&meeting.app_id).await.unwrap();
    assert!(app_events.is_empty(), "everyone was told with no event per participant written: {}", app_events.len());

    let server = server.restart_with(|config| config.webhooks.first_delay = Duration::ZERO).await;
    let ended = every_participant_left_once(&receiver, &session_id, &ids, &event_id).await;
    attendance_closed_at_the_end(&server, &meeting, &session_id, ended["meeting"]["endedAt"].as_str().unwrap()).await;
}

/// Two nodes on one Postgres database: the node that ended the session and the other both write pending events
/// (the other one here by calling the store as its worker does, at the same time), and each is written once.
#[tokio::test]
async fn two_nodes_on_postgres_write_and_deliver_the_participant_left_events_once() {
    let Some(nodes) = TestServer::nodes_on_postgres(2, |_: &mut Config| {}).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let receiver = Receiver::start(a, |_, _| Answer::Status(200)).await;
    let meeting = a.meeting().await;
    subscribe(a, &meeting, &receiver.url, &LEFT_AND_ENDED).await;
    let (ids, sockets, session_id) = crowd(a, &meeting).await;

    let (_, written) = tokio::join!(a.rest_kick_all(&meeting), async {
        let mut written = 0;
        for _ in 0..50 {
            let store = b.server.store();
            store.write_pending_left_events(endsession_server::clock::unix_ms(), 0).await.unwrap();
            written += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        written
    });
    assert_eq!(written, 50);
    let event_id = told_ended(sockets).await;
    let ended = every_participant_left_once(&receiver, &session_id, &ids, &event_id).await;
    attendance_closed_at_the_end(b, &meeting, &session_id, ended["meeting"]["endedAt"].as_str().unwrap()).await;
    let events = b.server.store().db().await.unwrap().webhook_events(&meeting.app_id).await.unwrap();
    assert_eq!(events.len(), PARTICIPANTS + 1, "each event stored once");
}
