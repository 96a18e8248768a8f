//! Several nodes, one meeting: three servers on one data directory and one Redis (`--redis`), participants spread
//! over them on real WebSockets. An end decided on any node reaches every participant on every node, the REST API
//! of any node acts on the sessions of all, and join-vs-end races across nodes keep the hub's guarantees.
//!
//! Each test runs twice: the nodes on one data directory (SQLite), and on one PostgreSQL database (`--database`;
//! see `common/postgres.rs` for the server it needs and how a missing one is reported).
//!
//! Needs a Redis server: `ENDSESSION_TEST_REDIS=redis://127.0.0.1:PORT` (scripts/test.sh starts one and sets it).
//! Without it these tests say so loudly and pass as skipped, unless `ENDSESSION_REQUIRE_REDIS` is set (as
//! scripts/test.sh and so CI do), where a missing Redis fails them.

mod common;
mod receiver;

use common::{Meeting, TestServer, Ws};
use endsession_protocol::{ClientFrame, EndReason, EndedBy, LeaveState, Permissions, ServerFrame};
use endsession_server::config::Config;
use futures_util::future::join_all;
use receiver::Receiver;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// The Redis to use, or None (a loud skip) when there is none and none is required.
fn redis_url() -> Option<String> {
    match std::env::var("ENDSESSION_TEST_REDIS") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("ENDSESSION_REQUIRE_REDIS").is_some() => {
            panic!("ENDSESSION_REQUIRE_REDIS is set but ENDSESSION_TEST_REDIS is not: no Redis to test against")
        }
        _ => {
            // Written past the test harness's capture (which only takes `eprintln!`), so that it shows.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: multi-node tests need ENDSESSION_TEST_REDIS=redis://127.0.0.1:PORT (scripts/test.sh \
                 starts a redis-server and sets it)"
            );
            None
        }
    }
}

/// The store the nodes share.
#[derive(Debug, Clone, Copy)]
enum On {
    /// One SQLite data directory (nodes on one machine).
    DataDirectory,
    /// One PostgreSQL database (`--database`).
    Postgres,
}

/// Three nodes on one store and one Redis, started at once.
async fn three_nodes(on: On) -> Option<Vec<TestServer>> {
    three_nodes_with(on, |_| {}).await
}

/// Three nodes on the test Redis and one store, each `configure`d alike; None when there is no Redis (see
/// [`redis_url`]) or, on Postgres, no Postgres (see `common/postgres.rs`).
async fn three_nodes_with(on: On, configure: impl Fn(&mut Config)) -> Option<Vec<TestServer>> {
    let url = redis_url()?;
    let configure = |config: &mut Config| {
        config.redis = Some(url.clone());
        configure(config);
    };
    match on {
        On::DataDirectory => Some(TestServer::nodes(3, configure).await),
        On::Postgres => TestServer::nodes_on_postgres(3, configure).await,
    }
}

/// The frames up to the close; the last must be `RoomLeft { ended }` of `session`. Returns that frame's fields.
async fn told_ended(ws: &mut Ws, session: &str) -> (Option<EndReason>, Option<u32>, Option<EndedBy>, Option<String>) {
    let frames = ws.until_closed().await;
    match frames.last() {
        Some(ServerFrame::RoomLeft {
            state: LeaveState::Ended,
            session_id,
            reason,
            kicked_count,
            ended_by,
            event_id,
            ..
        }) => {
            assert_eq!(session_id, session);
            (*reason, *kicked_count, ended_by.clone(), event_id.clone())
        }
        other => panic!("expected roomLeft ended last, got {other:?} (all: {frames:?})"),
    }
}

/// Joins guests through each of `nodes` in turn; every one must be in `session`. Returns their ids and sockets.
async fn guests_on(nodes: &[&TestServer], meeting: &Meeting, session: &str) -> Vec<(String, Ws)> {
    let mut guests = Vec::new();
    for node in nodes {
        let (id, token) = node.guest(meeting).await;
        let (ws, joined) = node.join(&token).await;
        assert_eq!(joined, session, "one session for the meeting, whichever node a participant joins through");
        guests.push((id, ws));
    }
    guests
}

/// A host joined through `host_node` and one guest through each of `guest_nodes` (in order), all in one session;
/// the host saw each arrive. Returns the host's id and socket, the session, and the guests' ids and sockets.
async fn host_and_guests(
    host_node: &TestServer,
    guest_nodes: &[&TestServer],
    meeting: &Meeting,
) -> (String, Ws, String, Vec<(String, Ws)>) {
    let (host_id, host_token) = host_node.host(meeting).await;
    let (mut host, session) = host_node.join(&host_token).await;
    let guests = guests_on(guest_nodes, meeting, &session).await;
    sees_arrivals(&mut host, &guests).await;
    (host_id, host, session, guests)
}

