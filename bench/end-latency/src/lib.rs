//! The end-latency benchmark: N participants connected to one meeting, one host ends the session, and every
//! participant's time from the host's `kickAll` to its `roomLeft` is recorded. The same N clients are then measured
//! against a bare WebSocket broadcast ([`floor`]): the floor no session logic can beat on this machine.
//!
//! All clients live in this one process and share one monotonic clock: `t0` is taken just before the host's
//! `kickAll` (or the floor's trigger) is written, `t_i` when client i reads its end frame. Clients connect from
//! several loopback source addresses (127.0.0.1–16) so that ephemeral ports never run out.
//!
//! Join throughput is measured on the way: the last `M` joins (N/10, at most 1,000) are timed with N − M already
//! connected.

pub mod floor;
pub mod isolate;
pub mod redis;

use anyhow::{anyhow, bail, Context, Result};
use endsession_protocol::{ClientFrame, LeaveState, ServerFrame, PROTOCOL_VERSION, WS_PATH};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

/// Connections being opened at once.
pub const CONNECT_CONCURRENCY: usize = 128;
/// REST calls in flight at once while participants are created.
pub const REST_CONCURRENCY: usize = 64;
/// How long the end may take before the missing clients are counted as not delivered.
const END_TIMEOUT: Duration = Duration::from_secs(60);
/// Loopback source addresses the clients spread over.
const SOURCES: u8 = 16;

/// Each client's read buffer. tungstenite zeroes the buffer's whole capacity before every read (`FrameCodec::read_in`),
/// and its default is 128 KiB: with it, the clients' core spent 10–18% of the end in `memset` and more in unmapping
/// (`perf record -a -C 1` under `--isolate`, N = 10,000), and was busy for the whole fan-out for ours and for the
/// floor alike, so the latencies measured the clients as much as the servers. 4 KiB holds the end's frames; a larger
/// message (a `Joined`) grows it.
const CLIENT_READ_BUFFER: usize = 4096;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// Participants that should receive the end (the host is not counted).
    pub n: usize,
    /// How many did, within the timeout.
    pub delivered: usize,
    /// Milliseconds from `t0` to each delivery, sorted.
    pub latencies_ms: Vec<f64>,
    /// Seconds to connect (and join) all N.
    pub connect_s: f64,
    /// Joins per second over the last `join_probe` joins, with `n - join_probe` already connected.
    pub join_rate: f64,
    pub join_probe: usize,
    /// The `kickedCount` of the host's `kickAllResult` (ours only).
    pub kicked_count: Option<u32>,
}

impl Run {
    /// The q-quantile (nearest rank) of the latencies, in ms.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.latencies_ms.len() as f64).ceil() as usize).clamp(1, self.latencies_ms.len());
        self.latencies_ms[rank - 1]
    }

    pub fn to_json(&self) -> Value {
        json!({
            "n": self.n,
            "delivered": self.delivered,
            "min_ms": self.latencies_ms.first().copied().unwrap_or(f64::NAN),
            "p50_ms": self.quantile(0.50),
            "p99_ms": self.quantile(0.99),
            "max_ms": self.latencies_ms.last().copied().unwrap_or(f64::NAN),
            "connect_s": self.connect_s,
            "join_rate_per_s": self.join_rate,
            "join_probe": self.join_probe,
            "kicked_count": self.kicked_count,
        })
    }
}

/// Who the clients talk to.
#[derive(Clone)]
enum Target {
    /// `endsession-server`: each client joins with its token.
    Ours { tokens: Arc<Vec<String>> },
    /// The bare broadcast server: each client waits for its hello.
    Floor,
}

/// Participants created through the REST API of a server started with `--api-token ACCOUNT:SECRET:...`.
pub struct Meeting {
    pub guests: Vec<String>,
    pub host: String,
}

