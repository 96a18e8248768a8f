//! `end-latency --n 1000 --server-bin target/release/endsession-server --floor-bin target/release/bench-floor
//! [--json bench/out/n1000.json] [--perf DIR]`
//!
//! Starts a fresh `endsession-server` (temporary data dir, `--api-token`) and the bare floor server as child
//! processes, runs N participants against each side by side, and prints one line per side plus the ratio of the p99s.
//! Memory: the VmRSS of each server before the clients connect and once all are in. CPU: the server's user +
//! system time from just before the end until 500 ms after the last delivery.

use anyhow::{bail, Context, Result};
use clap::Parser;
use endsession_bench::isolate::{allowed_cpus, CoreSplit};
use endsession_bench::{cpu_ms, create_meeting, rss_bytes, run_floor, run_ours, Run, Stage, WebhookSink};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ACCOUNT: &str = "bench";
const SECRET: &str = "bench-secret";

/// kickAll → every participant's `roomLeft` on endsession-server, side by side with a bare broadcast floor.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Participants in the meeting (the host is extra).
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// The release `endsession-server` binary.
    #[arg(long)]
    server_bin: PathBuf,
    /// The release `bench-floor` binary.
    #[arg(long)]
    floor_bin: PathBuf,
    /// Write the run's figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Record each server with `perf record -g` from just before the end to 500 ms after the last delivery, into
    /// DIR/ours.data and DIR/floor.data (`perf report -i DIR/ours.data`), and during the timed join burst, into
    /// DIR/ours-joins.data and DIR/floor-joins.data.
    #[arg(long, value_name = "DIR")]
    perf: Option<PathBuf>,
    /// Pin the servers and this load generator to separate cores with `taskset`: on 2 cores one each, on more two
    /// for the server and the rest for the clients. Without it, both share every core.
    #[arg(long)]
    isolate: bool,
    /// Register a webhook for `meeting.participantLeft` and `meeting.ended` to a sink in this process (the server
    /// gets `--webhook-targets any`), so the end also has one outbox event per participant to write (and to
    /// deliver), which the server writes after the participants were told.
    #[arg(long)]
    webhook: bool,
    /// Instead of the floor: one node, then one node on Redis, then K nodes (`--redis` to a private
    /// `redis-server`, one shared SQLite `--data` directory), back to back with the same N. The guests join
    /// round-robin over the K nodes, the host through the first, which gets the kickAll.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(2..=16))]
    nodes: Option<u16>,
    /// The `redis-server` binary of `--nodes`.
    #[arg(long, default_value = "redis-server")]
    redis_bin: String,
}

/// Spawns a server that prints `listening on [http://]ADDR`; returns it and the address.
async fn spawn(mut command: Command, log: &std::path::Path) -> Result<(Child, SocketAddr)> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true)
        .spawn()
        .context("spawn server")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return Ok(addr.trim_start_matches("http://").parse::<SocketAddr>()?);
            }
        }
        bail!("server exited before listening (see {})", log.display())
    })
    .await??;
    // Keep draining stdout so that the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

/// One server's resources around a run: its RSS before the clients connect and once all are in, and its CPU time
/// (user + system) from just before the end until 500 ms after the last delivery.
#[derive(Default)]
struct Probe {
    rss_before: Option<u64>,
    rss_after: Option<u64>,
    cpu_before_ms: Option<f64>,
    cpu_after_ms: Option<f64>,
    perf: Option<Child>,
}

impl Probe {
    /// Called at each [`Stage`] of a run.
    async fn stage(&mut self, stage: Stage, pids: &[u32], perf_dir: Option<&Path>, side: &str) {
        match stage {
            Stage::JoinBurst => self.start_perf(pids, perf_dir, &format!("{side}-joins")).await,
            Stage::JoinBurstDone => self.stop_perf().await,
            Stage::BeforeEnd => self.before_end(pids, perf_dir, side).await,
        }
    }

    /// Just before the end: memory with everyone in, CPU so far, and `perf record` if asked for.
    async fn before_end(&mut self, pids: &[u32], perf_dir: Option<&Path>, side: &str) {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        self.rss_after = sum(pids, rss_bytes);
        self.start_perf(pids, perf_dir, side).await;
        self.cpu_before_ms = sum(pids, cpu_ms);
    }

