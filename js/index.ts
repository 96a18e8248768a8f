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
import {
  emitterOf,
  type Listener,
  type MeetingEventName,
  type MeetingEvents,
  type SessionEnding,
} from './events.js';
import {
  type CancelEndResult,
  type EndOptions,
  type EmitterLike,
  END_OPTIONS,
  endOptionsError,
  type KickAllResult,
  type Meeting,
  MeetingImpl,
  realtimeKitMeeting,
  type RealtimeKitLikeMeeting,
} from './meeting.js';
import { loadWasm } from './load.js';

export { ClientError };
export type { ClientErrorCode } from './errors.js';
export type {
  ConnectedMeetingsEvents,
  Emitter,
  EndedBy,
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
  SessionEndCancelled,
  SessionEnding,
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
  CancelEndResult,
  ConnectedMeetings,
  ConnectedMeetingsPermissions,
  EndOptions,
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
  cancelEnd(): Promise<CancelEndResult>;
  sessionEnding(): SessionEnding | null;
}

/** A meeting from `initMeeting()` or a `@cloudflare/realtimekit` 2.x meeting. */
export type AnyMeeting = Meeting | RealtimeKitLikeMeeting;

/** Options of {@link kickAll}: how to end ({@link EndOptions}), and a RealtimeKit meeting's wait. */
export interface KickAllOptions extends EndOptions {
  /**
   * RealtimeKit meetings only: how long to wait for `roomLeft` `ended` once the request is sent, in ms (10000);
   * then `kickAll` rejects with `ClientError` `'4903'`.
   */
  timeoutMs?: number;
}

/** The target for `meeting`, or a `TypeError` for anything that is not a meeting. */
function toTarget(meeting: AnyMeeting): EndSessionTarget {
  if (meeting instanceof MeetingImpl) {
    const ours = meeting;
    return {
      // The wasm module's end state (joined, the permission, no end under way, no countdown running), so the gate
      // is closed while reconnecting, after leaving, and during a countdown (when Cancel is what applies).
      canEndSession: () => ours.endState === 'allowed',
      kickAll: (options) => ours.participants.kickAll(options == null ? undefined : endOptionsOf(options)),
      cancelEnd: () => ours.cancelEnd(),
      sessionEnding: () => ours.sessionEnding,
    };
  }
  const rtk = realtimeKitMeeting(meeting);
  return {
    canEndSession: () => rtk.self.permissions.kickParticipant === true && rtk.self.roomState === 'joined',
    kickAll: (options) => adapter().then((m) => m.rtkKickAllWith(rtk, options ?? undefined)),
    cancelEnd: () => adapter().then((m) => m.rtkCancelEnd(rtk)),
    // RealtimeKit has no countdown.
    sessionEnding: () => null,
  };
}

/** The RealtimeKit adapter: a chunk of its own (bundlers split it), loaded on a RealtimeKit meeting's first call. */
const adapter = () => import('./realtimekit/index.js');

/** `EndOptions` without the RealtimeKit-only `timeoutMs`. */
function endOptionsOf({ message, lock, graceSeconds }: KickAllOptions): EndOptions {
  return { message, lock, graceSeconds };
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
 * `options` ({@link EndOptions}, this server's own): `message` (shown to everyone: `sessionEnding.message`,
 * `roomLeft.message`), `lock` (the meeting becomes INACTIVE with the end), `graceSeconds` (a countdown first: the
 * call resolves once it started, with `{sessionId, kickedCount: 0, alreadyEnded: false, endsAt}`; everyone gets
 * `sessionEnding` and the end state `ending`; `cancelEnd(meeting)` stops it; at its end everyone gets `roomLeft`
 * `ended`). A countdown already running is kept: the call resolves with its `endsAt`. Options of the wrong type
 * reject with `'4220'` and nothing is sent; so do options past the server's bounds (the server answers `'4220'`).
 * A RealtimeKit meeting has none of these: any option but `lock: false` and `graceSeconds: 0` rejects with `'4904'`
 * and nothing is sent.
 *
 * @example
 * const { kickedCount } = await kickAll(meeting);
 * const { endsAt } = await kickAll(meeting, { graceSeconds: 30, message: 'Wrapping up', lock: true });
 * await kickAll(realtimeKitMeeting, { timeoutMs: 5000 });
 */
export function kickAll(meeting: AnyMeeting, options?: KickAllOptions): Promise<KickAllResult> {
  const target = toTarget(meeting);
  const bad = endOptionsError(options, KICK_ALL_OPTIONS);
  return bad ? Promise.reject(bad) : target.kickAll(options);
}

/** The options `kickAll()` reads: the end options and a RealtimeKit meeting's `timeoutMs`. */
const KICK_ALL_OPTIONS = [...END_OPTIONS, 'timeoutMs'];

/**
 * Cancels the countdown to the session's end (`kickAll(meeting, {graceSeconds})`, or the server's own `NO_HOST`
 * countdown); resolves with `{cancelled}` — false when no countdown was running. Everyone gets `sessionEndCancelled`
 * and the end state goes back to what it was. Rejects like `kickAll`: `ClientError` `'1205'` outside the room,
 * `'1201'` without `kickParticipant` (nothing is sent; also when the server refuses it); while `disconnected` it
 * waits for the reconnect (`'4901'` if that gives up, `'4902'` if the room is left first). On a RealtimeKit meeting
 * (no countdowns there): `{cancelled: false}` when joined, else `'1205'`.
 *
 * @example
 * cancelButton.onclick = () => cancelEnd(meeting);
 */
export function cancelEnd(meeting: AnyMeeting): Promise<CancelEndResult> {
  return toTarget(meeting).cancelEnd();
}

/**
 * The countdown to the session's end running now: `{sessionId, endsAt, remainingMs, reason, endedBy?, message?}`
 * with `remainingMs` counted down to the moment of the call (by this machine's monotonic clock, from the server's
 * own count: no clock skew); `null` when none runs, once it is cancelled or the room is left, and always for a
 * RealtimeKit meeting. Follow it with `on(meeting, 'sessionEnding' | 'sessionEndCancelled' | 'roomLeft', …)`.
 *
 * @example
 * const ending = sessionEnding(meeting);
 * if (ending) banner.textContent = `Ends in ${Math.ceil(ending.remainingMs / 1000)} s: ${ending.message ?? ''}`;
 */
export function sessionEnding(meeting: AnyMeeting): SessionEnding | null {
  return toTarget(meeting).sessionEnding();
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
  if (!(meeting instanceof MeetingImpl)) realtimeKitMeeting(meeting);
  // Ours and RealtimeKit's carry each event on the same emitter; a RealtimeKit meeting may lack `participants.joined`.
  const emitter: EmitterLike | undefined = emitterOf<EmitterLike>(meeting, event);
  emitter?.on(event, listener);
  return () => void emitter?.off(event, listener);
}
