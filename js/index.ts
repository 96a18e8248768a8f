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
import { type KickAllResult, type Meeting, MeetingImpl } from './meeting.js';
import { loadWasm } from './load.js';

export { ClientError };
export type { ClientErrorCode } from './errors.js';
export type {
  Emitter,
  LeaveRoomState,
  Listener,
  MeetingEventName,
  MeetingEvents,
  Participant,
  ParticipantsEvents,
  PermissionsEvents,
  RoomState,
  SelfEvents,
} from './events.js';
export type {
  JoinedParticipants,
  KickAllResult,
  Meeting,
  MeetingMeta,
  MeetingParticipants,
  MeetingPermissions,
  MeetingSelf,
} from './meeting.js';

// ----- the seam between the public functions and the meeting they are given -----
//
// Today a target is made for meetings from `initMeeting()`. RealtimeKit meetings have the same shape for the gate
// and the events (`self.permissions.kickParticipant`, `self.on('roomLeft')`, `participants.joined.on(...)`), but
// their `participants.kickAll()` resolves before the server acts, and with nothing. An adapter for them is a second
// branch in `toTarget` (and a module of its own); the public functions do not change.

/** What the public functions need from a meeting. */
interface EndSessionTarget {
  canEndSession(): boolean;
  kickAll(): Promise<KickAllResult>;
  on<K extends MeetingEventName>(event: K, listener: Listener<MeetingEvents[K]>): () => void;
}

/** The emitter that carries each event: the same paths on our meeting and on RealtimeKit's. */
function emitterOf(meeting: Meeting, event: MeetingEventName) {
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

/** The target for `meeting`, or a `TypeError` for anything that is not a meeting from `initMeeting()`. */
function toTarget(meeting: Meeting): EndSessionTarget {
  if (!(meeting instanceof MeetingImpl)) {
    throw new TypeError('endsession: expected a meeting from initMeeting()');
  }
  return {
    canEndSession: () => meeting.self.permissions.kickParticipant === true,
    kickAll: () => meeting.participants.kickAll(),
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
 * Whether the participant may end the session for everyone (`self.permissions.kickParticipant`). Follow changes
 * with `on(meeting, 'permissionsUpdate', …)`.
 *
 * @example
 * endButton.disabled = !canEndSession(meeting);
 */
export function canEndSession(meeting: Meeting): boolean {
  return toTarget(meeting).canEndSession();
}

/**
 * Ends the session for every participant; resolves after the server confirmed with `{sessionId, kickedCount,
 * alreadyEnded}`. Rejects with `ClientError` `'1205'` outside the room, `'1201'` without the permission.
 *
 * @example
 * const { kickedCount } = await kickAll(meeting);
 */
export function kickAll(meeting: Meeting): Promise<KickAllResult> {
  return toTarget(meeting).kickAll();
}

/**
 * Listens to one meeting event; returns the function that stops listening.
 *
 * @example
 * const off = on(meeting, 'roomLeft', ({ state }) => state === 'ended' && showEndedScreen());
 * off();
 */
export function on<K extends MeetingEventName>(
  meeting: Meeting,
  event: K,
  listener: Listener<MeetingEvents[K]>,
): () => void {
  return toTarget(meeting).on(event, listener);
}
