/**
 * `endsession/end-state`: the reactive end state of a meeting: what an "End meeting for all" control shows, and one subscription that
 * fires on every change. The framework bindings (`endsession/react`, `endsession/angular`, `endsession/element`)
 * are thin layers over {@link endStateSource}; the rules live in the wasm module (`EndState::derive`). An entry point
 * of its own, so that the root entry's payload stays as small as it was for apps that do not use it.
 *
 * @module
 */
import type { LeaveRoomState, RoomLeftEvent } from '../events.js';
import { loadWasm, wasmLoaded } from '../load.js';
import { cancelEnd, kickAll } from '../index.js';
import {
  type CancelEndResult,
  type EndOptions,
  type KickAllResult,
  type Meeting,
  MeetingImpl,
  realtimeKitMeeting,
  type RealtimeKitLikeMeeting,
} from '../meeting.js';
import { type EndState, endStateOf } from '../wasm/endsession.js';

/**
 * - `allowed`: in the session, may end it for everyone;
 * - `no-permission`: in the session, without `kickParticipant`;
 * - `not-joined`: before joining, while joining or reconnecting;
 * - `ending`: this participant's end is under way, or a countdown to the session's end runs (for every participant;
 *   one with `kickParticipant` may `cancelEnd(meeting)` then, and `canEndSession` is false);
 * - a leave state once out of the room: `ended` (ended for all), `kicked`, `left`, `rejected`, `failed`.
 *
 * Defined once, in the wasm module (Rust's `EndState`), and read from its `.d.ts`.
 */
export type { EndState };

/** The end state of one meeting; one per meeting object, shared by every binding. */
export interface EndStateSource {
  /** The end state now. */
  readonly state: EndState;
  /** The leave state when out of the room (`ended`, `kicked`, ...), otherwise `null`. */
  readonly roomLeft: Exclude<LeaveRoomState, 'disconnected'> | null;
  /**
   * When out of the room, the `roomLeft` payload that took it there: `{state, sessionId, reason, ...}` (words for
   * it: {@link leaveText}); otherwise `null`. For a RealtimeKit meeting, what its `roomLeft` said (`{state}`) if it
   * came while subscribed, else `{state}` from `roomState`.
   */
  readonly leave: RoomLeftEvent | null;
  /** Calls `onChange` after every change of `state`; returns the function that stops it. */
  subscribe(onChange: () => void): () => void;
  /**
   * Ends the session for everyone (`kickAll(meeting, options)`, {@link EndOptions}); `state` is `ending` meanwhile
   * (and, with `graceSeconds`, until the countdown is cancelled or the session ends).
   */
  kickAll(options?: EndOptions): Promise<KickAllResult | void>;
  /** Cancels the countdown to the end (`cancelEnd(meeting)`): `{cancelled}`. */
  cancelEnd(): Promise<CancelEndResult>;
}

export type { RealtimeKitLikeMeeting, RoomLeftEvent };
export {
  cancelledText,
  countdownText,
  disabledReason,
  endedByName,
  endingNote,
  endingText,
  endNote,
  leaveText,
} from '../ui/text.js';

const LEAVE_STATES: readonly string[] = ['ended', 'kicked', 'left', 'rejected', 'failed'];

/** The leave state within an end state, or `null`. */
export function leaveStateOf(state: EndState): EndStateSource['roomLeft'] {
  return LEAVE_STATES.includes(state) ? (state as EndStateSource['roomLeft']) : null;
}

/**
 * A source over a changing `read()`: fires its subscribers when the value differs from the last one seen.
 * `watch(changed)` attaches to the meeting while there are subscribers and returns the detach function.
 */
