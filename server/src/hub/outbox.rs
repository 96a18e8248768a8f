//! How the hub reaches a connection: a message into the connection's queue, never a socket write.
//!
//! The hub holds only the sending half of each connection's channel. Pushing into it is synchronous and cheap, so the
//! hub can fan a frame out to thousands of connections under its lock without ever waiting on a slow socket; each
//! connection's own task writes to its socket.
//!
//! Each queue is bounded ([`Outbox::bounded`]): a connection that falls that many frames behind (a client that stops
//! reading) is not waited for and not queued for without end. Its next frame is dropped and the connection is told to
//! close ([`Queued::Lagging`]); the client reconnects and catches up from the session's state (its resume gets the
//! current `Joined`, or `ended`/`kicked`), so no dropped frame, a `Final` included, is needed for correctness.

use axum::extract::ws::Utf8Bytes;
use endsession_protocol::ServerFrame;
use std::sync::Arc;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::Notify;

/// A frame for one connection. The text is encoded once per broadcast and shared: cloning [`Utf8Bytes`] only bumps
/// a reference count.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// Send it and carry on.
    Frame(Utf8Bytes),
    /// Send it, then close the socket: the hub has already removed this connection (`RoomLeft`).
    Final(Utf8Bytes),
}

impl Outbound {
    /// Encodes a frame once; share the result with [`Clone`].
    pub fn encode(frame: &ServerFrame) -> Utf8Bytes {
        Utf8Bytes::from(frame.encode())
    }
}

/// Something the hub can deliver to. The rules in [`super::room`] are generic over it so that they can be tested
/// without sockets or a runtime.
pub trait Deliver {
    /// Queues the message. A connection that is already gone is ignored: its task tells the hub it left.
    fn deliver(&self, message: Outbound);
}

/// The hub's handle on one connection: the sending half of its bounded queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Outbound>,
    /// Signalled when a message did not fit: the connection is too far behind and must close.
    overflow: Arc<Notify>,
}

impl Outbox {
    /// A queue of at most `capacity` messages (at least 1): the hub's end, and the connection task's.
    pub fn bounded(capacity: usize) -> (Outbox, Inbox) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let overflow = Arc::new(Notify::new());
        (Outbox { queue, overflow: overflow.clone() }, Inbox { queue: receiver, overflow })
    }
}

impl Deliver for Outbox {
    /// Never waits: a full queue marks the connection as lagging instead (see the module's doc).
    fn deliver(&self, message: Outbound) {
        match self.queue.try_send(message) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => self.overflow.notify_one(),
        }
    }
}

/// The connection task's end of its queue.
#[derive(Debug)]
pub struct Inbox {
    queue: mpsc::Receiver<Outbound>,
    overflow: Arc<Notify>,
}

/// What [`Inbox::next`] found.
#[derive(Debug, PartialEq)]
pub enum Queued {
    Message(Outbound),
    /// A message did not fit: close the connection (it catches up when it resumes).
    Lagging,
    /// The hub let go of this connection.
    Closed,
}

impl Inbox {
    /// The next message; an overflow comes first, since what is still queued is stale once one frame was lost.
    /// Cancel-safe (for `select!`).
    pub async fn next(&mut self) -> Queued {
        tokio::select! {
            biased;
            () = self.overflow.notified() => Queued::Lagging,
            message = self.queue.recv() => message.map_or(Queued::Closed, Queued::Message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_the_message_and_reports_lagging() {
        let (outbox, mut inbox) = Outbox::bounded(2);
        let text = |t: &str| Outbound::Frame(Utf8Bytes::from(t.to_owned()));
        outbox.deliver(text("a"));
        outbox.deliver(text("b"));
        outbox.deliver(text("c"));
        outbox.deliver(text("d"));
        assert_eq!(inbox.next().await, Queued::Lagging);
        assert_eq!(inbox.next().await, Queued::Message(text("a")));
        assert_eq!(inbox.next().await, Queued::Message(text("b")));
        drop(outbox);
        assert_eq!(inbox.next().await, Queued::Closed);
    }
}
