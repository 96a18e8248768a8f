//! [`WasmMeeting`], the JavaScript surface of one participant's meeting, and [`end_state_of`] for RealtimeKit's.

use super::driver::{CallOutcome, Driver};
use super::interop;
use crate::core::{ws_url, CallId, ClientError, EndState, Machine, Reconnect, RoomState};
use endsession_protocol::EndOptions;
use futures_channel::oneshot;
use js_sys::{Array, Function, Promise};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// One participant's meeting, for JavaScript. Every event goes to the one callback given to the constructor as
/// `onEvent(name, payload)` (names and payloads: [`Event`](crate::core::Event)); call promises reject with `{code, message}`.
///
/// ```js
/// import init, { WasmMeeting } from './wasm/endsession.js';
/// await init();
/// const m = new WasmMeeting('http://127.0.0.1:8787', token, (name, payload) => console.log(name, payload));
/// await m.join();
/// m.roomState;           // 'joined'
/// await m.kickAll();     // { sessionId, kickedCount, alreadyEnded }
/// ```
#[wasm_bindgen]
pub struct WasmMeeting(Rc<Driver>);

#[wasm_bindgen]
impl WasmMeeting {
    /// A meeting on the server at `base_uri` (`http(s)://host[:port][/path]`) for the participant `auth_token`.
    /// The reconnect options default to [`Reconnect::default`]; `heartbeat_timeout_ms` is
    /// [`Machine::with_heartbeat_timeout`]'s (absent: derived from the server's `heartbeatMs`; 0: never).
    #[wasm_bindgen(constructor)]
    pub fn new(
        base_uri: &str,
        auth_token: String,
        #[wasm_bindgen(unchecked_param_type = "(...event: MeetingEvent) => void")] on_event: Function,
        reconnect_base_ms: Option<u32>,
        reconnect_max_ms: Option<u32>,
        reconnect_attempts: Option<u32>,
        heartbeat_timeout_ms: Option<u32>,
    ) -> WasmMeeting {
        let d = Reconnect::default();
        let reconnect = Reconnect {
            base_ms: reconnect_base_ms.unwrap_or(d.base_ms),
            max_ms: reconnect_max_ms.unwrap_or(d.max_ms),
            attempts: reconnect_attempts.unwrap_or(d.attempts),
        };
        let machine = Machine::new(auth_token, reconnect).with_heartbeat_timeout(heartbeat_timeout_ms);
        WasmMeeting(Driver::new(ws_url(base_uri), machine, on_event))
    }

