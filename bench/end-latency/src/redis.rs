//! A private `redis-server` for `end-latency --nodes`: on a free loopback port, nothing persisted (`--save ''
//! --appendonly no`), killed when dropped.

use anyhow::{bail, Context, Result};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How long `redis-server` may take to answer its first PING.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server`; its URL is for the nodes' `--redis`.
pub struct Redis {
    pub url: String,
    child: Child,
}

impl Redis {
    /// Starts `bin` (e.g. `redis-server`, optionally behind `prefix` such as `taskset -c 0`) on a free port and
    /// waits until it answers PING. Errors if it cannot be spawned or does not answer within 10 s.
    pub async fn start(prefix: &[&str], bin: &str) -> Result<Redis> {
        // A port the kernel just handed out and we let go of: free unless someone races for it in between.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(bin);
                command
            }
            None => Command::new(bin),
        };
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child = command.spawn().with_context(|| format!("spawn {bin}"))?;
        let addr = format!("127.0.0.1:{port}");
        tokio::time::timeout(READY_TIMEOUT, async {
            loop {
                if ping(&addr).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .with_context(|| format!("{bin} did not answer PING on {addr} within {READY_TIMEOUT:?}"))?;
        Ok(Redis { url: format!("redis://{addr}"), child })
    }

    /// The server's process id (for its memory and CPU).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the server and waits for it to go.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// One inline PING; Ok once the answer is `+PONG`.
async fn ping(addr: &str) -> Result<()> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"PING\r\n").await?;
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).await?;
    if &answer != b"+PONG\r\n" {
        bail!("unexpected answer {:?}", String::from_utf8_lossy(&answer));
    }
    Ok(())
}
