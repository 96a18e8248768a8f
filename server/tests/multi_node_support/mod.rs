//! What the multi_node*.rs tests share: three nodes on one store and the test Redis, participants joined through
//! them, what they are told, a relay to Redis that can be cut, and `on_each_store!`, which runs each scenario on
//! both stores. (Included with `#[macro_use] mod multi_node_support;`; each test binary uses part of it.)
#![allow(dead_code)]

use crate::common::{Meeting, TestServer, Ws};
use endsession_protocol::{EndReason, EndedBy, LeaveState, ServerFrame};
use endsession_server::config::Config;
use serde_json::Value;
use std::time::Duration;

/// The Redis to use, or None (a loud skip) when there is none and none is required.
pub fn redis_url() -> Option<String> {
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
pub enum On {
    /// One SQLite data directory (nodes on one machine).
    DataDirectory,
    /// One PostgreSQL database (`--database`).
    Postgres,
}

/// Three nodes on one store and one Redis, started at once.
pub async fn three_nodes(on: On) -> Option<Vec<TestServer>> {
    three_nodes_with(on, |_| {}).await
}

/// Three nodes on the test Redis and one store, each `configure`d alike; None when there is no Redis (see
/// [`redis_url`]) or, on Postgres, no Postgres (see `common/postgres.rs`).
pub async fn three_nodes_with(on: On, configure: impl Fn(&mut Config)) -> Option<Vec<TestServer>> {
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
pub async fn told_ended(
    ws: &mut Ws,
    session: &str,
) -> (Option<EndReason>, Option<u32>, Option<EndedBy>, Option<String>) {
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
pub async fn guests_on(nodes: &[&TestServer], meeting: &Meeting, session: &str) -> Vec<(String, Ws)> {
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
pub async fn host_and_guests(
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
pub async fn sees_arrivals(host: &mut Ws, guests: &[(String, Ws)]) {
    for (id, _) in guests {
        match host.recv().await {
            ServerFrame::ParticipantJoined { participant } => assert_eq!(&participant.id, id),
            other => panic!("expected participantJoined of {id}, got {other:?}"),
        }
    }
}

/// The meeting's session as `node` shows it once ENDED (`data` of the active session); fails with `what` if it is
/// still live after `bound`.
pub async fn once_ended(node: &TestServer, meeting: &Meeting, bound: Duration, what: &str) -> Value {
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

pub async fn status_everywhere(nodes: &[TestServer], meeting: &Meeting) -> Vec<Value> {
    let mut statuses = Vec::new();
    for node in nodes {
        let (_, live) = node.active_session(meeting).await;
        statuses.push(live["data"]["status"].clone());
    }
    statuses
}

/// The next frame other than a ping within `bound` (longer than [`common::GUARD`]: a dead node is noticed within
/// seconds, then the reconnect grace runs).
pub async fn within(ws: &mut Ws, bound: Duration) -> ServerFrame {
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

/// A TCP relay to Redis that can be cut: every relayed connection closed, and new ones refused.
pub struct RedisLink {
    pub url: String,
    pub relay: tokio::task::JoinHandle<()>,
}

impl RedisLink {
    pub async fn to(redis_url: &str) -> RedisLink {
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
    pub fn cut(&self) {
        self.relay.abort();
    }
}

/// Makes Redis lose `meeting`'s room (as a Redis restarted without its data does): its room key and its entry in the
/// set of live meetings go; the store still has the session LIVE. Only this meeting's keys: other tests share this
/// Redis.
pub async fn redis_loses_the_room_of(meeting: &Meeting) -> String {
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

/// A connection to the test Redis, to make it lose things as a Redis that lost its data does.
pub async fn test_redis() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(redis_url().expect("three nodes run on redis")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
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
