//! Several nodes when Redis loses or withholds what it holds (server/src/hub/redis_reconcile.rs,
//! server/src/hub/redis_watch.rs): a node cut from Redis, a room Redis lost under a live session, an end recorded by
//! a node that died before telling anyone, node stamps and numbers lost with Redis's data. The store has the truth;
//! Redis is put back in agreement with it.
//!
//! Each test runs on both stores and needs a Redis server, as multi_node.rs (whose header says how).

mod common;
#[macro_use]
mod multi_node_support;

use common::Pair;
use endsession_protocol::{ClientFrame, EndReason, LeaveState, ServerFrame};
use multi_node_support::*;
use serde_json::json;
use std::time::Duration;

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
    let Pair { mut host, host_token, mut guest, guest_token, session, .. } =
        nodes[0].host_and_guest_joined(&meeting).await;

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
    let Pair { mut host, host_token, mut guest, guest_token, session, .. } =
        nodes[0].host_and_guest_joined_across(&nodes[1], &meeting).await;

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

on_each_store!(
    a_node_cut_from_redis_sends_its_participants_to_resume_through_another,
    a_live_session_whose_room_redis_lost_is_put_back_and_its_participants_resume_it,
    a_live_session_whose_room_redis_lost_and_nobody_resumes_ends_all_participants_left,
    an_end_recorded_by_a_node_that_died_before_telling_anyone_is_still_told,
    a_node_started_after_redis_lost_its_data_takes_a_number_no_live_node_has,
    a_node_whose_stamp_redis_lost_sends_its_participants_to_resume,
    when_redis_lost_its_data_every_node_sends_its_participants_to_resume,
    a_rest_kick_all_while_redis_has_lost_the_room_ends_the_session_the_store_has_live,
);
