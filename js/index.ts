/**
 * `endsession`: end a meeting session for everyone — the permission gate, `kickAll` and `roomLeft` — in a small
 * wasm module, with RealtimeKit's names, errors and events.
 *
 * @example
 * import { initMeeting, canEndSession, kickAll, on, ClientError } from 'endsession';
 * const meeting = await initMeeting({ authToken, baseURI: 'http://127.0.0.1:8787' });
 * await meeting.join();
 * button.hidden = !canEndSession(meeting);
 * on(meeting, 'permissionsUpdate', () => (button.hidden = !canEndSession(meeting)));
 * on(meeting, 'roomLeft', ({ state }) => state === 'ended' && showEndedScreen());
 * button.onclick = () => kickAll(meeting); // { sessionId, kickedCount, alreadyEnded }
 *
 * @module
 */
import { ClientError } from './errors.js';
import type { Listener, MeetingEventName, MeetingEvents } from './events.js';
import { type KickAllResult, type Meeting, MeetingImpl, type RealtimeKitLikeMeeting } from './meeting.js';
import { loadWasm } from './load.js';

export { ClientError };
export type { ClientErrorCode } from './errors.js';
export type {
  ConnectedMeetingsEvents,
  Emitter,
  EndReason,
  InertSelfEvents,
  MetaEvents,
  LeaveRoomState,
  Listener,
  MeetingEventName,
  MeetingEvents,
  Participant,
  ParticipantsEvents,
  PermissionsEvents,
  RoomLeftEvent,
  RoomState,
  SelfEvents,
} from './events.js';
export type {
  InertEvents,
  InertParticipants,
  InertPermissions,
  InertSelfMedia,
  Internals,
  PresetUiConfig,
} from './inert.js';
export type {
  ConnectedMeetings,
  ConnectedMeetingsPermissions,
  JoinedParticipants,
  KickAllResult,
  Meeting,
  MeetingMeta,
  MeetingParticipants,
  MeetingPermissions,
  MeetingSelf,
  RealtimeKitLikeMeeting,
} from './meeting.js';

// ----- the seam between the public functions and the meeting they are given -----
//
// A target is made for meetings from `initMeeting()` and for `@cloudflare/realtimekit` 2.x meetings, recognised by
// their shape. Both have the same paths for the gate and the events (`self.permissions.kickParticipant`,
// `self.on('roomLeft')`, `participants.joined.on(...)`). RealtimeKit's `participants.kickAll()` resolves before the
// server acts, and with nothing: its adapter (./realtimekit/index.ts) waits for `roomLeft` `ended`. It is imported
// on the first `kickAll` of a RealtimeKit meeting, so the root entry's payload stays as it was for everyone else.

/** What the public functions need from a meeting. */
interface EndSessionTarget {
  canEndSession(): boolean;
  kickAll(options?: KickAllOptions): Promise<KickAllResult>;
  on<K extends MeetingEventName>(event: K, listener: Listener<MeetingEvents[K]>): () => void;
}

/** The emitter that carries each event: the same paths on our meeting and on RealtimeKit's. */
function emitterOf(meeting: AnyMeeting, event: MeetingEventName) {
  switch (event) {
    case 'roomJoined':
    case 'roomLeft':
      return meeting.self;
    case 'permissionsUpdate':
      return meeting.self.permissions;
    case 'participantJoined':
    case 'participantLeft':
      return meeting.participants.joined;
  }
  throw new TypeError(`endsession: unknown event '${String(event)}'`);
}

/** A meeting from `initMeeting()` or a `@cloudflare/realtimekit` 2.x meeting. */
export type AnyMeeting = Meeting | RealtimeKitLikeMeeting;

/** Options of {@link kickAll}. */
export interface KickAllOptions {
  /**
   * RealtimeKit meetings only: how long to wait for `roomLeft` `ended` once the request is sent, in ms (10000);
   * then `kickAll` rejects with `ClientError` `'4903'`.
   */
  timeoutMs?: number;
}

/** The target for `meeting`, or a `TypeError` for anything that is not a meeting. */
function toTarget(meeting: AnyMeeting): EndSessionTarget {
  const ours = meeting instanceof MeetingImpl;
  const rtk = meeting as RealtimeKitLikeMeeting;
  if (
    !ours &&
    !(typeof rtk?.self?.permissions?.on == 'function' && typeof rtk.participants?.kickAll == 'function')
  ) {
    throw new TypeError('endsession: expected a meeting from initMeeting() or a RealtimeKit meeting');
  }
  return {
    // Ours: the wasm module's end state (joined, the permission, no end under way), so the gate is closed while
    // reconnecting and after leaving, when `kickAll` would not be sent now.
    canEndSession: () =>
      meeting instanceof MeetingImpl
        ? meeting.endState === 'allowed'
        : rtk.self.permissions.kickParticipant === true && rtk.self.roomState === 'joined',
    kickAll: (options) =>
      ours
        ? meeting.participants.kickAll()
        : import('./realtimekit/index.js').then((m) => m.rtkKickAll(rtk, options?.timeoutMs)),
    on(event, listener) {
      const emitter = emitterOf(meeting, event) as unknown as {
        on(e: string, l: unknown): void;
        off(e: string, l: unknown): void;
      };
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },
  };
}

