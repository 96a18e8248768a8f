//! Runs a [`Machine`] in JavaScript: one `WebSocket`, two `setTimeout` timers (reconnect, silence), the promises of pending calls and the
//! event callback. Carries out the machine's [`Effect`]s in order.
//!
//! Re-entrancy: the machine is never held while user JavaScript runs (listeners and promise callbacks may call
//! back into the meeting), so every input is `take → input → take_effects → put back`, then the effects. The cells
//! are `Cell`s used by take-and-put-back rather than `RefCell`s: nothing here can panic on a borrow, and the
//! payload has no borrow-error formatting code.

use crate::{interop, CallId, Effect, EndState, Event, Machine};
use js_sys::{Function, Promise};
use std::cell::Cell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, WebSocket};

/// The JavaScript callbacks given to every socket and to the timer. Made once per meeting; they hold a weak
/// reference so that dropping the meeting frees everything.
struct Handlers {
    open: Closure<dyn FnMut()>,
    message: Closure<dyn FnMut(MessageEvent)>,
    close: Closure<dyn FnMut()>,
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
        let weak = driver.clone();
        Handlers {
            open: on(driver, |d| d.input(Machine::socket_open)),
            message: Closure::own_aborting(move |event: MessageEvent| {
                let frame = interop::text(&event.data()).and_then(|text| interop::server_frame(&text));
                if let (Some(driver), Some(frame)) = (weak.upgrade(), frame) {
                    driver.input(|m| m.socket_frame(frame));
                }
            }),
            close: on(driver, |d| {
                // The socket is gone; forget it before the machine decides what next.
                if let Some(socket) = d.socket.take() {
                    detach(&socket);
                }
                d.input(Machine::socket_closed);
            }),
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

fn detach(socket: &WebSocket) {
    socket.set_onopen(None);
    socket.set_onmessage(None);
    socket.set_onclose(None);
}

/// One meeting's machine plus the JavaScript resources it drives.
pub struct Driver {
    url: String,
    /// `None` only while an input runs.
    machine: Cell<Option<Box<Machine>>>,
    on_event: Function,
    socket: Cell<Option<WebSocket>>,
    timer: Cell<Option<JsValue>>,
    /// The silence timer ([`Effect::WatchSilence`]).
    silence: Cell<Option<JsValue>>,
    /// Pending promises: call id, resolve, reject.
    calls: Cell<Vec<(CallId, Function, Function)>>,
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
        for effect in effects {
            self.apply(effect);
        }
        // Read after the effects ran: a listener may have called back in (and reported a newer state already).
        let state = self.read(|m| m.end_state());
        if self.reported.replace(state) != state {
            self.apply(Effect::Emit(Event::EndStateChange { state }));
        }
    }

    /// A promise for a call: `input` gets the call's id and the machine resolves or rejects it later (or at once).
    pub fn call(self: &Rc<Self>, input: impl FnOnce(&mut Machine, CallId)) -> Promise {
        let id = CallId(self.next_call.get());
        self.next_call.set(id.0.wrapping_add(1));
        let promise = Promise::new(&mut |resolve, reject| with(&self.calls, |calls| calls.push((id, resolve, reject))));
        self.input(|machine| input(machine, id));
        promise
    }

    fn settle(&self, id: CallId, resolved: bool, value: &JsValue) {
        let call = with(&self.calls, |calls| calls.iter().position(|(c, _, _)| *c == id).map(|i| calls.swap_remove(i)));
        if let Some((_, resolve, reject)) = call {
            let _ = if resolved { resolve } else { reject }.call1(&JsValue::UNDEFINED, value);
        }
    }

    fn apply(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Open => self.open(),
            Effect::Send(frame) => with(&self.socket, |socket| {
                if let Some(socket) = socket {
                    let _ = socket.send_with_str(&interop::client_frame(&frame));
                }
            }),
            Effect::Close => {
                if let Some(socket) = self.socket.take() {
                    detach(&socket);
                    let _ = socket.close();
                }
                if let Some(timer) = self.timer.take() {
                    interop::clear_timeout(&timer);
                }
            }
            Effect::ScheduleReconnect(ms) => {
                let timer = interop::set_timeout(self.handlers.timer.as_ref(), ms);
                if let Some(old) = self.timer.replace(Some(timer)) {
                    interop::clear_timeout(&old);
                }
            }
            Effect::WatchSilence(ms) => {
                let timer = ms.map(|ms| interop::set_timeout(self.handlers.silence.as_ref(), ms));
                if let Some(old) = self.silence.replace(timer) {
                    interop::clear_timeout(&old);
                }
            }
            Effect::Emit(event) => {
                let (name, payload) = interop::event(&event);
                // A listener that throws must not stop the meeting; the TypeScript layer reports it.
                let _ = self.on_event.call2(&JsValue::UNDEFINED, &name, &payload);
            }
            Effect::Resolve(id, outcome) => self.settle(id, true, &interop::outcome(&outcome)),
            Effect::Reject(id, error) => self.settle(id, false, &interop::error(&error)),
        }
    }

    fn open(self: &Rc<Self>) {
        match WebSocket::new(&self.url) {
            Ok(socket) => {
                let h = &self.handlers;
                socket.set_onopen(Some(h.open.as_ref().unchecked_ref()));
                socket.set_onmessage(Some(h.message.as_ref().unchecked_ref()));
                socket.set_onclose(Some(h.close.as_ref().unchecked_ref()));
                if let Some(old) = self.socket.replace(Some(socket)) {
                    detach(&old);
                    let _ = old.close();
                }
            }
            // No WebSocket in this runtime, or a malformed URL: the same as a socket that could not connect.
            Err(_) => self.input(|m| m.socket_closed()),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            detach(&socket);
            let _ = socket.close();
        }
        if let Some(timer) = self.timer.take() {
            interop::clear_timeout(&timer);
        }
        if let Some(timer) = self.silence.take() {
            interop::clear_timeout(&timer);
        }
    }
}