function source(
  read: () => EndState,
  lastLeave: () => Partial<RoomLeftEvent> | null,
  kickAll: (options?: EndOptions) => Promise<KickAllResult | void>,
  watch: (changed: () => void) => () => void,
  cancel: () => Promise<CancelEndResult>,
): EndStateSource & { changed(): void } {
  const subscribers = new Set<() => void>();
  let last = read();
  let detach: (() => void) | undefined;
  const changed = () => {
    const now = read();
    if (now === last) return;
    last = now;
    for (const f of [...subscribers]) f();
  };
  return {
    get state() {
      return read();
    },
    get roomLeft() {
      return leaveStateOf(read());
    },
    get leave() {
      const state = leaveStateOf(read());
      if (!state) return null;
      const last = lastLeave();
      // The payload only if it is the one that left the room in this state (not an older one).
      return last?.state === state
        ? { sessionId: '', reason: null, ...last, state }
        : { state, sessionId: '', reason: null };
    },
    subscribe(onChange) {
      subscribers.add(onChange);
      last = read();
      detach ??= watch(changed);
      return () => {
        subscribers.delete(onChange);
        if (!subscribers.size) detach = void detach?.();
      };
    },
    kickAll,
    cancelEnd: cancel,
    changed,
  };
}

/** Our meeting: the wasm module derives the state and emits `endStateChange`. */
function ours(meeting: MeetingImpl): EndStateSource {
  return source(
    () => meeting.endState,
    () => meeting.lastLeave,
    (options) => meeting.participants.kickAll(options),
    (changed) => {
      meeting.endStates.on('endStateChange', changed);
      return () => meeting.endStates.off('endStateChange', changed);
    },
    () => meeting.cancelEnd(),
  );
}

/**
 * A RealtimeKit-shaped meeting: the same rules, applied by the wasm module's `endStateOf` to what the meeting
 * shows. Until the module is loaded (it loads on the first subscription) the state reads `not-joined`.
 */
function foreign(meeting: RealtimeKitLikeMeeting): EndStateSource {
  let ending = false;
  let last: Partial<RoomLeftEvent> | null = null;
  const read = (): EndState =>
    wasmLoaded()
      ? endStateOf(meeting.self.roomState, meeting.self.permissions.kickParticipant === true, ending)
      : 'not-joined';
  const s = source(
    read,
    () => (last ? { sessionId: meeting.meta?.sessionId ?? '', ...last } : null),
    (options) => {
      ending = true;
      s.changed();
      // `kickAll(meeting)` applies RealtimeKit's checks and resolves on `roomLeft` `ended` (RealtimeKit's own call
      // resolves before the server acted): `ending` until the room is left.
      return kickAll(meeting, options).catch((error: unknown) => {
        ending = false;
        s.changed();
        throw error;
      });
    },
    (changed) => {
      const onRoom = () => {
        ending = false;
        changed();
      };
      const onLeft = (payload: Partial<RoomLeftEvent>) => {
        last = payload;
        onRoom();
      };
      const { self } = meeting;
      self.on('roomJoined', onRoom);
      self.on('roomLeft', onLeft);
      self.permissions.on('permissionsUpdate', changed);
      if (!wasmLoaded()) void loadWasm().then(changed);
      return () => {
        self.off('roomJoined', onRoom);
        self.off('roomLeft', onLeft);
        self.permissions.off('permissionsUpdate', changed);
      };
    },
    () => cancelEnd(meeting),
  );
  return s;
}

const sources = new WeakMap<object, EndStateSource>();

/**
 * The end state of `meeting`: a meeting from `initMeeting()` or any RealtimeKit-shaped meeting. One source per
 * meeting, so every binding on the page sees the same state.
 *
 * @example
 * const end = endStateSource(meeting);
 * const off = end.subscribe(() => (button.disabled = end.state !== 'allowed'));
 */
export function endStateSource(meeting: Meeting | RealtimeKitLikeMeeting): EndStateSource {
  let s = sources.get(meeting);
  if (!s) {
    s = meeting instanceof MeetingImpl ? ours(meeting) : foreign(realtimeKitMeeting(meeting));
    sources.set(meeting, s);
  }
  return s;
}