    /// 500 ms after the last delivery: CPU, and perf stopped.
    async fn after_end(&mut self, pids: &[u32]) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.cpu_after_ms = sum(pids, cpu_ms);
        self.stop_perf().await;
    }

    /// `perf record -g` of the server into DIR/NAME.data, if a DIR was given.
    async fn start_perf(&mut self, pids: &[u32], perf_dir: Option<&Path>, name: &str) {
        if let Some(dir) = perf_dir {
            // perf does not create it, and fails silently (its output goes nowhere) without it.
            let _ = std::fs::create_dir_all(dir);
            let out = dir.join(format!("{name}.data"));
            let pids = pids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let mut perf = Command::new("perf");
            perf.args(["record", "-q", "-F", "2000", "-g", "-p", &pids, "-o"]).arg(out);
            self.perf = perf.stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok();
            tokio::time::sleep(Duration::from_millis(300)).await; // perf attaches
        }
    }

    /// Stops perf with SIGINT so that it writes its file.
    async fn stop_perf(&mut self) {
        if let Some(mut perf) = self.perf.take() {
            if let Some(id) = perf.id() {
                let _ = Command::new("kill").args(["-INT", &id.to_string()]).status().await;
            }
            let _ = perf.wait().await;
        }
    }
}

/// The sum of `measure` over the processes; None if any of them could not be measured.
fn sum<T: std::iter::Sum<T>>(pids: &[u32], measure: impl Fn(u32) -> Option<T>) -> Option<T> {
    pids.iter().map(|&pid| measure(pid)).sum()
}

fn side(run: &Run, probe: &Probe) -> Value {
    let mut value = run.to_json();
    value["rss_before_bytes"] = json!(probe.rss_before);
    value["rss_after_bytes"] = json!(probe.rss_after);
    value["rss_per_participant_bytes"] = json!(match (probe.rss_before, probe.rss_after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / run.n as f64),
        _ => None,
    });
    value["server_cpu_end_ms"] = json!(match (probe.cpu_before_ms, probe.cpu_after_ms) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    });
    value
}

fn print(name: &str, v: &Value) {
    let ms = |key: &str| v[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "{name:>5} n={:<6} delivered={:<6} min={:>7.2} ms  p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms  joins/s={:>7.0}  rss/conn={:>6.0} B  cpu(end)={:>5.0} ms",
        v["n"], v["delivered"], ms("min_ms"), ms("p50_ms"), ms("p99_ms"), ms("max_ms"), ms("join_rate_per_s"),
        ms("rss_per_participant_bytes"), ms("server_cpu_end_ms"),
    );
}

/// A server's command line, behind `taskset` when isolated.
fn server_command(bin: &Path, split: Option<&CoreSplit>) -> Command {
    match split {
        Some(split) => {
            let [taskset, flag, cpus] = split.server_prefix();
            let mut command = Command::new(taskset);
            command.args([flag, cpus]).arg(bin);
            command
        }
        None => Command::new(bin),
    }
}

/// `--nodes K`: one node, one node on Redis, K nodes on Redis, one after the other on the same machine.
mod nodes {
    use super::*;
    use endsession_bench::redis::Redis;
    use endsession_bench::run_ours_on;

    /// One deployment of the comparison.
    struct Deployment {
        name: String,
        nodes: usize,
        redis: bool,
    }

    /// Runs the three deployments; returns the report (without machine and load, which the caller adds).
    pub async fn run(args: &Args, k: usize, split: Option<&CoreSplit>, dir: &Path) -> Result<Value> {
        let deployments = [
            Deployment { name: "1 node".into(), nodes: 1, redis: false },
            Deployment { name: "1 node + Redis".into(), nodes: 1, redis: true },
            Deployment { name: format!("{k} nodes + Redis"), nodes: k, redis: true },
        ];
        let mut sides = Vec::new();
        for (i, deployment) in deployments.iter().enumerate() {
            let side = run_one(args, deployment, split, &dir.join(format!("deployment-{i}"))).await?;
            print_node_side(&deployment.name, &side);
            sides.push(side);
        }
        let p99 = |side: &Value| side["p99_ms"].as_f64().unwrap_or(f64::NAN);
        let (one, many) = (p99(&sides[0]), p99(&sides[2]));
        println!("p99 {k} nodes / 1 node = {:.2}", many / one);
        Ok(json!({
            "n": args.n,
            "nodes": k,
            "store": "SQLite: one --data directory shared by the nodes",
            "deployments": sides,
            "p99_ratio_nodes_to_one": many / one,
            "webhook": args.webhook,
            "isolation": match split {
                Some(split) => json!({"server_cpus": split.server, "client_cpus": split.clients}),
                None => Value::Null,
            },
        }))
    }