/// Creates an app, a meeting, `n` guests and a host; returns their tokens. With `webhook_url`, also registers a
/// webhook for `meeting.participantJoined`, `meeting.participantLeft` and `meeting.ended` there (each join then
/// writes its event with its stay, before its `joined`; the end has one outbox event per participant to write,
/// which the server does after the participants were told).
pub async fn create_meeting(
    http_base: &str,
    account: &str,
    secret: &str,
    n: usize,
    webhook_url: Option<&str>,
) -> Result<Meeting> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let kit = format!("{http_base}/client/v4/accounts/{account}/realtime/kit");
    let post = |url: String, body: Value| {
        let request = http.post(url).bearer_auth(secret).json(&body);
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            if !status.is_success() {
                bail!("{status}: {body}");
            }
            Ok::<_, anyhow::Error>(body["data"].clone())
        }
    };
    let app = post(format!("{kit}/apps"), json!({ "name": "bench" })).await?;
    let app_id = app["app"]["id"].as_str().context("app id")?.to_owned();
    if let Some(url) = webhook_url {
        let events = ["meeting.participantJoined", "meeting.participantLeft", "meeting.ended"];
        post(format!("{kit}/{app_id}/webhooks"), json!({ "name": "bench", "url": url, "events": events })).await?;
    }
    let meeting = post(format!("{kit}/{app_id}/meetings"), json!({ "title": "bench" })).await?;
    let meeting_id = meeting["id"].as_str().context("meeting id")?.to_owned();
    let participants = format!("{kit}/{app_id}/meetings/{meeting_id}/participants");
    let add = |i: usize, preset: &'static str| {
        let body = json!({ "custom_participant_id": format!("p{i}"), "preset_name": preset, "name": format!("P {i}") });
        let call = post(participants.clone(), body);
        async move { call.await?["token"].as_str().map(str::to_owned).context("participant token") }
    };
    let guests: Vec<String> = futures_util::stream::iter((0..n).map(|i| add(i, "group_call_participant")))
        .buffered(REST_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let host = add(n, "group_call_host").await?;
    Ok(Meeting { guests, host })
}

/// A webhook receiver on loopback that answers 200 to every POST and counts them: `--webhook`'s sink.
pub struct WebhookSink {
    pub url: String,
    pub received: Arc<std::sync::atomic::AtomicUsize>,
}

impl WebhookSink {
    pub async fn start() -> Result<WebhookSink> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let received = Arc::new(AtomicUsize::new(0));
        let count = received.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                count.fetch_add(1, Ordering::Relaxed);
                std::future::ready(axum::http::StatusCode::OK)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(WebhookSink { url, received })
    }
}

/// Opens a socket from loopback source address `127.0.0.(1 + i % SOURCES)`.
async fn connect(addr: SocketAddr, i: usize, path: &str) -> Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(Ipv4Addr::new(127, 0, 0, 1 + (i % SOURCES as usize) as u8).into(), 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(format!("ws://{addr}{path}"), stream, Some(config)).await?;
    Ok(ws)
}

async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Close(_))) | None => bail!("closed"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Connects client `i` and waits until it is in: `Joined` from ours, the hello from the floor.
async fn enter(addr: SocketAddr, target: &Target, i: usize, token: Option<&str>) -> Result<Ws> {
    match target {
        Target::Ours { .. } => {
            let mut ws = connect(addr, i, WS_PATH).await?;
            let token = token.context("token")?;
            let join = ClientFrame::Join { token: token.into(), resume: None, version: PROTOCOL_VERSION };
            ws.send(Message::Text(join.encode().into())).await?;
            match ServerFrame::decode(&next_text(&mut ws).await?) {
                Ok(ServerFrame::Joined { .. }) => Ok(ws),
                other => bail!("expected joined, got {other:?}"),
            }
        }
        Target::Floor => {
            let mut ws = connect(addr, i, "/").await?;
            next_text(&mut ws).await?;
            Ok(ws)
        }
    }
}

/// Reads until the end frame; returns when it was read.
async fn await_end(mut ws: Ws, ours: bool) -> Option<Instant> {
    loop {
        let text = next_text(&mut ws).await.ok()?;
        let at = Instant::now();
        if !ours {
            return Some(at);
        }
        // Cheap test first: in a large session, only the end arrives anyway.
        if text.contains("\"roomLeft\"") {
            return match ServerFrame::decode(&text) {
                Ok(ServerFrame::RoomLeft { state: LeaveState::Ended, .. }) => Some(at),
                _ => None,
            };
        }
    }
}

/// Where a run is, told to the caller's probe (memory, CPU, `perf record`) so it can measure that stretch alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The timed joins (the last M) are about to start, N − M connected.
    JoinBurst,
    /// The timed joins are all in.
    JoinBurstDone,
    /// Everyone is in; the end is next.
    BeforeEnd,
}

