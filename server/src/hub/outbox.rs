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

use endsession_protocol::ServerFrame;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tungstenite::Utf8Bytes;

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

/// One connection's queue, shared by the hub's [`Outbox`]es and the connection's [`Inbox`].
///
/// Hand-written rather than tokio's bounded `mpsc`: that channel allocates a block of 32 slots when it is created
/// (~1.3 KiB per connection, most of them idle for the whole session: heaptrack, bench/end-latency at N = 1,000),
/// while a `VecDeque` allocates on its first message and grows only as far as a connection falls behind (at most
/// `capacity`). One lock per message, taken by the hub to push and by the connection to pop: never contended for
/// long, and never held across an await.
#[derive(Debug)]
struct Queue {
    messages: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    /// Woken when a message is queued, the queue overflowed or the last [`Outbox`] went away; keeps one permit when
    /// nobody waits, so a wake-up between [`Inbox::next`]'s check and its wait is not lost.
    ready: Notify,
    /// A message did not fit: the connection is too far behind and must close.
    overflowed: AtomicBool,
    /// The hub can no longer vouch for what it queues here (see [`Outbox::reconnect`]): the connection must close.
    reconnect: AtomicBool,
    /// Live [`Outbox`]es; at 0, the hub let go of this connection.
    senders: AtomicUsize,
    /// The [`Inbox`] was dropped: queue nothing more.
    receiver_gone: AtomicBool,
    /// Counts the [`Outbound::Final`] queued here and not yet taken.
    finals: Arc<FinalsPending>,
}

/// The final frames (an end's `RoomLeft`) queued and not yet taken, over every connection that shares it (one per
/// server: `ws::Sockets`), so that a connection that has written its own can let the others write theirs first.
///
/// Why: a connection that wrote its `RoomLeft` then waits for its client's close frame, and handling that reply
/// (a read, the socket's close, the task's teardown) took as much of the server's CPU as the writes. Woken by the
/// I/O driver, those tasks ran ahead of the connections still waiting to write theirs, so every client's
/// `RoomLeft` waited behind the teardown of those before it. Waiting for [`FinalsPending::drained`] before reading
/// the reply: p99 at N = 10,000 went from 360–387 ms to 284–306 ms, the server's CPU for the end unchanged
/// (`end-latency --n 10000 --isolate`, three runs each, 2026-11-30).
#[derive(Debug, Default)]
pub struct FinalsPending {
    count: AtomicUsize,
    /// Woken when the count reaches 0.
    drained: Notify,
}

impl FinalsPending {
    /// Returns once no final frame is queued in any connection sharing this count, or after `bound`, whichever is
    /// first (a slow connection's frame must not hold the others' sockets open).
    pub async fn drained(&self, bound: std::time::Duration) {
        let drained = self.drained.notified();
        tokio::pin!(drained);
        // Registered before the check, so that a count reaching 0 between the two is not missed.
        drained.as_mut().enable();
        if self.count.load(Ordering::Acquire) > 0 {
            let _ = tokio::time::timeout(bound, drained).await;
        }
    }

    fn queued(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    fn taken(&self, finals: usize) {
        if finals > 0 && self.count.fetch_sub(finals, Ordering::AcqRel) == finals {
            self.drained.notify_waiters();
        }
    }
}

/// The hub's handle on one connection: the sending half of its bounded queue.
#[derive(Debug)]
pub struct Outbox {
    queue: Arc<Queue>,
}

impl Outbox {
    /// A queue of at most `capacity` messages (at least 1): the hub's end, and the connection task's.
    pub fn bounded(capacity: usize) -> (Outbox, Inbox) {
        Outbox::bounded_counting(capacity, Arc::default())
    }

    /// [`Outbox::bounded`], its final frames counted in `finals` with those of other connections.
    pub fn bounded_counting(capacity: usize, finals: Arc<FinalsPending>) -> (Outbox, Inbox) {
        let queue = Arc::new(Queue {
            messages: Mutex::default(),
            capacity: capacity.max(1),
            ready: Notify::new(),
            overflowed: AtomicBool::new(false),
            reconnect: AtomicBool::new(false),
            senders: AtomicUsize::new(1),
            receiver_gone: AtomicBool::new(false),
            finals,
        });
        (Outbox { queue: queue.clone() }, Inbox { queue })
    }

    /// Asks the connection to close so that its client reconnects (to any node) and resumes: the hub lost what it
    /// needs to keep this connection in step (a node cut from Redis). [`Inbox::next`] answers
    /// [`Queued::Reconnect`] before anything still queued.
    pub fn reconnect(&self) {
        self.queue.reconnect.store(true, Ordering::Release);
        self.queue.ready.notify_one();
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.queue.senders.fetch_add(1, Ordering::Relaxed);
        Outbox { queue: self.queue.clone() }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.queue.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.queue.ready.notify_one();
        }
    }
}

impl Deliver for Outbox {
    /// Never waits: a full queue marks the connection as lagging instead (see the module's doc).
    fn deliver(&self, message: Outbound) {
        if self.queue.receiver_gone.load(Ordering::Acquire) {
            return;
        }
        let mut messages = self.queue.messages.lock().unwrap_or_else(|p| p.into_inner());
        if messages.len() >= self.queue.capacity {
            drop(messages);
            self.queue.overflowed.store(true, Ordering::Release);
        } else {
            if matches!(message, Outbound::Final(_)) {
                self.queue.finals.queued();
            }
            messages.push_back(message);
            drop(messages);
        }
        self.queue.ready.notify_one();
    }
}

