//! The floor: a bare WebSocket server (tokio-tungstenite, no session logic) that broadcasts one frame to every
//! connected client. Each client is greeted with `hello` once registered; the first text frame any client sends
//! triggers the broadcast of a frame the size of ours (`roomLeft`), after which each connection closes, as ours do.
//! The connection tasks are shaped like the server's: one task per socket, a queue per connection, fan-out by
//! pushing into the queues.

use endsession_protocol::{EndReason, LeaveState, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// The frame broadcast: byte for byte what `endsession-server` sends at the end of a session.
pub fn end_frame() -> Utf8Bytes {
    ServerFrame::RoomLeft {
        state: LeaveState::Ended,
        session_id: "00000000-0000-0000-0000-000000000000".into(),
        reason: Some(EndReason::HostEndedMeeting),
        kicked_count: None,
        message: None,
        ended_by: None,
        event_id: None,
    }
    .encode()
    .into()
}

type Registry = Arc<Mutex<Vec<mpsc::UnboundedSender<Utf8Bytes>>>>;

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener) {
    let registry: Registry = Arc::default();
    // The same buffer settings as endsession-server's sockets (`READ_BUFFER`, `WRITE_BUFFER` in server/src/ws/mod.rs).
    // The read buffer was 4 KiB here after the server's went to 1 KiB, which put ~3 KiB per connection into the
    // floor's memory figure that ours did not have (heaptrack, N = 1,000: 4.1 KB per `WebSocketContext::new`).
    let config = WebSocketConfig::default().read_buffer_size(1024).write_buffer_size(1024);
    while let Ok((stream, _)) = listener.accept().await {
        let registry = registry.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
                return;
            };
            let (tx, mut rx) = mpsc::unbounded_channel();
            registry.lock().unwrap().push(tx);
            if ws.send(Message::Text("hello".into())).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    biased;
                    received = ws.next() => match received {
                        Some(Ok(Message::Text(_))) => {
                            let frame = end_frame();
                            for tx in registry.lock().unwrap().drain(..) {
                                let _ = tx.send(frame.clone());
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                    queued = rx.recv() => {
                        if let Some(text) = queued {
                            // Like ours: the frame and the close frame in one write.
                            if ws.feed(Message::Text(text)).await.is_ok() {
                                let _ = ws.close(None).await;
                            }
                        }
                        return;
                    }
                }
            }
        });
    }
}
