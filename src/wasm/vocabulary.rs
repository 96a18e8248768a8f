//! The vocabulary JavaScript sees, emitted into `endsession.d.ts` and held to the Rust enums by tests.

use wasm_bindgen::prelude::*;

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
  /** With `ended`: the host's message (`kickAll`'s `message`); with `rejected`: the server's why. */
  message?: string;
  /** With `ended`: who ended it (absent for `ALL_PARTICIPANTS_LEFT` and `NO_HOST`). */
  endedBy?: EndedBy;
  /** With `ended`: the id of the end's `meeting.ended` event, the `rtk-uuid` header of its webhook deliveries. */
  eventId?: string;
}
/** Who ended a session or started or cancelled its countdown (`EndedBy`): a participant, or the REST API. */
export type EndedBy = { id: string; name: string; customParticipantId: string } | { api: true };
/**
 * The `sessionEnding` payload (`SessionEnding`): the session ends at `endsAt` unless a participant with
 * `kickParticipant` (or the REST API) cancels it.
 */
export interface SessionEnding {
  sessionId: string;
  /** When the session ends: UTC, ISO 8601 with milliseconds, by the server's clock. */
  endsAt: string;
  /** How long until then, in ms, from when the server sent it (free of clock skew). */
  remainingMs: number;
  /** `HOST_ENDED_MEETING` (a host or the API asked for it) or `NO_HOST`. */
  reason: EndReason;
  endedBy?: EndedBy;
  /** The host's message, to show with the countdown. */
  message?: string;
}
/** The `sessionEndCancelled` payload: the session goes on. `cancelledBy` is absent when nobody in particular did. */
export interface SessionEndCancelled {
  sessionId: string;
  cancelledBy?: EndedBy;
}
/** What `kickAll()` resolves with (`KickAllResult`). */
export interface KickAllResult {
  sessionId: string;
  /** How many participants the end removed; 0 when a countdown started (nobody removed yet). */
  kickedCount: number;
  alreadyEnded: boolean;
  /** Set when a countdown started or runs: when the session ends, UTC, ISO 8601 with milliseconds. */
  endsAt?: string;
}
/** What `cancelEnd()` resolves with (`CancelEndResult`): false when no countdown was running. */
export interface CancelEndResult {
  cancelled: boolean;
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
  | ["sessionEnding", SessionEnding]
  | ["sessionEndCancelled", SessionEndCancelled]
  | ["endStateChange", { state: EndState }];
"#;

#[wasm_bindgen(typescript_custom_section)]
const VOCABULARY_TS: &'static str = VOCABULARY;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::*;
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
            Event::SessionEnding(SessionEnding {
                session_id: "s".into(),
                ends_at: "t".into(),
                remaining_ms: 1,
                reason: EndReason::NoHost,
                ended_by: None,
                message: None,
            }),
            Event::SessionEndCancelled { session_id: "s".into(), cancelled_by: None },
            Event::EndStateChange { state: EndState::Allowed },
        ];
        let start = VOCABULARY.find("export type MeetingEvent =").expect("MeetingEvent");
        let emitted: Vec<_> = VOCABULARY[start..].split("| [\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
        assert_eq!(emitted, events.map(|e| e.name()));
    }

    /// The keys of `export interface NAME { ... }` in [`VOCABULARY`], with `?` on the optional ones.
    fn keys(name: &str) -> Vec<String> {
        let head = format!("export interface {name} {{");
        let start = VOCABULARY.find(&head).expect(name) + head.len();
        let body = &VOCABULARY[start..start + VOCABULARY[start..].find("\n}").expect("the interface ends")];
        body.lines()
            .filter_map(|line| line.strip_prefix("  ").filter(|l| !l.starts_with(['/', '*', ' '])))
            .map(|line| line[..line.find(':').expect("key: type")].to_string())
            .collect()
    }

    #[test]
    fn payload_interfaces_have_the_rust_fields() {
        // Destructured without `..`: a field added in Rust fails to compile here until the list (and the
        // interface) has it. Optional (`?`) where Rust leaves the field out when `None`.
        let SessionEnding { session_id: _, ends_at: _, remaining_ms: _, reason: _, ended_by: _, message: _ };
        assert_eq!(keys("SessionEnding"), ["sessionId", "endsAt", "remainingMs", "reason", "endedBy?", "message?"]);
        let Leave {
            state: _,
            session_id: _,
            reason: _,
            kicked_count: _,
            code: _,
            message: _,
            ended_by: _,
            event_id: _,
        };
        assert_eq!(
            keys("RoomLeftEvent"),
            ["state", "sessionId", "reason", "kickedCount?", "code?", "message?", "endedBy?", "eventId?"]
        );
        let KickAllResult { session_id: _, kicked_count: _, already_ended: _, ends_at: _ };
        assert_eq!(keys("KickAllResult"), ["sessionId", "kickedCount", "alreadyEnded", "endsAt?"]);
        let CancelEndResult { cancelled: _ };
        assert_eq!(keys("CancelEndResult"), ["cancelled"]);
        let ann = Event::SessionEndCancelled { session_id: String::new(), cancelled_by: None };
        let Event::SessionEndCancelled { session_id: _, cancelled_by: _ } = ann else { unreachable!() };
        assert_eq!(keys("SessionEndCancelled"), ["sessionId", "cancelledBy?"]);
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
