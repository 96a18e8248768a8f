//! How the hub reaches a connection: a message into the connection's queue, never a socket write.
//!
//! The hub holds only the sending half of each connection's channel. Pushing into it is synchronous and cheap, so the
//! hub can fan a frame out to thousands of connections under its lock without ever waiting on a slow socket; each
//! connection's own task writes to its socket.
//!
//! Each queue is bounded ([`Outbox::bounded`]): a connection that falls that many frames behind (a client that stops
//! reading) is not waited for and not queued for without end. Its next frame is dropped, the connection is told to
//! close ([`Queued::Lagging`]) and what is still queued is let go of; the client reconnects and catches up from the session's state (its resume gets the
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
    /// Send it, then close the socket: the hub has already removed this connection (`RoomLeft`). With the
    /// [`FanOut`] it was sent in when several connections are told at once (an end; on Redis, each run of last
    /// frames a node receives), so that they write before any of them tears down.
    Final(Utf8Bytes, Option<FanOut>),
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
    /// The [`Inbox`] was dropped: queue nothing more. Read and set under `messages`' lock, so that a frame is
    /// either queued before the [`Inbox`] lets go of what is queued, or not queued at all (a fan-out's count must
    /// not keep a frame nobody will take).
    receiver_gone: AtomicBool,
}

/// One final frame sent to several connections at once (an end's `RoomLeft`; on Redis, a run of last frames one node
/// receives): how many of them still have it queued, so that a connection that has written its own can let the
/// others write theirs before it tears down.
///
/// Why: a connection that wrote its `RoomLeft` then waits for its client's close frame, and handling that reply
/// (a read, the socket's close, the task's teardown) took as much of the server's CPU as the writes. Woken by the
/// I/O driver, those tasks ran ahead of the connections still waiting to write theirs, so every client's
/// `RoomLeft` waited behind the teardown of those before it. Waiting for [`FanOut::drained`] before reading the
/// reply: p99 at N = 10,000 went from 360–387 ms to 284–306 ms in three interleaved runs with one count for the
/// whole server (since replaced by one per fan-out: 257 and 271 ms in two runs), the server's CPU for the end
/// unchanged (`end-latency --n 10000 --isolate`, 2026-11-30).
///
/// Cloning shares it. A frame is counted when it is queued ([`Outbox`]), and uncounted when the connection takes it
/// ([`Inbox::next`]) or the queue lets it go (the connection closed, fell behind, or must reconnect); a frame that
/// did not fit is never counted.
#[derive(Debug, Clone)]
pub struct FanOut(Arc<FanOutState>);

#[derive(Debug)]
struct FanOutState {
    /// Frames queued and not yet taken, plus one while [`Queuing`] lives.
    queued: AtomicUsize,
    /// Woken when `queued` reaches 0.
    drained: Notify,
}

/// Held while a fan-out's frames are being queued, so that a connection that takes its frame early does not find
/// the count at 0 before the last one is queued; dropping it ends the queuing.
#[must_use = "dropping it ends the queuing: hold it until every frame is queued"]
#[derive(Debug)]
pub struct Queuing(FanOut);

impl FanOut {
    /// A fan-out about to be queued; the fan-out is complete once the returned guard is dropped.
    pub fn start() -> (FanOut, Queuing) {
        let fan_out = FanOut(Arc::new(FanOutState { queued: AtomicUsize::new(1), drained: Notify::new() }));
        (fan_out.clone(), Queuing(fan_out))
    }

    /// Returns once every connection of this fan-out has taken its frame (or let it go), or after `bound`, whichever
    /// is first: one connection whose client stopped reading must not hold the others' sockets open for long.
    pub async fn drained(&self, bound: std::time::Duration) {
        let drained = self.0.drained.notified();
        tokio::pin!(drained);
        // Registered before the check, so that a count reaching 0 between the two is not missed.
        drained.as_mut().enable();
        if self.0.queued.load(Ordering::Acquire) > 0 {
            let _ = tokio::time::timeout(bound, drained).await;
        }
    }

    fn queued(&self) {
        self.0.queued.fetch_add(1, Ordering::AcqRel);
    }