/// The host sees each guest arrive, in order: arrivals on other nodes reach it live.
async fn sees_arrivals(host: &mut Ws, guests: &[(String, Ws)]) {
    for (id, _) in guests {
        match host.recv().await {
            ServerFrame::ParticipantJoined { participant } => assert_eq!(&participant.id, id),
            other => panic!("expected participantJoined of {id}, got {other:?}"),
        }
    }
}

/// The meeting's session as `node` shows it once ENDED (`data` of the active session); fails with `what` if it is
/// still live after `bound`.
async fn once_ended(node: &TestServer, meeting: &Meeting, bound: Duration, what: &str) -> Value {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let (_, live) = node.active_session(meeting).await;
        if live["data"]["status"] == "ENDED" {
            return live["data"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {live}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn status_everywhere(nodes: &[TestServer], meeting: &Meeting) -> Vec<Value> {
    let mut statuses = Vec::new();
    for node in nodes {
        let (_, live) = node.active_session(meeting).await;
        statuses.push(live["data"]["status"].clone());
    }
    statuses
}

async fn a_host_on_node_a_ends_the_session_for_every_participant_on_nodes_b_and_c(on: On) {
    let Some(nodes) = three_nodes(on).await else { return };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let meeting = a.meeting().await;
    let (host_id, mut host, session, mut guests) = host_and_guests(a, &[b, c, b, c], &meeting).await;
    let (_, live) = c.active_session(&meeting).await;
    assert_eq!(live["data"]["live_participants"], 5, "node C counts the participants of every node: {live}");

    host.send(&ClientFrame::kick_all(1)).await;
    let (reason, count, by, event) = told_ended(&mut host, &session).await;
    assert_eq!((reason, count), (Some(EndReason::HostEndedMeeting), Some(5)));
    assert!(matches!(&by, Some(EndedBy::Participant { id, .. }) if *id == host_id), "{by:?}");
    assert!(event.is_some(), "the end's meeting.ended event id");
    for (_, ws) in &mut guests {
        assert_eq!(told_ended(ws, &session).await, (reason, count, by.clone(), event.clone()), "one end record");
    }
    assert_eq!(status_everywhere(&nodes, &meeting).await, vec![json!("ENDED"); 3]);
}

async fn a_rest_kick_all_sent_to_node_c_ends_the_session_for_participants_on_every_node(on: On) {
    let Some(nodes) = three_nodes(on).await else { return };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let meeting = b.meeting().await;
    let (_, mut host, session, mut guests) = host_and_guests(a, &[b, c, a], &meeting).await;

    let answer = c.rest_kick_all(&meeting).await;
    assert_eq!(answer["kicked_participants_count"], 4, "{answer}");
    let told = told_ended(&mut host, &session).await;
    assert_eq!((told.0, told.1, &told.2), (Some(EndReason::HostEndedMeeting), Some(4), &Some(EndedBy::api())));
    for (_, ws) in &mut guests {
        assert_eq!(told_ended(ws, &session).await, told);
    }
    assert_eq!(status_everywhere(&nodes, &meeting).await, vec![json!("ENDED"); 3]);
}

async fn permission_changes_through_node_b_reach_participants_on_other_nodes_live(on: On) {
    let Some(nodes) = three_nodes(on).await else { return };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let meeting = a.meeting().await;
    let (_, mut host, session, mut guests) = host_and_guests(c, &[a, c], &meeting).await;
    assert!(matches!(guests[0].1.recv().await, ServerFrame::ParticipantJoined { .. }), "the second guest arrived");

    // A participant's preset, changed through node B, reaches its socket on node A.
    let path = TestServer::meeting_path(&meeting, &format!("/participants/{}", guests[0].0));
    b.admin(Method::PATCH, &path, Some(json!({ "preset_name": "group_call_host" }))).await;
    let promoted = ServerFrame::PermissionsUpdate {
        preset_name: "group_call_host".into(),
        permissions: Permissions { kick_participant: true },
    };
    assert_eq!(guests[0].1.recv().await, promoted);

    // A preset's permissions, changed through node B, reach its holder on node C.
    let presets = b.admin(Method::GET, &format!("/{}/presets", meeting.app_id), None).await;
    let preset = presets
        .as_array()
        .expect("a list of presets")
        .iter()
        .find(|p| p["name"] == "group_call_participant")
        .expect("the guest preset")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/{}/presets/{preset}", meeting.app_id);
    b.admin(Method::PATCH, &path, Some(json!({ "permissions": { "kick_participant": true } }))).await;
    let widened = ServerFrame::PermissionsUpdate {
        preset_name: "group_call_participant".into(),
        permissions: Permissions { kick_participant: true },
    };
    assert_eq!(guests[1].1.recv().await, widened);

    // And they are enforced: the promoted guest on node A ends the session for the host on node C.
    guests[0].1.send(&ClientFrame::kick_all(1)).await;
    let (reason, count, _, _) = told_ended(&mut host, &session).await;
    assert_eq!((reason, count), (Some(EndReason::HostEndedMeeting), Some(3)));
    told_ended(&mut guests[1].1, &session).await;
}

/// One meeting's races, one after another: the host joins through one node, the joiner through the next, and the
/// end comes through the third (REST, even races) or from the host's kickAll (odd ones).
async fn races_in_one_meeting(nodes: &[TestServer], meeting: Meeting, first: usize, races: usize) -> Vec<String> {
    let mut sessions = Vec::new();
    let (_, host_token) = nodes[0].host(&meeting).await;
    let (_, joiner_token) = nodes[0].guest(&meeting).await;
    for race in first..first + races {
        let (host_node, joiner_node, end_node) = (&nodes[race % 3], &nodes[(race + 1) % 3], &nodes[(race + 2) % 3]);
        let tokens = (host_token.as_str(), joiner_token.as_str());
        common::join_vs_end_race(host_node, joiner_node, end_node, &meeting, tokens.0, tokens.1, race, &mut sessions)
            .await;
    }
    sessions
}

async fn join_vs_end_races_across_nodes_leave_nobody_in_an_ended_session_and_one_webhook_each(on: On) {
    const MEETINGS: usize = 6;
    const RACES_PER_MEETING: usize = 50;
    let Some(nodes) = three_nodes(on).await else { return };
    let (receiver, url) = Receiver::start().await;
    // Every node must sign with the key node A publishes: one key for the data directory.
    receiver.trust(&nodes[0].base).await;
    let app = nodes[0].admin(Method::POST, "/apps", Some(json!({ "name": "races" }))).await;
    let app_id = app["app"]["id"].as_str().unwrap().to_owned();
    let hook = json!({ "name": "ended", "url": url, "events": ["meeting.ended"] });
    nodes[1].admin(Method::POST, &format!("/{app_id}/webhooks"), Some(hook)).await;
    let mut meetings = Vec::new();
    for _ in 0..MEETINGS {
        meetings.push(nodes[2].meeting_in(&app_id).await);
    }

    let runs = meetings.into_iter().enumerate().map(|(i, m)| races_in_one_meeting(&nodes, m, i, RACES_PER_MEETING));
    let sessions: Vec<String> = join_all(runs).await.into_iter().flatten().collect();
    assert!(sessions.len() >= MEETINGS * RACES_PER_MEETING);

    // Each node's delivery worker claims from the one outbox: one delivery per event, whichever node recorded it.
    let received = || receiver.events().iter().map(|e| (e.name().to_owned(), e.session_id().to_owned())).collect();
    common::one_meeting_ended_per_session(&sessions, Duration::from_secs(120), Duration::from_millis(1500), received)
        .await;
    assert_eq!(*receiver.forged.lock().unwrap(), 0, "every delivery was signed with the published key");
}

async fn a_countdown_started_on_node_a_is_told_on_every_node_and_ends_the_session_for_all(on: On) {
    let Some(nodes) = three_nodes(on).await else { return };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let meeting = a.meeting().await;
    let (_, mut host, session, mut guests) = host_and_guests(a, &[b], &meeting).await;

    let options = endsession_protocol::EndOptions { message: Some("bye".into()), lock: false, grace_seconds: Some(2) };
    host.send(&ClientFrame::kick_all_with(1, options)).await;
    let ending = |frame: &ServerFrame| {
        matches!(frame, ServerFrame::SessionEnding { session_id, reason: EndReason::HostEndedMeeting, message, .. }
            if *session_id == session && message.as_deref() == Some("bye"))
    };
    let told = guests[0].1.recv().await;
    assert!(ending(&told), "the guest on node B is told the countdown: {told:?}");
    // A joiner through node C during the countdown is told it right after joining.
    let (_, late_token) = c.guest(&meeting).await;
    let (mut late, joined) = c.join(&late_token).await;
    assert_eq!(joined, session);
    let told = late.recv().await;
    assert!(ending(&told), "the late joiner on node C is told the countdown: {told:?}");

    // The timer runs on node A; the end reaches everyone, with the host's message.
    let (reason, count, _, event) = told_ended(&mut host, &session).await;
    assert_eq!((reason, count), (Some(EndReason::HostEndedMeeting), Some(3)));
    for ws in [&mut guests[0].1, &mut late] {
        assert_eq!(told_ended(ws, &session).await.3, event, "one end record");
    }
    assert_eq!(status_everywhere(&nodes, &meeting).await, vec![json!("ENDED"); 3]);
}

async fn a_participant_whose_socket_drops_resumes_through_another_node_and_the_others_see_no_leave(on: On) {
    const GRACE: Duration = Duration::from_secs(2);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let meeting = a.meeting().await;
    let (_, host_token) = a.host(&meeting).await;
    let (mut host, session) = a.join(&host_token).await;
    let (back_id, back_token) = b.guest(&meeting).await;
    let (gone_id, gone_token) = b.guest(&meeting).await;
    let (back, _) = b.join(&back_token).await;
    let (gone, _) = b.join(&gone_token).await;
    for id in [&back_id, &gone_id] {
        assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { participant } if participant.id == *id));
    }

    // Both sockets on node B drop; one participant comes back through node C within the grace.
    back.drop_abruptly();
    gone.drop_abruptly();
    let (mut resumed, answer) = c.join_with(&back_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, .. } => assert_eq!((session_id, reconnected), (session, true)),
        other => panic!("expected joined, got {other:?}"),
    }
    // The other does not come back: after the grace (timed on node B) the host sees it leave, and only it.
    match host.recv_skipping_pings().await {
        ServerFrame::ParticipantLeft { participant_id } => assert_eq!(participant_id, gone_id),
        other => panic!("expected the participant that did not come back to leave, got {other:?}"),
    }
    assert_eq!(resumed.recv_skipping_pings().await, ServerFrame::ParticipantLeft { participant_id: gone_id });
    let quiet = tokio::time::timeout(GRACE + Duration::from_secs(1), host.next_skipping_pings()).await;
    assert!(quiet.is_err(), "the resumed participant never left: {quiet:?}");
    let (_, live) = b.active_session(&meeting).await;
    assert_eq!(live["data"]["live_participants"], 2, "{live}");
}

