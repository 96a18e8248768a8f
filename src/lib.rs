//! The wasm module behind the `endsession` npm package: one participant's meeting, able to end the session for
//! everyone.
//!
//! Two layers, as in automerge:
//! - a pure core that knows nothing of JavaScript and is tested natively: [`Machine`] (the state machine) with its
//!   inputs and [`Effect`]s, [`RoomState`], [`EndState`], [`Event`], [`ClientError`], [`Reconnect`],
//!   [`Participants`], [`ws_url`];
//! - a thin wasm-bindgen layer: [`WasmMeeting`] (this file, the JavaScript surface), `driver` (runs the machine
//!   with a `WebSocket` and `setTimeout`) and `interop` (every Rust ↔ JavaScript conversion);
//! - on wasm32, a small global allocator ([`Heap`]) in place of dlmalloc, for the payload's size budget.
//!
//! The TypeScript package (`js/`) wraps [`WasmMeeting`] in the RealtimeKit-shaped `Meeting`; users never see it.

mod alloc;
mod driver;
mod effects;
mod end_state;
mod endpoint;
mod errors;
mod events;
mod interop;
mod leave;
mod machine;
mod participants;
mod reconnect;
mod room;

pub use alloc::Heap;
pub use effects::{CallId, Effect, KickAllResult, Outcome};
pub use end_state::EndState;
pub use endpoint::ws_url;
pub use errors::{ClientError, CONNECTION_FAILED, CONNECTION_LOST, NOT_JOINED, PERMISSION_DENIED, ROOM_LEFT};
pub use events::Event;
pub use leave::Leave;
pub use machine::{Machine, CONNECT_TIMEOUT_MS, HEARTBEAT_TIMEOUT_FACTOR};
pub use participants::Participants;
pub use reconnect::Reconnect;
pub use room::{LeaveState, RoomState};

