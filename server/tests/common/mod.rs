//! A real server on 127.0.0.1:0 with a temporary data dir, a REST client and WebSocket participants.
//! Timeouts here only guard against hangs; tests synchronise on frames and responses.

#![allow(dead_code)]

pub mod postgres;

use endsession_protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION, WS_PATH};
use endsession_server::api_token::{ApiToken, Scope};
use endsession_server::config::Config;
use endsession_server::Server;
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ACCOUNT: &str = "acct-1";
pub const ADMIN: &str = "admin-secret";
pub const WRITER: &str = "write-secret";
pub const READER: &str = "read-secret";
pub const OTHER_ACCOUNT: &str = "acct-2";
pub const OTHER_ADMIN: &str = "other-secret";

/// How long any single wait may take before the test fails.
pub const GUARD: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub server: Server,
    pub http: reqwest::Client,
    pub base: String,
    /// What it was started with (the API tokens aside), for [`TestServer::restart`].
    config: Config,
    dir: TempDir,
    /// The Postgres database of a node started with one ([`TestServer::nodes_on_postgres`]), dropped with the last
    /// node.
    database: Option<std::sync::Arc<postgres::TestDatabase>>,
}

/// An app and a meeting in it.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub app_id: String,
    pub id: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with_grace(Duration::from_secs(5)).await
    }

    pub async fn start_with_grace(grace: Duration) -> Self {
        Self::start_with(|config| config.reconnect_grace = grace).await
    }

    /// A server whose config `configure` changed first.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::local(dir.path());
        configure(&mut config);
        Self::start_in(dir, config).await
    }

    /// Stops this server and starts a new one on the same data directory, as a restart (or a crash: nothing is
    /// shut down politely) does. The new one has a new port.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// [`TestServer::restart`] with the config changed by `configure` first.
    pub async fn restart_with(self, configure: impl FnOnce(&mut Config)) -> Self {
        let TestServer { server, mut config, dir, database, .. } = self;
        configure(&mut config);
        drop(server);
        let mut restarted = Self::start_in(dir, config).await;
        restarted.database = database;
        restarted
    }

    /// `count` nodes started at once on one new data directory (several nodes on one store, as a balancer's
    /// nodes on one machine), each config changed by `configure`.
    pub async fn nodes(count: usize, configure: impl Fn(&mut Config)) -> Vec<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::local(dir.path());
        configure(&mut config);
        // Each node but the first gets an empty directory of its own only to own; the first owns the data.
        let others = (1..count).map(|_| Self::start_in(tempfile::tempdir().unwrap(), config.clone()));
        let (first, others) = tokio::join!(Self::start_in(dir, config.clone()), futures_util::future::join_all(others));
        std::iter::once(first).chain(others).collect()
    }

    /// `count` nodes started at once on one new Postgres database (`--database`), each with a data directory of its
    /// own (unused: the store, the secrets and the signing key are all in the database), each config changed by
    /// `configure`. None when there is no Postgres to test on (see [`postgres::postgres_url`]).
    pub async fn nodes_on_postgres(count: usize, configure: impl Fn(&mut Config)) -> Option<Vec<Self>> {
        let database = std::sync::Arc::new(postgres::TestDatabase::create().await?);
        let mut config = Config::local(tempfile::tempdir().unwrap().path());
        configure(&mut config);
        config.database = Some(database.url.clone());
        let nodes = (0..count).map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let config = Config { data: dir.path().to_owned(), ..config.clone() };
            Self::start_in(dir, config)
        });
        let mut nodes = futures_util::future::join_all(nodes).await;
        for node in &mut nodes {
            node.database = Some(database.clone());
        }
        Some(nodes)
    }

    /// One more node on this node's store (its data directory or its Postgres database), its config changed by
    /// `configure`.
    pub async fn another_node(&self, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        configure(&mut config);
        let mut node = Self::start_in(tempfile::tempdir().unwrap(), config).await;
        node.database = self.database.clone();
        node
    }

    async fn start_in(dir: TempDir, config: Config) -> Self {
        let mut started = config.clone();
        let token =
            |account: &str, secret: &str, scope| ApiToken { account_id: account.into(), secret: secret.into(), scope };
        started.api_tokens = vec![
            token(ACCOUNT, ADMIN, Scope::Admin),
            token(ACCOUNT, WRITER, Scope::ReadWrite),
            token(ACCOUNT, READER, Scope::Read),
            token(OTHER_ACCOUNT, OTHER_ADMIN, Scope::Admin),
        ];
        let server = endsession_server::start(started).await.unwrap();
        let base = format!("http://{}", server.addr());
        TestServer { server, http: reqwest::Client::new(), base, config, dir, database: None }
    }

    /// URL of a RealtimeKit path of an account, e.g. `kit_of("acct-1", "/apps")`.
    pub fn kit_of(&self, account: &str, path: &str) -> String {
        format!("{}/client/v4/accounts/{account}/realtime/kit{path}", self.base)
    }

    pub fn kit(&self, path: &str) -> String {
        self.kit_of(ACCOUNT, path)
    }

    /// Any request; returns the status and the JSON body (Null if the body is not JSON).
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(GUARD, request.send()).await.expect("REST call hung").unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// An admin call on a RealtimeKit path, whatever its outcome.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, &self.kit(path), Some(ADMIN), body).await
    }

    /// An admin call that must succeed; returns `data`.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.api(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        assert_eq!(body["success"], true, "{body}");
        body["data"].clone()
    }

    /// `/{app}/meetings/{meeting}` + `suffix`, for [`TestServer::api`] and [`TestServer::admin`].
    pub fn meeting_path(meeting: &Meeting, suffix: &str) -> String {
        format!("/{}/meetings/{}{suffix}", meeting.app_id, meeting.id)
    }

    pub async fn meeting(&self) -> Meeting {
        let app = self.admin(Method::POST, "/apps", Some(json!({ "name": "test app" }))).await;
        self.meeting_in(app["app"]["id"].as_str().unwrap()).await
    }

    /// Another meeting in the app.
    pub async fn meeting_in(&self, app_id: &str) -> Meeting {
        let meeting = self.admin(Method::POST, &format!("/{app_id}/meetings"), Some(json!({ "title": "T" }))).await;
        Meeting { app_id: app_id.to_owned(), id: meeting["id"].as_str().unwrap().to_owned() }
    }

    /// Adds a participant; returns `(participant_id, token)`.
    pub async fn participant(&self, meeting: &Meeting, preset: &str) -> (String, String) {
        self.participant_with(meeting, &format!("user-{}", unique()), preset).await
    }

    /// Adds a participant with this custom participant id (also its name); returns `(participant_id, token)`.
    pub async fn participant_with(&self, meeting: &Meeting, custom_id: &str, preset: &str) -> (String, String) {
        let body = json!({ "custom_participant_id": custom_id, "preset_name": preset, "name": custom_id });
        let data = self.admin(Method::POST, &Self::meeting_path(meeting, "/participants"), Some(body)).await;
        (data["id"].as_str().unwrap().to_owned(), data["token"].as_str().unwrap().to_owned())
    }

    pub async fn host(&self, meeting: &Meeting) -> (String, String) {
        self.participant(meeting, "group_call_host").await
    }

    pub async fn guest(&self, meeting: &Meeting) -> (String, String) {
        self.participant(meeting, "group_call_participant").await
    }

    pub async fn active_session(&self, meeting: &Meeting) -> (StatusCode, Value) {
        let path = format!("/{}/meetings/{}/active-session", meeting.app_id, meeting.id);
        self.call(Method::GET, &self.kit(&path), Some(ADMIN), None).await
    }

    pub async fn rest_kick_all(&self, meeting: &Meeting) -> Value {
        let path = format!("/{}/meetings/{}/active-session/kick-all", meeting.app_id, meeting.id);
        self.admin(Method::POST, &path, None).await
    }

    /// A socket with nothing sent yet.
    pub async fn connect(&self) -> Ws {
        let url = format!("ws://{}{WS_PATH}", self.server.addr());
        let (stream, _) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(url)).await.unwrap().unwrap();
        Ws { stream }
    }

    /// Connects and sends `join`; returns the socket and the server's first answer.
    pub async fn join_with(&self, token: &str, resume: Option<&str>) -> (Ws, ServerFrame) {
        let mut ws = self.connect().await;
        ws.send(&ClientFrame::Join { token: token.into(), resume: resume.map(Into::into), version: PROTOCOL_VERSION })
            .await;
        let answer = ws.recv().await;
        (ws, answer)
    }

    /// Joins and expects `Joined`; returns the socket and the session id.
    pub async fn join(&self, token: &str) -> (Ws, String) {
        let (ws, answer) = self.join_with(token, None).await;
        match answer {
            ServerFrame::Joined { session_id, .. } => (ws, session_id),
            other => panic!("expected joined, got {other:?}"),
        }
    }
}