/// The next frame other than a ping within `bound` (longer than [`common::GUARD`]: a dead node is noticed within
/// seconds, then the reconnect grace runs).
async fn within(ws: &mut Ws, bound: Duration) -> ServerFrame {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = tokio::time::timeout(left.min(Duration::from_secs(4)), ws.next_skipping_pings()).await;
        match frame {
            Ok(Some(frame)) => return frame,
            Ok(None) => panic!("the socket closed"),
            Err(_) if tokio::time::Instant::now() >= deadline => panic!("nothing within {bound:?}"),
            Err(_) => {}
        }
    }
}

async fn when_a_node_dies_its_participants_resume_through_another_and_those_who_do_not_are_removed(on: On) {
    const GRACE: Duration = Duration::from_secs(2);
    let Some(mut nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host_token) = nodes[0].host(&meeting).await;
    let (mut host, session) = nodes[0].join(&host_token).await;
    let (back_id, back_token) = nodes[1].guest(&meeting).await;
    let (gone_id, gone_token) = nodes[1].guest(&meeting).await;
    let (back, _) = nodes[1].join(&back_token).await;
    let (gone, _) = nodes[1].join(&gone_token).await;
    for id in [&back_id, &gone_id] {
        assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { participant } if participant.id == *id));
    }

    // Node B dies: it changes nothing any more (a halted hub), and its sockets are cut.
    drop(nodes.remove(1));
    back.drop_abruptly();
    gone.drop_abruptly();
    let (a, c) = (&nodes[0], &nodes[1]);
    let (mut resumed, answer) = c.join_with(&back_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, .. } => assert_eq!((session_id, reconnected), (session, true)),
        other => panic!("expected joined, got {other:?}"),
    }
    // The one that did not come back leaves once its node is known dead and its grace ran out; only it.
    let bound = Duration::from_secs(20);
    assert_eq!(within(&mut host, bound).await, ServerFrame::ParticipantLeft { participant_id: gone_id.clone() });
    assert_eq!(within(&mut resumed, bound).await, ServerFrame::ParticipantLeft { participant_id: gone_id });
    let quiet = tokio::time::timeout(GRACE + Duration::from_secs(2), host.next_skipping_pings()).await;
    assert!(quiet.is_err(), "the resumed participant never left: {quiet:?}");
    let (_, live) = a.active_session(&meeting).await;
    assert_eq!((&live["data"]["status"], &live["data"]["live_participants"]), (&json!("LIVE"), &json!(2)), "{live}");
}

