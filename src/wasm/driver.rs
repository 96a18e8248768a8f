//! Runs a [`Machine`] in JavaScript: one [`Socket`] (a `WebSocket` with its listeners), two [`Timeout`]s
//! (reconnect, silence), the senders of pending calls and the event callback. Carries out the machine's
//! [`Effect`]s in order. Socket and timers are values that clean up when dropped, so dropping the meeting, closing,
//! or replacing one needs no teardown code.
//!
//! Re-entrancy: the machine is never held while user JavaScript runs (listeners and promise callbacks may call
//! back into the meeting), so every input is `take → input → take_effects → put back`, then the effects. The cells
//! are `Cell`s used by take-and-put-back rather than `RefCell`s: nothing here can panic on a borrow, and the
//! payload has no borrow-error formatting code.

use super::interop;
use crate::core::{CallId, ClientError, Effect, EndState, Event, Machine, Outcome};
use futures_channel::oneshot;
use gloo_events::EventListener;
use js_sys::Function;
use std::cell::Cell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, WebSocket};

/// One open `WebSocket` and its `open`/`message`/`close` listeners. Dropping it detaches the listeners and closes
/// the socket: that is the whole teardown, wherever the socket is replaced, closed or the meeting dropped.
struct Socket {
    ws: WebSocket,
    _listeners: [EventListener; 3],
}

impl Socket {
    /// Opens a socket to `url` whose events feed `driver`'s machine (a weak reference: the meeting may be dropped).
    fn open(url: &str, driver: &Weak<Driver>) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        let on = |name: &'static str, input: fn(&Rc<Driver>)| {
            let driver = driver.clone();
            EventListener::new(&ws, name, move |_| {
                if let Some(driver) = driver.upgrade() {
                    input(&driver);
                }
            })
        };
        let weak = driver.clone();
        let message = EventListener::new(&ws, "message", move |event| {
            // Not `dyn_ref`: Node's WebSocket (undici) dispatches its own MessageEvent class, which is no instance of
            // the global one, and every frame would be dropped. A "message" event of a WebSocket always has `data`.
            let frame = interop::server_frame(&event.unchecked_ref::<MessageEvent>().data());
            if let (Some(driver), Some(frame)) = (weak.upgrade(), frame) {
                driver.input(|m| m.socket_frame(frame));
            }
        });
        let listeners = [
            on("open", |d| d.input(Machine::socket_open)),
            message,
            on("close", |d| {
                // The socket is gone; forget it (detaching these listeners) before the machine decides what next.
                d.socket.take();
                d.input(Machine::socket_closed);
            }),
        ];
        Ok(Socket { ws, _listeners: listeners })
    }

    fn send(&self, text: &str) {
        let _ = self.ws.send_with_str(text);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}

/// A pending `setTimeout`, cleared when dropped (a fired one is cleared harmlessly).
struct Timeout(JsValue);

impl Timeout {
    fn start(handler: &Closure<dyn FnMut()>, ms: u32) -> Self {
        Timeout(interop::set_timeout(handler.as_ref(), ms))
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        interop::clear_timeout(&self.0);
    }
}

/// The JavaScript callbacks of the two timers. Made once per meeting; they hold a weak reference so that dropping
/// the meeting frees everything.
struct Handlers {
    timer: Closure<dyn FnMut()>,
    silence: Closure<dyn FnMut()>,
}

impl Handlers {
    fn new(driver: &Weak<Driver>) -> Self {
        fn on(driver: &Weak<Driver>, input: fn(&Rc<Driver>)) -> Closure<dyn FnMut()> {
            let driver = driver.clone();
            Closure::own_aborting(move || {
                if let Some(driver) = driver.upgrade() {
                    input(&driver);
                }
            })
        }
        Handlers {
            timer: on(driver, |d| {
                d.timer.take();
                d.input(Machine::reconnect_due);
            }),
            silence: on(driver, |d| {
                d.silence.take();
                d.input(Machine::silence_due);
            }),
        }
    }
}

/// How a call ends: what its promise resolves or rejects with.
pub type CallOutcome = Result<Outcome, ClientError>;

/// One meeting's machine plus the JavaScript resources it drives.
pub struct Driver {
    url: String,
    /// `None` only while an input runs.
    machine: Cell<Option<Box<Machine>>>,
    on_event: Function,
    socket: Cell<Option<Socket>>,
    /// The reconnect timer ([`Effect::ScheduleReconnect`]).
    timer: Cell<Option<Timeout>>,
    /// The silence timer ([`Effect::WatchSilence`]).
    silence: Cell<Option<Timeout>>,
    /// For the sockets' listeners.
    this: Weak<Driver>,
    /// Pending calls: their id and where their outcome goes.
    calls: Cell<Vec<(CallId, oneshot::Sender<CallOutcome>)>>,
    next_call: Cell<u32>,
    /// The end state last reported as `endStateChange`.
    reported: Cell<EndState>,
    handlers: Handlers,
}