/// The connection task's end of its queue.
#[derive(Debug)]
pub struct Inbox {
    queue: Arc<Queue>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.queue.receiver_gone.store(true, Ordering::Release);
        // What is still queued (a shared frame each) is freed now, not when the hub's last handle goes.
        let mut messages = self.queue.messages.lock().unwrap_or_else(|p| p.into_inner());
        let finals = messages.iter().filter(|m| matches!(m, Outbound::Final(_))).count();
        messages.clear();
        drop(messages);
        self.queue.finals.taken(finals);
    }
}

/// What [`Inbox::next`] found.
#[derive(Debug, PartialEq)]
pub enum Queued {
    Message(Outbound),
    /// A message did not fit: close the connection (it catches up when it resumes).
    Lagging,
    /// The hub asked the connection to reconnect ([`Outbox::reconnect`]): close it; the client resumes.
    Reconnect,
    /// The hub let go of this connection.
    Closed,
}

impl Inbox {
    /// The next message; an overflow comes first, since what is still queued is stale once one frame was lost.
    /// Cancel-safe (for `select!`): a message is taken off the queue only when it is returned.
    pub async fn next(&mut self) -> Queued {
        loop {
            if self.queue.reconnect.load(Ordering::Acquire) {
                return Queued::Reconnect;
            }
            if self.queue.overflowed.swap(false, Ordering::AcqRel) {
                return Queued::Lagging;
            }
            // Read before the queue: the last `Outbox` queued its messages before it went (its `Release` decrement),
            // so once no sender is seen, every message it queued is seen too.
            let closed = self.queue.senders.load(Ordering::Acquire) == 0;
            if let Some(message) = self.queue.messages.lock().unwrap_or_else(|p| p.into_inner()).pop_front() {
                if matches!(message, Outbound::Final(_)) {
                    self.queue.finals.taken(1);
                }
                return Queued::Message(message);
            }
            if closed {
                return Queued::Closed;
            }
            self.queue.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reconnect_is_answered_before_anything_queued_and_wakes_a_waiting_inbox() {
        let (outbox, mut inbox) = Outbox::bounded(4);
        outbox.deliver(Outbound::Frame(Utf8Bytes::from("a".to_owned())));
        outbox.reconnect();
        assert_eq!(inbox.next().await, Queued::Reconnect);
        let (outbox, mut inbox) = Outbox::bounded(4);
        let waiting = tokio::spawn(async move { inbox.next().await });
        tokio::task::yield_now().await;
        outbox.reconnect();
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert_eq!(answer, Queued::Reconnect);
    }

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

    #[tokio::test]
    async fn what_the_last_outbox_queued_before_going_is_read_before_closed_and_a_cancelled_wait_loses_nothing() {
        let (outbox, mut inbox) = Outbox::bounded(4);
        let text = |t: &str| Outbound::Final(Utf8Bytes::from(t.to_owned()));
        let other = outbox.clone();
        // A wait cancelled before anything arrives (as `select!` does when another branch wins).
        let waited = tokio::time::timeout(std::time::Duration::from_millis(10), inbox.next()).await;
        assert!(waited.is_err(), "nothing was queued yet");
        other.deliver(text("end"));
        drop(other);
        drop(outbox);
        assert_eq!(inbox.next().await, Queued::Message(text("end")));
        assert_eq!(inbox.next().await, Queued::Closed);
    }

    #[tokio::test]
    async fn a_message_queued_while_the_connection_waits_wakes_it() {
        let (outbox, mut inbox) = Outbox::bounded(1);
        let text = Outbound::Frame(Utf8Bytes::from_static("x"));
        let waiter = tokio::spawn(async move { inbox.next().await });
        tokio::task::yield_now().await;
        outbox.deliver(text.clone());
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter).await;
        assert_eq!(got.expect("woken within the deadline").unwrap(), Queued::Message(text));
    }

    #[tokio::test]
    async fn finals_are_drained_once_every_queued_one_is_taken_dropped_or_never_queued() {
        use std::time::Duration;
        let finals = Arc::new(FinalsPending::default());
        let end = || Outbound::Final(Utf8Bytes::from_static("end"));
        let (a, mut a_in) = Outbox::bounded_counting(4, finals.clone());
        let (b, b_in) = Outbox::bounded_counting(4, finals.clone());
        // Full: its final is dropped, never counted.
        let (c, _c_in) = Outbox::bounded_counting(1, finals.clone());
        c.deliver(Outbound::Frame(Utf8Bytes::from_static("x")));
        c.deliver(end());
        // Frames that are not final do not count.
        a.deliver(Outbound::Frame(Utf8Bytes::from_static("x")));
        a.deliver(end());
        b.deliver(end());
        let waiter = {
            let finals = finals.clone();
            tokio::spawn(async move { finals.drained(Duration::from_secs(60)).await })
        };
        assert_eq!(a_in.next().await, Queued::Message(Outbound::Frame(Utf8Bytes::from_static("x"))));
        assert_eq!(a_in.next().await, Queued::Message(end()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "b's final is still queued");
        // A connection that goes with its final still queued no longer holds the others back.
        drop(b_in);
        tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("drained once all were taken").unwrap();
        // Nothing queued: returns at once.
        tokio::time::timeout(Duration::from_secs(10), finals.drained(Duration::from_secs(60))).await.unwrap();
    }

    #[tokio::test]
    async fn a_wait_for_finals_ends_at_its_bound() {
        use std::time::Duration;
        let finals = Arc::new(FinalsPending::default());
        let (outbox, _inbox) = Outbox::bounded_counting(4, finals.clone());
        outbox.deliver(Outbound::Final(Utf8Bytes::from_static("end")));
        let waited = tokio::time::timeout(Duration::from_secs(10), finals.drained(Duration::from_millis(50))).await;
        assert!(waited.is_ok(), "the bound, not the final never taken, ended the wait");
    }
}