    fn taken(&self) {
        if self.0.queued.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// The same fan-out: what a test compares an [`Outbound`] by.
impl PartialEq for FanOut {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Drop for Queuing {
    fn drop(&mut self) {
        self.0.taken();
    }
}

/// Uncounts the fan-out frames among `messages`, which the queue is letting go of.
fn let_go(messages: &mut VecDeque<Outbound>) {
    for message in messages.drain(..) {
        if let Outbound::Final(_, Some(fan_out)) = message {
            fan_out.taken();
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
        let queue = Arc::new(Queue {
            messages: Mutex::default(),
            capacity: capacity.max(1),
            ready: Notify::new(),
            overflowed: AtomicBool::new(false),
            reconnect: AtomicBool::new(false),
            senders: AtomicUsize::new(1),
            receiver_gone: AtomicBool::new(false),
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
        let mut messages = self.queue.messages.lock().unwrap_or_else(|p| p.into_inner());
        if self.queue.receiver_gone.load(Ordering::Acquire) {
            return;
        }
        if messages.len() >= self.queue.capacity {
            drop(messages);
            self.queue.overflowed.store(true, Ordering::Release);
        } else {
            if let Outbound::Final(_, Some(fan_out)) = &message {
                fan_out.queued();
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
        // What is still queued (a shared frame each) is freed now, not when the hub's last handle goes.
        self.queue.close();
    }
}

impl Queue {
    /// Takes nothing more, and lets go of what it holds.
    fn close(&self) {
        let mut messages = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        self.receiver_gone.store(true, Ordering::Release);
        let_go(&mut messages);
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
    /// The next message. A request to reconnect comes first, then an overflow (what is still queued is stale once
    /// one frame was lost); either ends the connection, and the queue then takes nothing more. Cancel-safe (for
    /// `select!`): a message is taken off the queue only when it is returned.
    pub async fn next(&mut self) -> Queued {
        loop {
            // Either ends the connection: nothing queued now or later will be sent (the client catches up when it
            // resumes), so the queue is closed now, not held, counted, through the close and the hub's disconnect
            // (which may wait for a room lock while an end queues into it).
            if self.queue.reconnect.load(Ordering::Acquire) {
                self.queue.close();
                return Queued::Reconnect;
            }
            if self.queue.overflowed.swap(false, Ordering::AcqRel) {
                self.queue.close();
                return Queued::Lagging;
            }
            // Read before the queue: the last `Outbox` queued its messages before it went (its `Release` decrement),
            // so once no sender is seen, every message it queued is seen too.
            let closed = self.queue.senders.load(Ordering::Acquire) == 0;
            if let Some(message) = self.queue.messages.lock().unwrap_or_else(|p| p.into_inner()).pop_front() {
                if let Outbound::Final(_, Some(fan_out)) = &message {
                    fan_out.taken();
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
    async fn a_full_queue_drops_the_message_reports_lagging_and_lets_go_of_the_rest() {
        let (outbox, mut inbox) = Outbox::bounded(2);
        let text = |t: &str| Outbound::Frame(Utf8Bytes::from(t.to_owned()));
        outbox.deliver(text("a"));
        outbox.deliver(text("b"));
        outbox.deliver(text("c"));
        outbox.deliver(text("d"));
        assert_eq!(inbox.next().await, Queued::Lagging);
        // The connection ends there: what was queued before the overflow is let go of with it.
        drop(outbox);
        assert_eq!(inbox.next().await, Queued::Closed);
    }

    #[tokio::test]
    async fn what_the_last_outbox_queued_before_going_is_read_before_closed_and_a_cancelled_wait_loses_nothing() {
        let (outbox, mut inbox) = Outbox::bounded(4);
        let text = |t: &str| Outbound::Final(Utf8Bytes::from(t.to_owned()), None);
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
    async fn a_fan_out_is_drained_once_every_frame_is_taken_let_go_or_never_queued() {
        use std::time::Duration;
        let (fan_out, queuing) = FanOut::start();
        let end = || Outbound::Final(Utf8Bytes::from_static("end"), Some(fan_out.clone()));
        let (a, mut a_in) = Outbox::bounded(4);
        let (b, b_in) = Outbox::bounded(4);
        // Full: its frame is dropped, never counted.
        let (c, _c_in) = Outbox::bounded(1);
        c.deliver(Outbound::Frame(Utf8Bytes::from_static("x")));
        c.deliver(end());
        // Gone: never queued.
        let (d, d_in) = Outbox::bounded(4);
        drop(d_in);
        d.deliver(end());
        // Behind an overflow: let go of when the lag is reported.
        let (e, mut e_in) = Outbox::bounded(1);
        e.deliver(end());
        e.deliver(Outbound::Frame(Utf8Bytes::from_static("x")));
        a.deliver(Outbound::Frame(Utf8Bytes::from_static("x")));
        a.deliver(end());
        b.deliver(end());
        let waiter = {
            let fan_out = fan_out.clone();
            tokio::spawn(async move { fan_out.drained(Duration::from_secs(60)).await })
        };
        assert_eq!(a_in.next().await, Queued::Message(Outbound::Frame(Utf8Bytes::from_static("x"))));
        assert_eq!(a_in.next().await, Queued::Message(end()));
        assert_eq!(e_in.next().await, Queued::Lagging);
        // Lagging ends the connection: a frame queued after it (an end arriving while it disconnects) is not kept.
        e.deliver(end());
        // A connection that goes with its frame still queued no longer holds the others back.
        drop(b_in);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the fan-out is still being queued");
        drop(queuing);
        tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("drained once all were taken").unwrap();
        // Already drained: returns at once.
        tokio::time::timeout(Duration::from_secs(10), fan_out.drained(Duration::from_secs(60))).await.unwrap();
    }

    #[tokio::test]
    async fn a_wait_for_a_fan_out_ends_at_its_bound() {
        use std::time::Duration;
        let (fan_out, queuing) = FanOut::start();
        let (outbox, _inbox) = Outbox::bounded(4);
        outbox.deliver(Outbound::Final(Utf8Bytes::from_static("end"), Some(fan_out.clone())));
        drop(queuing);
        let waited = tokio::time::timeout(Duration::from_secs(10), fan_out.drained(Duration::from_millis(50))).await;
        assert!(waited.is_ok(), "the bound, not the frame never taken, ended the wait");
    }
}