async fn a_session_whose_node_died_with_everyone_on_it_ends_all_participants_left(on: On) {
    const GRACE: Duration = Duration::from_secs(2);
    let Some(mut nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host, session, mut guests) = host_and_guests(&nodes[2], &[&nodes[2]], &meeting).await;

    drop(nodes.remove(2));
    host.drop_abruptly();
    guests.remove(0).1.drop_abruptly();
    // Nobody comes back: no session stays LIVE because its node died.
    let ended = once_ended(&nodes[1], &meeting, Duration::from_secs(20), "still not ended").await;
    assert_eq!(ended["id"], json!(session));
    assert_eq!((&ended["reason"], &ended["live_participants"]), (&json!("ALL_PARTICIPANTS_LEFT"), &json!(0)));
}

async fn a_grace_timer_that_dies_with_its_node_still_removes_the_absent_participant(on: On) {
    const GRACE: Duration = Duration::from_secs(3);
    let Some(mut nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host_token) = nodes[0].host(&meeting).await;
    let (mut host, _) = nodes[0].join(&host_token).await;
    let (guest_id, guest_token) = nodes[1].guest(&meeting).await;
    let (guest, _) = nodes[1].join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { participant } if participant.id == guest_id));

    // The guest's socket drops while node B is alive: B makes it absent and times its grace. Then B dies with
    // that timer, and the guest never comes back.
    guest.drop_abruptly();
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(nodes.remove(1));
    assert_eq!(
        within(&mut host, Duration::from_secs(20)).await,
        ServerFrame::ParticipantLeft { participant_id: guest_id }
    );
    let (_, live) = nodes[1].active_session(&meeting).await;
    assert_eq!((&live["data"]["status"], &live["data"]["live_participants"]), (&json!("LIVE"), &json!(1)), "{live}");
}

