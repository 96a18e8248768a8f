//! The accept loop: every connection holds one of a bounded number of slots, and every stage of it has a deadline.
//!
//! | stage                                          | bound                       | what happens            |
//! |------------------------------------------------|-----------------------------|-------------------------|
//! | TCP open, nothing sent                         | [`Limits::header_timeout`]  | closed                  |
//! | request headers that never finish              | [`Limits::header_timeout`]  | closed                  |
//! | keep-alive connection idle between requests    | [`Limits::header_timeout`]  | closed                  |
//! | body and handler of a request                  | [`Limits::request_timeout`] | `408`, then closed      |
//! | a write the client does not take (stops reading) | [`Limits::write_timeout`] | closed                  |
//! | WebSocket upgrade → `join`, heartbeats, writes | see [`crate::ws`]           | closed                  |
//! | open connections                               | [`Limits::max_connections`] | new ones wait in the backlog |
//!
//! `axum::serve` offers none of the deadlines (it sets no timer on hyper, so hyper's `header_read_timeout` is off)
//! and no cap; hyper's own HTTP/1 connection builder has the header deadline (which, since hyper 1.4, also runs
//! while a keep-alive connection waits for its next request), so this module is the small accept loop around it that
//! axum's "serve-with-hyper" example shows, plus the cap. HTTP/1 only: browsers and the `cloudflare` SDKs speak
//! HTTP/1.1 to a plain-http server.

use crate::config::Limits;
use axum::http::StatusCode;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower_http::timeout::TimeoutLayer;

/// Open files the process needs besides its connections: the store, webhook deliveries, the listener, stdio.
const RESERVED_FILES: u64 = 256;

/// At most one log line per this interval for a repeated condition (cap reached, accept failing).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// After an accept error other than a connection's own (e.g. EMFILE): wait before trying again, so that the loop does
/// not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

/// Serves `app` on `listener` until the task is dropped. Never returns an error: accept errors are logged (rate
/// limited) and retried after [`ACCEPT_BACKOFF`].
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) -> io::Result<()> {
    let cap = connection_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    let app = app.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    // A client that sends its whole request and hangs up (a serverless function past its own deadline) still gets it
    // carried out: without half_close, hyper cancels the handler at the read EOF, and a REST kick-all could be
    // dropped before it reached the hub (js/tests/nodes-break-detached.test.mjs).
    http.half_close(true);
    let mut cap_log = Throttled::default();
    let mut error_log = Throttled::default();
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                cap_log.run(|suppressed| {
                    tracing::warn!(
                        cap,
                        suppressed,
                        "connection cap reached: {cap} connections open; new connections wait in the listen backlog \
                         until one closes (--max-connections, and the open-file limit, set the cap)"
                    )
                });
                slots.clone().acquire_owned().await.expect("the semaphore is never closed")
            }
        };
        let tcp = loop {
            match listener.accept().await {
                Ok((tcp, _)) => break tcp,
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    error_log.run(|suppressed| tracing::error!(error = %e, suppressed, "accept failed; retrying"));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        };
        // Small frames must leave at once: Nagle's algorithm would add tens of milliseconds to the end fan-out.
        let _ = tcp.set_nodelay(true);
        let io = TokioIo::new(Counted { tcp, _slot: slot, write_timeout: limits.write_timeout, stalled: None });
        let connection = http.serve_connection(io, TowerToHyperService::new(app.clone())).with_upgrades();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Raises the open-file limit to its hard limit and returns the cap that fits under it: a cap above what the process
/// may open would bring back EMFILE, which refuses everyone.
fn connection_cap(wanted: usize) -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => {
            let room = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX).max(1);
            if wanted > room {
                tracing::warn!(
                    wanted,
                    cap = room,
                    open_file_limit = files,
                    "--max-connections lowered to fit the open-file limit (raise it with `ulimit -n`)"
                );
                return room;
            }
            wanted
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read or raise the open-file limit; keeping --max-connections");
            wanted
        }
    }
}

/// Errors of one incoming connection, not of the listener: accept the next one at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Logs a repeated condition at most once per [`LOG_EVERY`], with the number of occurrences not logged.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    fn run(&mut self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + LOG_EVERY) {
            self.suppressed += 1;
            return;
        }
        log(self.suppressed);
        self.last = Some(now);
        self.suppressed = 0;
    }
}

/// A TCP stream that holds its connection slot until it is dropped, including after a WebSocket upgrade (the
/// upgraded socket owns this stream), so WebSockets count against the cap too. A write that makes no progress for
/// `write_timeout` fails with `TimedOut`: hyper has no write deadline, and a client that stops reading a response
/// would otherwise hold its connection (and slot) for ever.
struct Counted {
    tcp: TcpStream,
    _slot: OwnedSemaphorePermit,
    write_timeout: Duration,
    /// Set while writes are blocked; allocated only then.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Counted {
    /// Passes a write's outcome through, and times a write that cannot proceed.
    fn deadline<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.write_timeout;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client took no data for {} ms", timeout.as_millis()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.deadline(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.deadline(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
