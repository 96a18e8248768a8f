//! How the hub reaches a connection: a message into the connection's queue, never a socket write.
//!
//! The hub holds only the sending half of each connection's channel. Pushing into it is synchronous and cheap, so the
//! hub can fan a frame out to thousands of connections under its lock without ever waiting on a slow socket; each
//! connection's own task writes to its socket.

use axum::extract::ws::Utf8Bytes;
use endsession_protocol::ServerFrame;
use tokio::sync::mpsc;

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

/// The hub's handle on one connection.
pub type Outbox = mpsc::UnboundedSender<Outbound>;

impl Deliver for Outbox {
    fn deliver(&self, message: Outbound) {
        let _ = self.send(message);
    }
}