async fn an_emptied_session_whose_keep_alive_timer_died_with_its_node_still_ends(on: On) {
    let Some(mut nodes) = three_nodes(on).await else { return };
    let app = nodes[0].admin(Method::POST, "/apps", Some(json!({ "name": "keep-alive" }))).await;
    let app_id = app["app"]["id"].as_str().unwrap().to_owned();
    let body = json!({ "title": "K", "session_keep_alive_time_in_secs": 3 });
    let meeting = nodes[0].admin(Method::POST, &format!("/{app_id}/meetings"), Some(body)).await;
    let meeting = Meeting { app_id, id: meeting["id"].as_str().unwrap().to_owned() };
    let (_, token) = nodes[2].guest(&meeting).await;
    let (mut ws, session) = nodes[2].join(&token).await;
    // The last participant leaves through node C, which times the keep-alive; then node C dies with that timer.
    ws.send(&ClientFrame::Leave).await;
    assert!(matches!(ws.until_closed().await.as_slice(), [ServerFrame::RoomLeft { state: LeaveState::Left, .. }]));
    drop(nodes.remove(2));

    let what = "an emptied session stayed live after its node died";
    let ended = once_ended(&nodes[0], &meeting, Duration::from_secs(20), what).await;
    assert_eq!((&ended["id"], &ended["reason"]), (&json!(session), &json!("ALL_PARTICIPANTS_LEFT")), "{ended}");
    // Dated when the last participant left, as when the keep-alive runs out on a live node.
    let path = format!("/{}/sessions/{session}/participants", meeting.app_id);
    let stays = nodes[0].admin(Method::GET, &path, None).await;
    let left = stays["participants"].as_array().unwrap().iter().filter_map(|s| s["left_at"].as_str()).max();
    assert_eq!(ended["ended_at"].as_str(), left, "{ended} {stays}");
}

/// A TCP relay to Redis that can be cut: every relayed connection closed, and new ones refused.
struct RedisLink {
    url: String,
    relay: tokio::task::JoinHandle<()>,
}

impl RedisLink {
    async fn to(redis_url: &str) -> RedisLink {
        let target = redis_url.trim_start_matches("redis://").trim_end_matches('/').to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let relay = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                pipes.spawn(async move {
                    if let Ok(mut redis) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut redis).await;
                    }
                });
            }
        });
        RedisLink { url, relay }
    }

    /// Cuts the link: the listener and every relayed connection go (the JoinSet aborts its pipes when dropped).
    fn cut(&self) {
        self.relay.abort();
    }
}

async fn a_node_cut_from_redis_sends_its_participants_to_resume_through_another(on: On) {
    const GRACE: Duration = Duration::from_secs(10);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let link = RedisLink::to(&redis_url().expect("three nodes run on redis")).await;
    let cut_off = nodes[0].another_node(|config| config.redis = Some(link.url.clone())).await;
    let meeting = nodes[0].meeting().await;
    let (_, host_token) = nodes[0].host(&meeting).await;
    let (mut host, session) = nodes[0].join(&host_token).await;
    let (guest_id, guest_token) = cut_off.guest(&meeting).await;
    let (mut guest, _) = cut_off.join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { participant } if participant.id == guest_id));

    // The node stays up, but loses Redis: within seconds it closes the guest's socket with 1013 (try again) …
    link.cut();
    let code = tokio::time::timeout(Duration::from_secs(15), guest.close_code()).await;
    assert_eq!(code.expect("the socket of a node cut from Redis stayed open"), Some(1013));
    // … and the guest resumes the same session through another node; the host never sees it leave.
    let (mut resumed, answer) = nodes[1].join_with(&guest_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, .. } => {
            assert_eq!((session_id.as_str(), reconnected), (session.as_str(), true))
        }
        other => panic!("expected joined, got {other:?}"),
    }
    host.send(&ClientFrame::kick_all(1)).await;
    assert_eq!(told_ended(&mut resumed, &session).await.0, Some(EndReason::HostEndedMeeting));
    let frames = host.until_closed().await;
    assert!(!frames.iter().any(|f| matches!(f, ServerFrame::ParticipantLeft { .. })), "{frames:?}");
}