/// A host and a guest in one session; see [`TestServer::host_and_guest_joined`].
pub struct Pair {
    pub session: String,
    pub host: Ws,
    pub host_id: String,
    pub host_token: String,
    pub guest: Ws,
    pub guest_id: String,
    pub guest_token: String,
}

impl TestServer {
    /// Adds a host and a guest to `meeting` and joins both to its session; the host has seen the guest arrive. The
    /// start of the tests of what happens while a connection is down (the guest's, or both at a restart).
    pub async fn host_and_guest_joined(&self, meeting: &Meeting) -> Pair {
        self.host_and_guest_joined_across(self, meeting).await
    }

    /// As [`TestServer::host_and_guest_joined`], the host through this node and the guest through `guest_node`
    /// (another node of the same deployment, or this one).
    pub async fn host_and_guest_joined_across(&self, guest_node: &TestServer, meeting: &Meeting) -> Pair {
        let (host_id, host_token) = self.host(meeting).await;
        let (guest_id, guest_token) = self.guest(meeting).await;
        let (mut host, session) = self.join(&host_token).await;
        let (guest, _) = guest_node.join(&guest_token).await;
        match host.recv().await {
            ServerFrame::ParticipantJoined { participant } => assert_eq!(participant.id, guest_id),
            other => panic!("expected participantJoined of the guest, got {other:?}"),
        }
        Pair { session, host, host_id, host_token, guest, guest_id, guest_token }
    }
}

