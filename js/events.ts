/**
 * Every event a meeting emits, the emitter that carries it, and its payload — in one module, as in LiveKit's
 * client. The names and payloads are RealtimeKit's, so listeners written for RealtimeKit work unchanged; `sessionEnding`
 * and `sessionEndCancelled` (a countdown to the end: `kickAll(meeting, {graceSeconds})`) are this server's own, and
 * a RealtimeKit meeting never emits them.
 *
 * | event               | emitter                        | payload                          |
 * | ------------------- | ------------------------------ | -------------------------------- |
 * | `roomJoined`        | `meeting.self`                 | `{ reconnected }`                |
 * | `roomLeft`          | `meeting.self`                 | {@link RoomLeftEvent}            |
 * | `sessionEnding`     | `meeting.self`                 | {@link SessionEnding}            |
 * | `sessionEndCancelled` | `meeting.self`               | {@link SessionEndCancelled}      |
 * | `permissionsUpdate` | `meeting.self.permissions`     | `{ kickParticipant }`            |
 * | `participantJoined` | `meeting.participants.joined`  | the {@link Participant}          |
 * | `participantLeft`   | `meeting.participants.joined`  | the {@link Participant}          |
 *
 * @module
 */

import type {
  EndedBy,
  EndReason,
  LeaveRoomState,
  Participant,
  RoomLeftEvent,
  RoomState,
  SessionEndCancelled,
  SessionEnding,
} from './wasm/endsession.js';

/**
 * The leave states (`LeaveRoomState`: RealtimeKit's, less the states this server never produces; `disconnected` is
 * followed by `roomJoined {reconnected: true}` or by a final `failed` or `ended`), the room states (`RoomState`:
 * `meeting.self.roomState`) and the end reasons (`EndReason`: the `reason` of `roomLeft` `ended` and of the
 * `meeting.ended` webhook) are defined once, in the wasm module (Rust), and reach TypeScript through its `.d.ts`; so
 * are the payloads it emits: {@link RoomLeftEvent} (`roomLeft`), {@link SessionEnding} (`sessionEnding`),
 * {@link SessionEndCancelled} (`sessionEndCancelled`), {@link EndedBy} (who ended, or started or cancelled the
 * countdown: `{id, name, customParticipantId}` or `{api: true}`) and {@link Participant}.
 */
export type {
  EndedBy,
  EndReason,
  LeaveRoomState,
  Participant,
  RoomLeftEvent,
  RoomState,
  SessionEndCancelled,
  SessionEnding,
};

/** Events of `meeting.self`. */
export interface SelfEvents {
  roomJoined: { reconnected: boolean };
  roomLeft: RoomLeftEvent;
  /** A countdown to the session's end started, or was running when this participant joined or came back. */
  sessionEnding: SessionEnding;
  /** The countdown was cancelled: the session goes on. */
  sessionEndCancelled: SessionEndCancelled;
}

/** Events of `meeting.self.permissions`. */
export interface PermissionsEvents {
  permissionsUpdate: { kickParticipant: boolean };
}

/** Events of `meeting.participants.joined`. */
export interface ParticipantsEvents {
  participantJoined: Participant;
  participantLeft: Participant;
}

/**
 * Events RealtimeKit's `meeting.self` has and this server's meeting never emits (no waiting room, no media); listening
 * to them is allowed so that code written for RealtimeKit (its UI kit does) runs unchanged.
 */
export interface InertSelfEvents {
  waitlisted: void;
  mediaPermissionUpdate: { kind: string; message: string };
}

/** Events RealtimeKit's `meeting.meta` has; never emitted here (the connection is reported through `roomLeft`). */
export interface MetaEvents {
  socketConnectionUpdate: { state: string; reconnected?: boolean; reconnectionAttempt?: number };
}

/** Events RealtimeKit's `meeting.connectedMeetings` (breakout rooms) has; never emitted here. */
export interface ConnectedMeetingsEvents {
  changingMeeting: string;
  meetingChanged: unknown;
}

/** Every event, by name: what `on(meeting, name, listener)` accepts. */
export interface MeetingEvents extends SelfEvents, PermissionsEvents, ParticipantsEvents {}

export type MeetingEventName = keyof MeetingEvents;

/** The emitters of a meeting, ours or RealtimeKit's (whose `participants.joined` may be missing). */
interface Emitters<E> {
  self: E & { permissions: E };
  participants: { joined?: E };
}

/**
 * The emitter that carries `event` on `meeting` (`undefined` for a RealtimeKit meeting without `participants.joined`);
 * a `TypeError` for a name that is no meeting event. The one place events are routed: the meeting's own callback and
 * `on(meeting, …)` both ask it.
 */
export function emitterOf<E>(meeting: Emitters<E>, event: string): E | undefined {
  switch (event) {
    case 'roomJoined':
    case 'roomLeft':
    case 'sessionEnding':
    case 'sessionEndCancelled':
      return meeting.self;
    case 'permissionsUpdate':
      return meeting.self.permissions;
    case 'participantJoined':
    case 'participantLeft':
      return meeting.participants.joined;
  }
  throw new TypeError(`endsession: unknown event '${event}'`);
}

export type Listener<T> = (payload: T) => void;

const registry = new WeakMap<object, Map<PropertyKey, Set<Listener<never>>>>();

/**
 * An event emitter in the style of RealtimeKit's: `on` and `off` return the emitter.
 *
 * @example
 * meeting.self.on('roomLeft', ({ state }) => console.log('left:', state));
 */
export class Emitter<Events> {
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    let map = registry.get(this);
    if (!map) registry.set(this, (map = new Map()));
    let set = map.get(event);
    if (!set) map.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const set = registry.get(this)?.get(event);
    set?.delete(listener as Listener<never>);
    const once = onceOf.get(this)?.get(listener as Listener<never>);
    if (once) set?.delete(once);
    return this;
  }

  /** Node's and RealtimeKit's name for {@link Emitter.on}; RealtimeKit's UI kit subscribes with it. */
  addListener<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    return this.on(event, listener);
  }

  /** Node's and RealtimeKit's name for {@link Emitter.off}. */
  removeListener<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    return this.off(event, listener);
  }

  /**
   * Listens to the next `event` only. `off(event, listener)` with the same listener cancels it before it fires.
   *
   * @example
   * meeting.self.once('roomJoined', () => console.log('in'));
   */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const once: Listener<Events[K]> = (payload) => {
      this.off(event, listener);
      onceOf.get(this)?.delete(listener as Listener<never>);
      listener(payload);
    };
    let wrappers = onceOf.get(this);
    if (!wrappers) onceOf.set(this, (wrappers = new Map()));
    wrappers.set(listener as Listener<never>, once as Listener<never>);
    return this.on(event, once);
  }

  /** Removes every listener of `event`, or of every event when it is left out. */
  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) registry.delete(this);
    else registry.get(this)?.delete(event);
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof Events): number {
    return registry.get(this)?.get(event)?.size ?? 0;
  }
}

/** Per emitter, the wrapper `once()` registered for each listener, so that `off(event, listener)` finds it. */
const onceOf = new WeakMap<object, Map<Listener<never>, Listener<never>>>();

/**
 * Calls `emitter`'s listeners for `event`. A listener that throws does not stop the others; its error is
 * rethrown in a microtask, where the runtime reports it.
 */
export function emit(emitter: object, event: PropertyKey, payload: unknown): void {
  for (const listener of [...(registry.get(emitter)?.get(event) ?? [])]) {
    try {
      (listener as Listener<unknown>)(payload);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