/// Runs `f` on the value in `cell`, taken out meanwhile.
fn with<T: Default, R>(cell: &Cell<T>, f: impl FnOnce(&mut T) -> R) -> R {
    let mut value = cell.take();
    let result = f(&mut value);
    cell.set(value);
    result
}

impl Driver {
    /// A driver for `machine` that connects to `url` and reports every event to `on_event(name, payload)`.
    pub fn new(url: String, machine: Machine, on_event: Function) -> Rc<Self> {
        Rc::new_cyclic(|weak| Driver {
            url,
            machine: Cell::new(Some(Box::new(machine))),
            on_event,
            socket: Cell::new(None),
            timer: Cell::new(None),
            silence: Cell::new(None),
            calls: Cell::new(Vec::new()),
            next_call: Cell::new(0),
            reported: Cell::new(EndState::NotJoined),
            handlers: Handlers::new(weak),
            this: weak.clone(),
        })
    }

    /// Reads the machine (`read` must not run user code: listeners could re-enter).
    pub fn read<T: Default>(&self, read: impl FnOnce(&Machine) -> T) -> T {
        with(&self.machine, |m| m.as_deref().map(read).unwrap_or_default())
    }

    /// Feeds one input to the machine, then carries out what it asked for.
    pub fn input(self: &Rc<Self>, input: impl FnOnce(&mut Machine)) {
        let effects = with(&self.machine, |m| {
            m.as_deref_mut().map_or_else(Vec::new, |machine| {
                input(machine);
                machine.take_effects()
            })
        });
        self.carry_out(effects);
    }

    /// What every input does after the machine took it. Not inlined into each of [`Driver::input`]'s callers (a
    /// copy per listener, timer and method): one copy is smaller.
    #[inline(never)]
    fn carry_out(self: &Rc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            self.apply(effect);
        }
        // Read after the effects ran: a listener may have called back in (and reported a newer state already).
        let state = self.read(|m| m.end_state());
        if self.reported.replace(state) != state {
            self.apply(Effect::Emit(Event::EndStateChange { state }));
        }
    }

    /// Starts a call: `input` gets the call's id, and the machine settles it later (or at once) with an
    /// [`Effect::Resolve`] or [`Effect::Reject`], sent to the returned receiver. The call is made before this
    /// returns, so its effects (a frame sent, an at-once rejection) happen in order with the caller's. A meeting
    /// dropped before it settles the call drops the sender (the receiver then reads `Canceled`).
    pub fn call(self: &Rc<Self>, input: impl FnOnce(&mut Machine, CallId)) -> oneshot::Receiver<CallOutcome> {
        let id = CallId(self.next_call.get());
        self.next_call.set(id.0.wrapping_add(1));
        let (sender, outcome) = oneshot::channel();
        with(&self.calls, |calls| calls.push((id, sender)));
        self.input(|machine| input(machine, id));
        outcome
    }

    fn settle(&self, id: CallId, outcome: CallOutcome) {
        let call = with(&self.calls, |calls| calls.iter().position(|(c, _)| *c == id).map(|i| calls.swap_remove(i)));
        if let Some((_, sender)) = call {
            // The receiver is gone only if its promise was dropped; nothing waits for the outcome then.
            let _ = sender.send(outcome);
        }
    }

    fn apply(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Open => self.open(),
            Effect::Send(frame) => with(&self.socket, |socket| {
                if let Some(socket) = socket {
                    socket.send(&interop::client_frame(&frame));
                }
            }),
            Effect::Close => {
                self.socket.take();
                self.timer.take();
            }
            Effect::ScheduleReconnect(ms) => self.timer.set(Some(Timeout::start(&self.handlers.timer, ms))),
            Effect::WatchSilence(ms) => self.silence.set(ms.map(|ms| Timeout::start(&self.handlers.silence, ms))),
            Effect::Emit(event) => {
                let (name, payload) = interop::event(&event);
                // A listener that throws must not stop the meeting; the TypeScript layer reports it.
                let _ = self.on_event.call2(&JsValue::UNDEFINED, &name, &payload);
            }
            Effect::Resolve(id, outcome) => self.settle(id, Ok(outcome)),
            Effect::Reject(id, error) => self.settle(id, Err(error)),
        }
    }

    fn open(self: &Rc<Self>) {
        match Socket::open(&self.url, &self.this) {
            // Replacing drops the old socket, if any: detached and closed.
            Ok(socket) => self.socket.set(Some(socket)),
            // No WebSocket in this runtime, or a malformed URL: the same as a socket that could not connect.
            Err(_) => self.input(|m| m.socket_closed()),
        }
    }
}