/// Makes Redis lose `meeting`'s room (as a Redis restarted without its data does): its room key and its entry in the
/// set of live meetings go; the store still has the session LIVE. Only this meeting's keys: other tests share this
/// Redis.
async fn redis_loses_the_room_of(meeting: &Meeting) -> String {
    let client = redis::Client::open(redis_url().expect("three nodes run on redis")).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let rooms: Vec<String> =
        redis::cmd("KEYS").arg(format!("endsession:*:room:{}", meeting.id)).query_async(&mut redis).await.unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    let prefix = rooms[0].replace(&format!(":room:{}", meeting.id), "");
    let live = format!("{prefix}:live");
    let _: () = redis::pipe().del(&rooms[0]).srem(&live, &meeting.id).query_async(&mut redis).await.unwrap();
    prefix
}

async fn a_live_session_whose_room_redis_lost_is_put_back_and_its_participants_resume_it(on: On) {
    const GRACE: Duration = Duration::from_secs(10);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (host_id, host_token) = nodes[0].host(&meeting).await;
    let (host, session) = nodes[0].join(&host_token).await;
    let (guest_id, guest_token) = nodes[1].guest(&meeting).await;
    let (guest, _) = nodes[1].join(&guest_token).await;

    // Redis loses the room, and with it (a restart) every node's subscription: the sockets go, the clients resume.
    redis_loses_the_room_of(&meeting).await;
    host.drop_abruptly();
    guest.drop_abruptly();
    let (mut guest, answer) = nodes[2].join_with(&guest_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, participants, .. } => {
            assert_eq!((session_id.as_str(), reconnected), (session.as_str(), true), "the store's live session");
            let others: Vec<_> = participants.iter().map(|p| p.id.as_str()).collect();
            assert_eq!(others, [host_id.as_str()], "the host, absent, is still in it");
        }
        other => panic!("expected joined, got {other:?}"),
    }
    let (mut host, answer) = nodes[0].join_with(&host_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, participants, .. } => {
            assert_eq!((session_id.as_str(), reconnected), (session.as_str(), true));
            assert_eq!(participants.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [guest_id.as_str()]);
        }
        other => panic!("expected joined, got {other:?}"),
    }
    host.send(&ClientFrame::kick_all(1)).await;
    let told = told_ended(&mut guest, &session).await;
    assert_eq!(told.0, Some(EndReason::HostEndedMeeting));
    assert_eq!(told_ended(&mut host, &session).await.3, told.3, "one end record");
    let (_, live) = nodes[1].active_session(&meeting).await;
    assert_eq!((&live["data"]["id"], &live["data"]["status"]), (&json!(session), &json!("ENDED")), "{live}");
}

async fn a_live_session_whose_room_redis_lost_and_nobody_resumes_ends_all_participants_left(on: On) {
    const GRACE: Duration = Duration::from_secs(2);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host, session, mut guests) = host_and_guests(&nodes[0], &[&nodes[1]], &meeting).await;
    redis_loses_the_room_of(&meeting).await;
    host.drop_abruptly();
    guests.remove(0).1.drop_abruptly();
    // Nobody joins the meeting again: the sweep that compares Redis with the store puts the session back, and
    // after the grace it ends.
    let what = "a session whose room Redis lost stayed LIVE";
    let ended = once_ended(&nodes[2], &meeting, Duration::from_secs(30), what).await;
    assert_eq!((&ended["id"], &ended["reason"]), (&json!(session), &json!("ALL_PARTICIPANTS_LEFT")), "{ended}");
}