/** Options of {@link initMeeting}. */
export interface InitMeetingOptions {
  /** The participant's token, from the REST API (`POST …/meetings/{id}/participants` → `data.token`). */
  authToken: string;
  /** The server, e.g. `'http://127.0.0.1:8787'`; the socket goes to its `/realtime/ws` (`http` → `ws`). */
  baseURI: string;
  /**
   * After a dropped socket: wait `baseDelayMs` (250), doubling up to `maxDelayMs` (5000), for at most `attempts`
   * (6) attempts, then `roomLeft` `failed`.
   */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number; attempts?: number };
  /**
   * How long the joined socket may carry no frame at all before it counts as lost, in ms: then it is closed,
   * `roomLeft` `{state: 'disconnected'}` is emitted and the client reconnects. Default: 2.5 × the server's heartbeat
   * interval (its `joined` frame's `heartbeatMs`; the server pings that often), i.e. two pings missed; `0` turns it
   * off. A server that sends no heartbeats is never timed out. (Getting in has its own deadline, 10 s from opening
   * the socket to the server's answer: a join that hangs fails with `'4900'`, a reconnect attempt that hangs counts
   * as a failed attempt.)
   */
  heartbeatTimeoutMs?: number;
}

/**
 * Creates a meeting (not joined yet), loading the wasm module on first use.
 *
 * @example
 * const meeting = await initMeeting({ authToken, baseURI: 'http://127.0.0.1:8787' });
 * await meeting.join();
 */
export async function initMeeting(options: InitMeetingOptions): Promise<Meeting> {
  await loadWasm();
  return new MeetingImpl(options);
}

/**
 * Whether the participant may end the session for everyone now: true only when the end state
 * (`endsession/end-state`) is `allowed` — in the room (`self.roomState === 'joined'`; not while `disconnected`,
 * i.e. reconnecting, nor after leaving), with `self.permissions.kickParticipant`, and no end of its own under way.
 * For a RealtimeKit meeting: `kickParticipant` and `roomState === 'joined'`. Follow changes with
 * `on(meeting, 'permissionsUpdate', …)`, `'roomJoined'` and `'roomLeft'` — or use the end state and the bindings,
 * which do.
 *
 * @example
 * endButton.disabled = !canEndSession(meeting);
 */
export function canEndSession(meeting: AnyMeeting): boolean {
  return toTarget(meeting).canEndSession();
}

/**
 * Ends the session for every participant; resolves after the server confirmed with `{sessionId, kickedCount,
 * alreadyEnded}`. Rejects with `ClientError` `'1205'` before joining and after leaving (left, kicked, rejected),
 * `'1201'` without the permission. One end per session: of the calls on a meeting, only the one that ended the
 * session resolves `alreadyEnded: false`; every other call, concurrent or later, resolves `alreadyEnded: true` with
 * the same `sessionId` and `kickedCount`. While `disconnected` (reconnecting) the call waits for the reconnect and
 * is sent then; it rejects with `'4901'` if reconnecting gives up, `'4902'` if the room is left first.
 *
 * On a RealtimeKit meeting: `'1205'` unless `self.roomState` is `joined` (also after leaving, where RealtimeKit's
 * own call would let a second `kickAll` through); then `meeting.participants.kickAll()`, whose errors (`'1201'`
 * without the permission, ...) become our `ClientError` with RealtimeKit's code and message (`cause`: the original).
 * RealtimeKit sends the request without waiting for an answer, so this resolves when the participant's own
 * `roomLeft` `{state: 'ended'}` arrives — `{sessionId: meta.sessionId, kickedCount: the participants it saw in the
 * room, itself included, alreadyEnded: false}` — and rejects with `'4902'` if the room is left in another way,
 * `'4903'` if nothing arrives within `options.timeoutMs` (10000). Concurrent calls share one result.
 *
 * @example
 * const { kickedCount } = await kickAll(meeting);
 * await kickAll(realtimeKitMeeting, { timeoutMs: 5000 });
 */
export function kickAll(meeting: AnyMeeting, options?: KickAllOptions): Promise<KickAllResult> {
  return toTarget(meeting).kickAll(options);
}

/**
 * Listens to one meeting event; returns the function that stops listening.
 *
 * @example
 * const off = on(meeting, 'roomLeft', ({ state }) => state === 'ended' && showEndedScreen());
 * off();
 */
export function on<K extends MeetingEventName>(
  meeting: AnyMeeting,
  event: K,
  listener: Listener<MeetingEvents[K]>,
): () => void {
  return toTarget(meeting).on(event, listener);
}