/// Connects `n` clients (the last `probe` of them timed for the join rate), client i to `addrs[i % addrs.len()]`;
/// returns their waiting tasks.
async fn connect_all(
    addrs: &[SocketAddr],
    target: &Target,
    n: usize,
    stage: &mut impl AsyncFnMut(Stage),
) -> Result<(Vec<tokio::task::JoinHandle<Option<Instant>>>, f64, f64, usize)> {
    let probe = (n / 10).clamp(1, 1000).min(n);
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let started = Instant::now();
    let mut waiting = Vec::with_capacity(n);
    let mut join_rate = f64::NAN;
    for (from, to) in [(0, n - probe), (n - probe, n)] {
        if from == n - probe {
            stage(Stage::JoinBurst).await;
        }
        let phase = Instant::now();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<Result<()>>();
        for i in from..to {
            let (gate, target, ready) = (gate.clone(), target.clone(), ready_tx.clone());
            let addr = addrs[i % addrs.len()];
            waiting.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await.expect("semaphore");
                let token = match &target {
                    Target::Ours { tokens } => Some(tokens[i].clone()),
                    Target::Floor => None,
                };
                let entered = enter(addr, &target, i, token.as_deref()).await;
                drop(permit);
                match entered {
                    Ok(ws) => {
                        let _ = ready.send(Ok(()));
                        await_end(ws, matches!(target, Target::Ours { .. })).await
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e.context(format!("client {i}"))));
                        None
                    }
                }
            }));
        }
        drop(ready_tx);
        for _ in from..to {
            ready_rx.recv().await.context("client task vanished")??;
        }
        if from == n - probe {
            join_rate = probe as f64 / phase.elapsed().as_secs_f64();
            stage(Stage::JoinBurstDone).await;
        }
    }
    Ok((waiting, started.elapsed().as_secs_f64(), join_rate, probe))
}

async fn collect(waiting: Vec<tokio::task::JoinHandle<Option<Instant>>>, t0: Instant) -> Vec<f64> {
    let deadline = tokio::time::Instant::from_std(t0 + END_TIMEOUT);
    let mut latencies = Vec::with_capacity(waiting.len());
    for task in waiting {
        if let Ok(Ok(Some(at))) = tokio::time::timeout_at(deadline, task).await {
            latencies.push(at.duration_since(t0).as_secs_f64() * 1e3);
        }
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// Ours: joins the `guests`, then the host, then the host ends the session for all. `stage` is awaited at each
/// [`Stage`] (the caller's probes).
pub async fn run_ours(ws_addr: SocketAddr, meeting: &Meeting, stage: impl AsyncFnMut(Stage)) -> Result<Run> {
    run_ours_on(&[ws_addr], meeting, stage).await
}

/// Ours over several nodes of one deployment (`--redis`, one store): guest i joins through `nodes[i % nodes.len()]`
/// (round-robin), the host through `nodes[0]`, then the host ends the session for all. Errors if `nodes` is empty.
pub async fn run_ours_on(nodes: &[SocketAddr], meeting: &Meeting, mut stage: impl AsyncFnMut(Stage)) -> Result<Run> {
    let first = *nodes.first().context("no node to join through")?;
    let n = meeting.guests.len();
    let target = Target::Ours { tokens: Arc::new(meeting.guests.clone()) };
    let (waiting, connect_s, join_rate, join_probe) = connect_all(nodes, &target, n, &mut stage).await?;
    let mut host = enter(first, &target, n, Some(&meeting.host)).await.context("host")?;
    stage(Stage::BeforeEnd).await;

    let t0 = Instant::now();
    host.send(Message::Text(ClientFrame::kick_all(1).encode().into())).await?;
    let kicked_count = loop {
        match ServerFrame::decode(&next_text(&mut host).await?) {
            Ok(ServerFrame::KickAllResult { kicked_count, .. }) => break kicked_count,
            Ok(ServerFrame::Error { message, .. }) => return Err(anyhow!("kickAll refused: {message}")),
            _ => {}
        }
    };
    let latencies_ms = collect(waiting, t0).await;
    Ok(Run {
        n,
        delivered: latencies_ms.len(),
        latencies_ms,
        connect_s,
        join_rate,
        join_probe,
        kicked_count: Some(kicked_count),
    })
}

/// The floor: `n` clients on the bare broadcast server, then one control client triggers the broadcast.
pub async fn run_floor(addr: SocketAddr, n: usize, mut stage: impl AsyncFnMut(Stage)) -> Result<Run> {
    let (waiting, connect_s, join_rate, join_probe) = connect_all(&[addr], &Target::Floor, n, &mut stage).await?;
    let mut control = enter(addr, &Target::Floor, n, None).await.context("control")?;
    stage(Stage::BeforeEnd).await;
    let t0 = Instant::now();
    control.send(Message::Text("go".into())).await?;
    let latencies_ms = collect(waiting, t0).await;
    Ok(Run { n, delivered: latencies_ms.len(), latencies_ms, connect_s, join_rate, join_probe, kicked_count: None })
}

/// Resident memory of a process, in bytes (VmRSS of /proc/PID/status).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system, all threads) a process has used, in ms, from /proc/PID/stat; 10 ms resolution (USER_HZ
/// is 100 on Linux).
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields of the line.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}