async fn an_end_recorded_by_a_node_that_died_before_telling_anyone_is_still_told(on: On) {
    let Some(nodes) = three_nodes(on).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, mut host, session, mut guests) = host_and_guests(&nodes[0], &[&nodes[1]], &meeting).await;
    // The end is recorded in the store, as a node does before telling anyone; that node never gets to its release.
    let record = endsession_server::store::EndRecord {
        reason: EndReason::HostEndedMeeting,
        ended_by: None,
        message: Some("recorded, then its node died".into()),
        lock: false,
    };
    let mut tx = nodes[2].server.store().begin().await.unwrap();
    let at = endsession_server::clock::now();
    let event = tx.end_session_recorded(&meeting.id, &session, &at, &record, 2, 2).await.unwrap();
    tx.commit().await.unwrap();
    assert!(event.is_some());
    for ws in [&mut host, &mut guests[0].1] {
        // Within a pass of the comparison of Redis with the store (every 10 s).
        match within(ws, Duration::from_secs(30)).await {
            ServerFrame::RoomLeft {
                state: LeaveState::Ended,
                session_id,
                reason,
                message,
                event_id,
                kicked_count,
                ..
            } => {
                assert_eq!(session_id, session);
                assert_eq!(
                    (reason, message.as_deref()),
                    (Some(EndReason::HostEndedMeeting), record.message.as_deref())
                );
                assert_eq!((&event_id, kicked_count), (&event, Some(2)), "the end as recorded");
            }
            other => panic!("expected roomLeft ended, got {other:?}"),
        }
    }
}

/// A connection to the test Redis, to make it lose things as a Redis that lost its data does.
async fn test_redis() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(redis_url().expect("three nodes run on redis")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

async fn a_node_started_after_redis_lost_its_data_takes_a_number_no_live_node_has(on: On) {
    let Some(nodes) = three_nodes(on).await else { return };
    // Redis lost its data (restarted without persistence, FLUSHALL): the live nodes' stamps are gone until their
    // next heartbeat, and so would be any count of nodes (here: set back below their numbers).
    let mut redis = test_redis().await;
    let taken: Vec<u64> = nodes.iter().filter_map(|n| n.server.redis_node()).collect();
    let lowest = *taken.iter().min().unwrap();
    let mut lose = redis::pipe();
    lose.set("endsession:nodes", lowest - 1);
    for node in &taken {
        lose.del(format!("endsession:alive:{node}"));
    }
    let _: () = lose.query_async(&mut redis).await.unwrap();
    let late = nodes[0].another_node(|_| {}).await;
    let number = late.server.redis_node().unwrap();
    assert!(!taken.contains(&number), "node {number} started twice: {taken:?}");
    // Every node has stamped itself again; a participant on the new node is in the session, and told its end.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let meeting = nodes[0].meeting().await;
    let (_, mut host, session, mut guests) = host_and_guests(&nodes[0], &[&late], &meeting).await;
    host.send(&ClientFrame::kick_all(1)).await;
    assert_eq!(told_ended(&mut guests[0].1, &session).await.0, Some(EndReason::HostEndedMeeting));
}

async fn a_node_whose_stamp_redis_lost_sends_its_participants_to_resume(on: On) {
    const GRACE: Duration = Duration::from_secs(10);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host_token) = nodes[0].host(&meeting).await;
    let (mut host, session) = nodes[0].join(&host_token).await;
    let (guest_id, guest_token) = nodes[0].guest(&meeting).await;
    let (mut guest, _) = nodes[0].join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { participant } if participant.id == guest_id));

    // Redis loses its data without a restart (FLUSHALL: the subscriptions stay): this meeting's room, and node A's
    // stamp. Node A can no longer trust what it holds: within a heartbeat it asks its connections to reconnect.
    redis_loses_the_room_of(&meeting).await;
    let node = nodes[0].server.redis_node().unwrap();
    let _: () =
        redis::cmd("DEL").arg(format!("endsession:alive:{node}")).query_async(&mut test_redis().await).await.unwrap();
    for ws in [&mut host, &mut guest] {
        let code = tokio::time::timeout(Duration::from_secs(5), ws.close_code()).await;
        assert_eq!(code.expect("node A kept a socket whose state Redis lost"), Some(1013));
    }
    // Both resume through other nodes: the session is put back from the store, and they are in it together.
    let (mut host, answer) = nodes[1].join_with(&host_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { session_id, reconnected: true, .. } if session_id == session));
    let (mut guest, answer) = nodes[2].join_with(&guest_token, Some(&session)).await;
    match answer {
        ServerFrame::Joined { session_id, reconnected, participants, .. } => {
            assert_eq!((session_id.as_str(), reconnected, participants.len()), (session.as_str(), true, 1));
        }
        other => panic!("expected joined, got {other:?}"),
    }
    // Nobody is dropped after the grace would have run: the session is theirs, and ends once, for both.
    host.send(&ClientFrame::kick_all(1)).await;
    let told = told_ended(&mut guest, &session).await;
    assert_eq!(told.0, Some(EndReason::HostEndedMeeting));
    assert_eq!(told_ended(&mut host, &session).await.3, told.3);
}