    /// Joins the session; resolves with `undefined` once the server let the participant in, rejects with
    /// `{code, message}` ([`ClientError`](crate::core::ClientError)).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn join(&self) -> Promise {
        self.call(Box::new(Machine::join))
    }

    /// Leaves the room (`roomLeft` `left`); the session goes on for the others.
    pub fn leave(&self) {
        self.0.input(Machine::leave);
    }

    /// Ends the session for everyone; resolves with `{sessionId, kickedCount, alreadyEnded}` (+ `endsAt` when
    /// `grace_seconds` started a countdown), rejects with `{code, message}`
    /// ([`ClientError`](crate::core::ClientError)). The options are [`EndOptions`]' fields, each optional: `message`
    /// (shown to everyone with the end), `lock` (the meeting becomes INACTIVE with the end), `grace_seconds` (a
    /// countdown of that many seconds first). Three plain arguments rather than one object: reading an object
    /// with serde costs the payload its deserializer (see `interop`); the TypeScript layer checks the types.
    #[wasm_bindgen(js_name = kickAll, unchecked_return_type = "Promise<KickAllResult>")]
    pub fn kick_all(&self, message: Option<String>, lock: Option<bool>, grace_seconds: Option<u32>) -> Promise {
        let options = EndOptions { message, lock: lock.unwrap_or(false), grace_seconds };
        self.call(Box::new(|m, call| m.kick_all_with(call, options)))
    }

    /// Cancels the countdown to the session's end; resolves with `{cancelled}` (false when none was running),
    /// rejects with `{code, message}` as `kickAll` does (`1205` outside the room, `1201` without the permission).
    #[wasm_bindgen(js_name = cancelEnd, unchecked_return_type = "Promise<CancelEndResult>")]
    pub fn cancel_end(&self) -> Promise {
        self.call(Box::new(Machine::cancel_end))
    }

    /// The countdown to the session's end running now, as its last `sessionEnding` said (`remainingMs` as of
    /// then); `null` when none runs.
    #[wasm_bindgen(getter, js_name = sessionEnding, unchecked_return_type = "SessionEnding | null")]
    pub fn session_ending(&self) -> JsValue {
        self.0.read(|m| Some(interop::session_ending(m.session_ending()))).unwrap_or(JsValue::NULL)
    }

    /// `init`, `joining`, `joined`, `disconnected` (reconnecting), or how the room was left (`ended`, `left`, ...).
    #[wasm_bindgen(getter, js_name = roomState, unchecked_return_type = "RoomState")]
    pub fn room_state(&self) -> JsValue {
        self.0.read(|m| m.room_state().as_str().into())
    }

    /// What an "End meeting for all" control shows: `allowed`, `no-permission`, `not-joined`, `ending`, or the
    /// leave state. Each change is emitted as `endStateChange` `{state}`.
    #[wasm_bindgen(getter, js_name = endState, unchecked_return_type = "EndState")]
    pub fn end_state(&self) -> JsValue {
        self.0.read(|m| m.end_state().as_str().into())
    }

    /// Whether this participant may kick others and end the session.
    #[wasm_bindgen(getter, js_name = kickParticipant)]
    pub fn kick_participant(&self) -> bool {
        self.0.read(|m| m.permissions().kick_participant)
    }

    /// This participant's id; empty before the first join.
    #[wasm_bindgen(getter, js_name = selfId)]
    pub fn self_id(&self) -> JsValue {
        self.0.read(|m| m.me().map_or("", |p| &p.id).into())
    }

    /// This participant's display name; empty before the first join.
    #[wasm_bindgen(getter, js_name = selfName)]
    pub fn self_name(&self) -> JsValue {
        self.0.read(|m| m.me().map_or("", |p| &p.name).into())
    }

    /// The current (or last) session id; empty before the first join.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> JsValue {
        self.0.read(|m| m.session_id().into())
    }

    /// The meeting id; empty before the first join.
    #[wasm_bindgen(getter, js_name = meetingId)]
    pub fn meeting_id(&self) -> JsValue {
        self.0.read(|m| m.meeting_id().into())
    }

    /// The others in the session, in join order: `[{id, name, customParticipantId, presetName}]`.
    #[wasm_bindgen(unchecked_return_type = "Participant[]")]
    pub fn participants(&self) -> Array {
        self.0.read(|m| interop::participants(m.participants()))
    }
}

/// A user call's input to the machine, with the call's id.
type CallInput = dyn FnOnce(&mut Machine, CallId);

impl WasmMeeting {
    /// [`Driver::call`] made once for every call (`join`, `kickAll`, `cancelEnd`) rather than once per call, each
    /// inlined into its export: the payload's budget (`bench/size`).
    #[inline(never)]
    fn call(&self, input: Box<CallInput>) -> Promise {
        promise(self.0.call(input))
    }
}

/// The promise of a call made already ([`Driver::call`]): async Rust on `wasm-bindgen-futures`' microtask executor
/// that awaits the call's outcome. Not an `async fn` export: that would start the call on a microtask, after
/// `join()` returned (`roomState` would still read `init`). One function for every call, so the payload has one
/// copy of the executor's task code (each future type is its own copy).
fn promise(outcome: oneshot::Receiver<CallOutcome>) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        match outcome.await.unwrap_or_else(|_| Err(ClientError::room_left())) {
            Ok(outcome) => Ok(interop::outcome(&outcome)),
            Err(error) => Err(interop::error(&error)),
        }
    })
}

/// The end state of a meeting that is not ours (RealtimeKit's), from what it shows: `roomState`,
/// `self.permissions.kickParticipant`, and whether an end it asked for is under way. Same rules as ours
/// ([`EndState::derive`]).
///
/// ```js
/// endStateOf('joined', true, false); // 'allowed'
/// ```
#[wasm_bindgen(js_name = endStateOf, unchecked_return_type = "EndState")]
pub fn end_state_of(room_state: &str, kick_participant: bool, ending: bool) -> JsValue {
    EndState::derive(RoomState::parse(room_state), kick_participant, ending).as_str().into()
}