    /// Starts the deployment (its own Redis and data directory), runs the N participants over it, stops it.
    async fn run_one(args: &Args, deployment: &Deployment, split: Option<&CoreSplit>, dir: &Path) -> Result<Value> {
        std::fs::create_dir_all(dir)?;
        let prefix = split.map(|split| split.server_prefix());
        let prefix: Vec<&str> = prefix.iter().flatten().map(String::as_str).collect();
        let redis = match deployment.redis {
            true => Some(Redis::start(&prefix, &args.redis_bin).await?),
            false => None,
        };
        let sink = match args.webhook {
            true => Some(WebhookSink::start().await?),
            false => None,
        };
        // Started one after the other: each is listening (its store opened) before the next starts.
        let mut servers = Vec::new();
        for node in 0..deployment.nodes {
            let mut command = server_command(&args.server_bin, split);
            command
                .args(["--listen", "127.0.0.1:0", "--data"])
                .arg(dir.join("data"))
                .args(["--api-token", &format!("{ACCOUNT}:{SECRET}:Realtime Admin")]);
            if let Some(redis) = &redis {
                command.args(["--redis", &redis.url]);
            }
            if sink.is_some() {
                command.args(["--webhook-targets", "any"]);
            }
            servers.push(spawn(command, &dir.join(format!("node-{node}.log"))).await?);
        }
        let pids: Vec<u32> =
            servers.iter().map(|(child, _)| child.id().context("server pid")).collect::<Result<_>>()?;
        let addrs: Vec<SocketAddr> = servers.iter().map(|(_, addr)| *addr).collect();
        let webhook_url = sink.as_ref().map(|sink| sink.url.as_str());
        let meeting = create_meeting(&format!("http://{}", addrs[0]), ACCOUNT, SECRET, args.n, webhook_url).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let redis_pid = redis.as_ref().and_then(Redis::pid);
        let redis_rss_before = redis_pid.and_then(rss_bytes);
        let mut probe = Probe { rss_before: sum(&pids, rss_bytes), ..Probe::default() };
        let mut redis_cpu_before = None;
        let perf_name = format!("nodes-{}{}", deployment.nodes, if deployment.redis { "-redis" } else { "" });
        let run = run_ours_on(&addrs, &meeting, async |stage| {
            probe.stage(stage, &pids, args.perf.as_deref(), &perf_name).await;
            if stage == Stage::BeforeEnd {
                redis_cpu_before = redis_pid.and_then(cpu_ms);
            }
        })
        .await?;
        probe.after_end(&pids).await;
        let redis_cpu_after = redis_pid.and_then(cpu_ms);
        let mut value = side(&run, &probe);
        value["deployment"] = json!(deployment.name);
        value["nodes"] = json!(deployment.nodes);
        value["redis"] = json!(deployment.redis);
        value["redis_cpu_end_ms"] = json!(redis_cpu_before.zip(redis_cpu_after).map(|(b, a)| a - b));
        value["redis_rss_before_bytes"] = json!(redis_rss_before);
        value["redis_rss_after_bytes"] = json!(redis_pid.and_then(rss_bytes));
        if let Some(sink) = &sink {
            value["webhook_deliveries_by_then"] = json!(sink.received.load(std::sync::atomic::Ordering::Relaxed));
        }
        for (mut child, _) in servers {
            let _ = child.kill().await;
        }
        if let Some(redis) = redis {
            redis.stop().await;
        }
        Ok(value)
    }