async fn when_redis_lost_its_data_every_node_sends_its_participants_to_resume(on: On) {
    const GRACE: Duration = Duration::from_secs(10);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host_token) = nodes[0].host(&meeting).await;
    let (mut host, session) = nodes[0].join(&host_token).await;
    let (guest_id, guest_token) = nodes[1].guest(&meeting).await;
    let (mut guest, _) = nodes[1].join(&guest_token).await;
    assert!(matches!(host.recv().await, ServerFrame::ParticipantJoined { participant } if participant.id == guest_id));

    // Redis lost its data and a node has marked it since (a new epoch): every node sees it within a heartbeat,
    // whatever became of its own stamp (a stamp that timed out during the loss may have been written after it).
    let prefix = redis_loses_the_room_of(&meeting).await;
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:epoch"))
        .arg("another")
        .query_async(&mut test_redis().await)
        .await
        .unwrap();
    for ws in [&mut host, &mut guest] {
        let code = tokio::time::timeout(Duration::from_secs(5), ws.close_code()).await;
        assert_eq!(code.expect("a node kept a socket whose state Redis lost"), Some(1013));
    }
    // Every node notices within a heartbeat; one that had not yet would send a resumed client to resume again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (mut host, answer) = nodes[2].join_with(&host_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { session_id, reconnected: true, .. } if session_id == session));
    let (mut guest, answer) = nodes[2].join_with(&guest_token, Some(&session)).await;
    assert!(matches!(answer, ServerFrame::Joined { session_id, reconnected: true, .. } if session_id == session));
    host.send(&ClientFrame::kick_all(1)).await;
    let told = told_ended(&mut guest, &session).await;
    assert_eq!(told_ended(&mut host, &session).await.3, told.3);
}

async fn a_rest_kick_all_while_redis_has_lost_the_room_ends_the_session_the_store_has_live(on: On) {
    const GRACE: Duration = Duration::from_secs(60);
    let Some(nodes) = three_nodes_with(on, |config| config.reconnect_grace = GRACE).await else { return };
    let meeting = nodes[0].meeting().await;
    let (_, host, session, mut guests) = host_and_guests(&nodes[0], &[&nodes[1]], &meeting).await;
    redis_loses_the_room_of(&meeting).await;
    host.drop_abruptly();
    guests.remove(0).1.drop_abruptly();
    // Before any pass put the session back: the kick-all finds it in the store, puts it back and ends it.
    let body = nodes[2].rest_kick_all(&meeting).await;
    assert_eq!(body["kicked_participants_count"], 2, "{body}");
    let (_, live) = nodes[1].active_session(&meeting).await;
    assert_eq!((&live["data"]["id"], &live["data"]["status"]), (&json!(session), &json!("ENDED")), "{live}");
    assert_eq!(live["data"]["reason"], json!("HOST_ENDED_MEETING"), "{live}");
}

/// Each scenario twice: the three nodes on one SQLite data directory, and on one Postgres database.
macro_rules! on_each_store {
    ($($name:ident),* $(,)?) => {
        mod on_one_data_directory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::On::DataDirectory).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::On::Postgres).await
                }
            )*
        }
    };
}

on_each_store!(
    a_host_on_node_a_ends_the_session_for_every_participant_on_nodes_b_and_c,
    a_rest_kick_all_sent_to_node_c_ends_the_session_for_participants_on_every_node,
    permission_changes_through_node_b_reach_participants_on_other_nodes_live,
    join_vs_end_races_across_nodes_leave_nobody_in_an_ended_session_and_one_webhook_each,
    a_countdown_started_on_node_a_is_told_on_every_node_and_ends_the_session_for_all,
    a_participant_whose_socket_drops_resumes_through_another_node_and_the_others_see_no_leave,
    when_a_node_dies_its_participants_resume_through_another_and_those_who_do_not_are_removed,
    a_session_whose_node_died_with_everyone_on_it_ends_all_participants_left,
    a_grace_timer_that_dies_with_its_node_still_removes_the_absent_participant,
    an_emptied_session_whose_keep_alive_timer_died_with_its_node_still_ends,
    a_node_cut_from_redis_sends_its_participants_to_resume_through_another,
    a_live_session_whose_room_redis_lost_is_put_back_and_its_participants_resume_it,
    a_live_session_whose_room_redis_lost_and_nobody_resumes_ends_all_participants_left,
    an_end_recorded_by_a_node_that_died_before_telling_anyone_is_still_told,
    a_node_started_after_redis_lost_its_data_takes_a_number_no_live_node_has,
    a_node_whose_stamp_redis_lost_sends_its_participants_to_resume,
    a_rest_kick_all_while_redis_has_lost_the_room_ends_the_session_the_store_has_live,
    when_redis_lost_its_data_every_node_sends_its_participants_to_resume,
);