use driver::Driver;
use js_sys::{Array, Function, Promise};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// One participant's meeting, for JavaScript. Every event goes to the one callback given to the constructor as
/// `onEvent(name, payload)` (names and payloads: [`Event`]); call promises reject with `{code, message}`.
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
    /// `{code, message}` ([`ClientError`]).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn join(&self) -> Promise {
        self.0.call(Machine::join)
    }

    /// Leaves the room (`roomLeft` `left`); the session goes on for the others.
    pub fn leave(&self) {
        self.0.input(Machine::leave);
    }

    /// Ends the session for everyone; resolves with `{sessionId, kickedCount, alreadyEnded}`, rejects with
    /// `{code, message}` ([`ClientError`]).
    #[wasm_bindgen(js_name = kickAll, unchecked_return_type = "Promise<KickAllResult>")]
    pub fn kick_all(&self) -> Promise {
        self.0.call(Machine::kick_all)
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

/// The names JavaScript sees, as TypeScript types in `endsession.d.ts`; the TypeScript layer (`js/`) imports them from
/// there. Written out here because wasm-bindgen takes this section as one literal; the test below holds every list to
/// the Rust one it names ([`LeaveState`], [`RoomState`], [`EndState`], [`EndReason`](endsession_protocol::EndReason),
/// the [`ClientError`] codes), so a variant added in Rust and not here fails `cargo test`.
#[allow(dead_code)] // read through `VOCABULARY_TS` by wasm-bindgen (on wasm32) and by the tests
const VOCABULARY: &str = r#"
/** How a participant left the room: `LeaveState` (RealtimeKit's `LeaveRoomState`, less what this server never does). */
export type LeaveRoomState = "ended" | "kicked" | "left" | "rejected" | "disconnected" | "failed";
/** `meeting.self.roomState`: `RoomState`; `disconnected` while reconnecting, as in RealtimeKit. */
export type RoomState = "init" | "joining" | "joined" | "disconnected" | "ended" | "kicked" | "left" | "rejected" | "failed";
/** What an "End meeting for all" control shows: `EndState`. */
export type EndState = "allowed" | "no-permission" | "not-joined" | "ending" | "ended" | "kicked" | "left" | "rejected" | "failed";
/** Why a session ended: `EndReason`, the `reason` of `roomLeft` `ended` and of the `meeting.ended` webhook. */
export type EndReason = "HOST_ENDED_MEETING" | "ALL_PARTICIPANTS_LEFT" | "NO_HOST";
/** The codes `join()` and `kickAll()` reject with: `ClientError.code` (the server's `ErrorCode`s and the client's). */
export type ClientErrorCode = "1201" | "1205" | "4000" | "4001" | "4002" | "4010" | "4030" | "4040" | "4050" | "4220" | "4290" | "4900" | "4901" | "4902";
/** Another participant in the session (`Participant`). */
export interface Participant {
  id: string;
  name: string;
  customParticipantId: string;
  presetName: string;
}
/**
 * The `roomLeft` payload (`Leave`): how and why the participant left. On a RealtimeKit meeting it is RealtimeKit's
 * own payload (`{state}`).
 *
 * @example
 * meeting.self.on('roomLeft', ({ state, reason }) =>
 *   state === 'ended' && reason === 'HOST_ENDED_MEETING' ? showEndedByHost() : showOther(state));
 */
export interface RoomLeftEvent {
  state: LeaveRoomState;
  /** The session the participant was in (or was refused back into); `''` if it never had one. */
  sessionId: string;
  /** With `ended`: why the session ended (`null` if the server did not say); `null` for every other state. */
  reason: EndReason | null;
  /** With `ended`, when the server counted it: how many participants the end removed. */
  kickedCount?: number;
  /** With `rejected` after a refused join: the server's error code (`'4010'` bad token, `'4030'` INACTIVE, ...). */
  code?: string;
  /** With `rejected`: the server's why, for a developer or a person. */
  message?: string;
}
/** What `kickAll()` resolves with (`KickAllResult`). */
export interface KickAllResult {
  sessionId: string;
  kickedCount: number;
  alreadyEnded: boolean;
}
/** What a rejected `join()` or `kickAll()` carries (`ClientError`). */
export interface WasmClientError {
  code: ClientErrorCode;
  message: string;
}
/** The arguments of the `onEvent` callback (`Event`): its name, then its payload. */
export type MeetingEvent =
  | ["roomJoined", { reconnected: boolean }]
  | ["roomLeft", RoomLeftEvent]
  | ["permissionsUpdate", { kickParticipant: boolean }]
  | ["participantJoined", Participant]
  | ["participantLeft", Participant]
  | ["endStateChange", { state: EndState }];
"#;

#[wasm_bindgen(typescript_custom_section)]
const VOCABULARY_TS: &'static str = VOCABULARY;

#[cfg(test)]
mod vocabulary {
    use super::*;
    use endsession_protocol::{EndReason, ErrorCode, Participant};

    /// The string literals of `export type NAME = ...;` in [`VOCABULARY`], in order.
    fn emitted(name: &str) -> Vec<&'static str> {
        let head = format!("export type {name} = ");
        let line = VOCABULARY.lines().find_map(|line| line.strip_prefix(head.as_str())).expect(name);
        line.trim_end_matches(';').split(" | ").map(|literal| literal.trim_matches('"')).collect()
    }

    fn unique(names: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
        let mut list = Vec::new();
        for name in names {
            if !list.contains(&name) {
                list.push(name);
            }
        }
        list
    }

    /// Every room state there is: the ones before and while in the room, and a left room for each leave state
    /// (a dropped socket is `Reconnecting`, whose name is `disconnected`).
    fn room_states() -> Vec<RoomState> {
        [RoomState::Init, RoomState::Joining, RoomState::Joined, RoomState::Reconnecting]
            .into_iter()
            .chain(LeaveState::ALL.into_iter().filter(|s| *s != LeaveState::Disconnected).map(RoomState::Left))
            .collect()
    }

    #[test]
    fn leave_and_room_states_are_the_rust_ones() {
        assert_eq!(emitted("LeaveRoomState"), LeaveState::ALL.map(LeaveState::as_str));
        assert_eq!(emitted("RoomState"), unique(room_states().into_iter().map(RoomState::as_str)));
        for name in emitted("RoomState") {
            assert_eq!(RoomState::parse(name).as_str(), if name == "joining" { "init" } else { name });
        }
    }

    #[test]
    fn end_states_are_every_one_the_rules_derive() {
        let derived = room_states().into_iter().flat_map(|room| {
            [(false, false), (true, false), (true, true)].map(|(kick, ending)| EndState::derive(room, kick, ending))
        });
        let mut names = unique(derived.map(EndState::as_str));
        let mut listed = emitted("EndState");
        names.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, names);
    }

    #[test]
    fn event_names_are_the_rust_ones() {
        let ann = Participant {
            id: "a".into(),
            name: "Ann".into(),
            custom_participant_id: "c".into(),
            preset_name: "group_call_host".into(),
        };
        let events = [
            Event::RoomJoined { reconnected: false },
            Event::RoomLeft(Leave::new(LeaveState::Left, "s")),
            Event::PermissionsUpdate { kick_participant: false },
            Event::ParticipantJoined(ann.clone()),
            Event::ParticipantLeft(ann),
            Event::EndStateChange { state: EndState::Allowed },
        ];
        let start = VOCABULARY.find("export type MeetingEvent =").expect("MeetingEvent");
        let emitted: Vec<_> = VOCABULARY[start..].split("| [\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
        assert_eq!(emitted, events.map(|e| e.name()));
    }

    #[test]
    fn end_reasons_and_error_codes_are_the_rust_ones() {
        // A match with every variant: adding one to `EndReason` fails to compile here until the list has it.
        let reasons =
            [EndReason::HostEndedMeeting, EndReason::AllParticipantsLeft, EndReason::NoHost].map(
                |reason| match reason {
                    EndReason::HostEndedMeeting | EndReason::AllParticipantsLeft | EndReason::NoHost => reason.as_str(),
                },
            );
        assert_eq!(emitted("EndReason"), reasons);
        let mut codes = unique(ErrorCode::ALL.map(ErrorCode::as_str).into_iter().chain([
            PERMISSION_DENIED,
            NOT_JOINED,
            CONNECTION_FAILED,
            CONNECTION_LOST,
            ROOM_LEFT,
        ]));
        codes.sort_unstable();
        assert_eq!(emitted("ClientErrorCode"), codes);
    }
}