    fn print_node_side(name: &str, v: &Value) {
        let ms = |key: &str| v[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "{name:>16}: n={:<6} delivered={:<6} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms  joins/s={:>6.0}  rss/participant={:>6.0} B (nodes summed)  cpu(end)={:>5.0} ms (nodes summed) + Redis {:>4.0} ms",
            v["n"], v["delivered"], ms("p50_ms"), ms("p99_ms"), ms("max_ms"), ms("join_rate_per_s"),
            ms("rss_per_participant_bytes"), ms("server_cpu_end_ms"), ms("redis_cpu_end_ms"),
        );
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|l| l.trim_start_matches([' ', '\t', ':']));
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": model,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // Before pinning: afterwards this process sees only the clients' cores.
    let machine = machine();
    let split = match args.isolate {
        true => {
            let split = CoreSplit::of(&allowed_cpus()?)?;
            split.pin_clients(std::process::id())?;
            Some(split)
        }
        false => None,
    };
    match &split {
        Some(split) => println!("isolated: {split}"),
        None => println!("shared: server and clients on every core"),
    }
    let dir = std::env::temp_dir().join(format!("endsession-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let load_start = loadavg();
    if let Some(k) = args.nodes {
        // On failure the nodes' logs (DIR/deployment-*/node-*.log) are kept and named.
        let mut report = nodes::run(&args, k.into(), split.as_ref(), &dir)
            .await
            .with_context(|| format!("nodes' logs kept in {}", dir.display()))?;
        let _ = std::fs::remove_dir_all(&dir);
        report["machine"] = machine;
        report["load_start"] = json!(load_start);
        report["load_end"] = json!(loadavg());
        println!("(load average {load_start} -> {})", loadavg());
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
        }
        return Ok(());
    }

    // Ours.
    let mut command = server_command(&args.server_bin, split.as_ref());
    command
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .args(["--api-token", &format!("{ACCOUNT}:{SECRET}:Realtime Admin")]);
    let sink = match args.webhook {
        true => {
            command.args(["--webhook-targets", "any"]);
            Some(WebhookSink::start().await?)
        }
        false => None,
    };
    let (server, addr) = spawn(command, &dir.join("server.log")).await?;
    let pid = server.id().context("server pid")?;
    let webhook_url = sink.as_ref().map(|sink| sink.url.as_str());
    let meeting = create_meeting(&format!("http://{addr}"), ACCOUNT, SECRET, args.n, webhook_url).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut probe = Probe { rss_before: rss_bytes(pid), ..Probe::default() };
    let ours =
        run_ours(addr, &meeting, async |stage| probe.stage(stage, &[pid], args.perf.as_deref(), "ours").await).await?;
    probe.after_end(&[pid]).await;
    let mut ours = side(&ours, &probe);
    if let Some(sink) = &sink {
        ours["webhook_deliveries_by_then"] = json!(sink.received.load(std::sync::atomic::Ordering::Relaxed));
    }
    drop(server);
    print("ours", &ours);

    // The floor, on the same machine right after.
    let mut command = server_command(&args.floor_bin, split.as_ref());
    command.args(["--listen", "127.0.0.1:0"]);
    let (floor, addr) = spawn(command, &dir.join("floor.log")).await?;
    let pid = floor.id().context("floor pid")?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut probe = Probe { rss_before: rss_bytes(pid), ..Probe::default() };
    let floor_run =
        run_floor(addr, args.n, async |stage| probe.stage(stage, &[pid], args.perf.as_deref(), "floor").await).await?;
    probe.after_end(&[pid]).await;
    let floor_side = side(&floor_run, &probe);
    drop(floor);
    print("floor", &floor_side);

    let ratio = ours["p99_ms"].as_f64().unwrap_or(f64::NAN) / floor_side["p99_ms"].as_f64().unwrap_or(f64::NAN);
    let load_end = loadavg();
    println!("{:>5} p99 ours / floor = {ratio:.2}   (load average {load_start} -> {load_end})", "");
    let report = json!({
        "n": args.n,
        "ours": ours,
        "floor": floor_side,
        "p99_ratio": ratio,
        "machine": machine,
        "webhook": args.webhook,
        "isolation": match &split {
            Some(split) => json!({"server_cpus": split.server, "client_cpus": split.clients}),
            None => Value::Null,
        },
        "load_start": load_start,
        "load_end": load_end,
    });
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