/// A number not used before in this test binary, for unique custom participant ids.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn send_message(&mut self, message: Message) {
        self.stream.send(message).await.unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_message(Message::text(text)).await;
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(&frame.encode()).await;
    }

    /// Sends several frames in one write, so the server reads them together.
    pub async fn send_together(&mut self, frames: &[ClientFrame]) {
        for frame in frames {
            self.stream.feed(Message::text(frame.encode())).await.unwrap();
        }
        self.stream.flush().await.unwrap();
    }

    /// The next frame, or None if the server closed.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            let message = tokio::time::timeout(GUARD, self.stream.next()).await.expect("no frame in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(ServerFrame::decode(&text).expect("a valid server frame"))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next frame; the socket must still be open.
    pub async fn recv(&mut self) -> ServerFrame {
        self.next().await.expect("the server closed the socket")
    }

    /// Every frame until the server closes.
    pub async fn until_closed(&mut self) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame);
        }
        frames
    }

    /// The server must close now, with no frame before.
    pub async fn expect_closed(&mut self) {
        assert_eq!(self.until_closed().await, vec![], "expected the socket to close");
    }

    /// Drops the TCP connection without a WebSocket close, as a lost network does.
    pub fn drop_abruptly(self) {
        drop(self.stream.into_inner());
    }
}

// Helpers for the connection-limit tests (deadlines, heartbeats, slow consumers, soak).

impl Ws {
    /// The next frame other than a heartbeat `ping`, or None if the server closed.
    pub async fn next_skipping_pings(&mut self) -> Option<ServerFrame> {
        loop {
            match self.next().await {
                Some(ServerFrame::Ping) => {}
                other => return other,
            }
        }
    }

    /// The next frame other than a heartbeat `ping`; the socket must still be open.
    pub async fn recv_skipping_pings(&mut self) -> ServerFrame {
        self.next_skipping_pings().await.expect("the server closed the socket")
    }

