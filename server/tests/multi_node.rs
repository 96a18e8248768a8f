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
#[macro_use]
mod multi_node_support;
mod receiver;

use common::{Meeting, TestServer};
use endsession_protocol::{ClientFrame, EndReason, EndedBy, LeaveState, Permissions, ServerFrame};
use futures_util::future::join_all;
use multi_node_support::*;
use receiver::Receiver;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

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
);