    /// Reads until the server closes; returns the close frame's code (None if the TCP connection just ended).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(GUARD, self.stream.next()).await.expect("no close in time");
            match message {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Reads from a raw TCP stream until the server closes it (end of stream or reset), within `bound`; returns what was
/// read. Panics if the connection is still open after `bound`.
pub async fn read_until_closed(stream: &mut (impl tokio::io::AsyncRead + Unpin), bound: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server did not close the connection within {bound:?}; it sent {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

/// Waits (at most `within`) until a webhook receiver got as many events as there are `sessions`, then `settle`
/// longer for any beyond, and asserts that each session got exactly one `meeting.ended` and nothing else arrived.
/// `received` reads the receiver's deliveries so far, as (event name, session id) pairs.
pub async fn one_meeting_ended_per_session(
    sessions: &[String],
    within: Duration,
    settle: Duration,
    received: impl Fn() -> Vec<(String, String)>,
) {
    let deadline = tokio::time::Instant::now() + within;
    while received().len() < sessions.len() {
        let got = received();
        assert!(tokio::time::Instant::now() < deadline, "one meeting.ended per session within {within:?}; got {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(settle).await;
    let events = received();
    let mut per_session: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (name, session) in &events {
        assert_eq!(name, "meeting.ended");
        *per_session.entry(session).or_default() += 1;
    }
    for session in sessions {
        assert_eq!(per_session.get(session.as_str()), Some(&1), "one meeting.ended for {session}");
    }
    assert_eq!(events.len(), sessions.len(), "no meeting.ended for anything else");
}

/// How one join-vs-end race came out for the joiner.
pub enum Joiner {
    /// Admitted to the session being ended, then told `ended`.
    EndedWithIt,
    /// In a new session (which [`join_vs_end_race`] then ended).
    NewSession(String),
}

/// The last frame before the close must be `RoomLeft { ended }` of `session`.
async fn told_session_ended(ws: &mut Ws, session: &str, race: usize) {
    let frames = ws.until_closed().await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::RoomLeft { state: endsession_protocol::LeaveState::Ended, session_id, .. })
            if session_id == session),
        "race {race}: told {session} ended: {frames:?}"
    );
}

/// One join-vs-end race on `meeting`: the host joins through `host_node` (into a session that must be new: it is
/// pushed onto `sessions`), then a joiner joins through `joiner_node` while the session is ended through
/// `end_node`'s REST API (even `race`s) or by the host's kickAll (odd ones). Asserts what a user sees: the host is
/// told ended; a joiner admitted to the ending session is told ended and, per `end_node`'s REST API, the session
/// is ENDED with nobody in it; any other joiner is alone in a new LIVE session (pushed onto `sessions`), which the
/// race then ends through `host_node` and the joiner is told so.
#[allow(clippy::too_many_arguments)] // the race's cast: three nodes, two tokens, the meeting, its number, the log
pub async fn join_vs_end_race(
    host_node: &TestServer,
    joiner_node: &TestServer,
    end_node: &TestServer,
    meeting: &Meeting,
    host_token: &str,
    joiner_token: &str,
    race: usize,
    sessions: &mut Vec<String>,
) -> Joiner {
    let (mut host, session) = host_node.join(host_token).await;
    assert!(!sessions.contains(&session), "race {race}: a new session each time");
    sessions.push(session.clone());
    let end = async {
        if race.is_multiple_of(2) {
            end_node.rest_kick_all(meeting).await;
        } else {
            host.send(&ClientFrame::kick_all(1)).await;
        }
        host.until_closed().await
    };
    let join = async {
        let (mut ws, answer) = joiner_node.join_with(joiner_token, None).await;
        match answer {
            ServerFrame::Joined { session_id, .. } if session_id == session => {
                told_session_ended(&mut ws, &session, race).await;
                (Joiner::EndedWithIt, None)
            }
            ServerFrame::Joined { session_id, .. } => (Joiner::NewSession(session_id), Some(ws)),
            other => panic!("race {race}: a joiner is either in a session or told ended: {other:?}"),
        }
    };
    let (host_frames, (joiner, joiner_ws)) = tokio::join!(end, join);
    assert!(
        host_frames
            .iter()
            .any(|f| matches!(f, ServerFrame::RoomLeft { state: endsession_protocol::LeaveState::Ended, .. })),
        "race {race}: the host learns ended: {host_frames:?}"
    );
    // Asked of the node that did not take part in the join (if there are several).
    let (_, live) = end_node.active_session(meeting).await;
    match &joiner {
        Joiner::EndedWithIt => {
            assert_eq!((&live["data"]["id"], &live["data"]["status"]), (&json!(session), &json!("ENDED")));
            assert_eq!(live["data"]["live_participants"], 0, "race {race}: nobody left in an ENDED session");
        }
        Joiner::NewSession(new) => {
            assert_eq!((&live["data"]["id"], &live["data"]["status"]), (&json!(new), &json!("LIVE")));
            assert_eq!(live["data"]["live_participants"], 1, "race {race}: alone in the new session");
            sessions.push(new.clone());
            host_node.rest_kick_all(meeting).await;
            told_session_ended(&mut joiner_ws.expect("the joiner's socket"), new, race).await;
        }
    }
    joiner
}
