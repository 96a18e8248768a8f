/**
 * The meeting: the RealtimeKit-shaped object `initMeeting()` returns, over the wasm module's state machine.
 *
 * The public shape is the interfaces below; the classes that implement them are internal. Every value is read
 * from the wasm module when asked, so it is never stale; every event comes from it through one callback.
 *
 * @module
 */
import { ClientError, rethrow } from './errors.js';
import {
  emit,
  Emitter,
  emitterOf,
  type ConnectedMeetingsEvents,
  type InertSelfEvents,
  type MetaEvents,
  type Participant,
  type ParticipantsEvents,
  type PermissionsEvents,
  type RoomLeftEvent,
  type RoomState,
  type SelfEvents,
  type SessionEnding,
} from './events.js';
import * as inert from './inert.js';
import { type EndState, type MeetingEvent, WasmMeeting } from './wasm/endsession.js';

/** What `kickAll()` resolves with, once the server has ended the session. */
export interface KickAllResult {
  /** The session that ended. */
  sessionId: string;
  /** How many participants the end removed. */
  kickedCount: number;
  /** True when someone else had already ended this session (repeated and concurrent calls get the same result). */
  alreadyEnded: boolean;
  /**
   * Set when a countdown started or runs (`graceSeconds`): when the session ends, UTC, ISO 8601 with milliseconds
   * (the server's clock); `kickedCount` is 0 then, as nobody has been removed yet.
   */
  endsAt?: string;
}

/**
 * How `kickAll` ends the session; every field is optional, and none (or `{}`) is RealtimeKit's plain end, now.
 * The server's bounds apply (`ClientError` `'4220'` past them, nothing happens): `message` at most 500 characters,
 * `graceSeconds` at most 3600.
 */
export interface EndOptions {
  /** Shown to every participant with the end (`roomLeft.message`, and `sessionEnding.message` during a countdown). */
  message?: string;
  /** The meeting becomes INACTIVE with the end: nobody can join it after (until a backend sets it ACTIVE). */
  lock?: boolean;
  /**
   * End after a countdown of this many whole seconds instead of now (0 or absent: now): everyone gets
   * `sessionEnding`, the end state is `ending`, and `cancelEnd(meeting)` stops it.
   */
  graceSeconds?: number;
}

/** What `cancelEnd()` resolves with: `cancelled` is false when no countdown was running. */
export interface CancelEndResult {
  cancelled: boolean;
}

/**
 * The `'4220'` error for end options the client cannot read; `undefined` when they are fine (`undefined` and `null`
 * are no options). They must be a plain object whose members are among `known` — by default `message` (a string),
 * `lock` (a boolean) and `graceSeconds` (a whole number of seconds, 0 or more), and `kickAll()` adds `timeoutMs` (ms,
 * 0 or more) — each of its type. Anything else is refused before anything is sent, because an end is irreversible
 * for everyone: a misspelt option (`grace_seconds`) or a grace passed positionally (`kickAll(meeting, 30)`) must not
 * become an end now. The server checks the bounds and answers the same code.
 */
export function endOptionsError(
  options: unknown,
  known: readonly string[] = END_OPTIONS,
): ClientError | undefined {
  if (options == null) return undefined;
  const wrong = (why: string) => new ClientError('4220', `[ERR4220]: kickAll options: ${why}`);
  if (typeof options != 'object' || Array.isArray(options))
    return wrong(
      `expected an object such as {graceSeconds: 30}, got ${Array.isArray(options) ? 'an array' : typeof options}`,
    );
  const unknown = Object.keys(options).find((key) => !known.includes(key));
  if (unknown !== undefined) return wrong(`unknown option \`${unknown}\` (known: ${known.join(', ')})`);
  const { message, lock, graceSeconds: g, timeoutMs: t } = options as KickAllOptionFields;
  if (
    (message !== undefined && typeof message != 'string') ||
    (lock !== undefined && typeof lock != 'boolean') ||
    (g !== undefined && !(typeof g == 'number' && Number.isInteger(g) && g >= 0 && g < 2 ** 32)) ||
    (t !== undefined && !(typeof t == 'number' && t >= 0 && Number.isFinite(t)))
  )
    return wrong(
      'message must be a string, lock a boolean, graceSeconds a whole number of seconds (0 or more), timeoutMs a number of ms (0 or more)',
    );
  return undefined;
}

/** The members {@link endOptionsError} reads, of unknown type. */
interface KickAllOptionFields {
  message?: unknown;
  lock?: unknown;
  graceSeconds?: unknown;
  timeoutMs?: unknown;
}

/** The end options of `meeting.participants.kickAll`; `kickAll()` adds `timeoutMs`. */
export const END_OPTIONS = ['message', 'lock', 'graceSeconds'] as const;

/** `meeting.self.permissions`: what this participant's preset allows; emits `permissionsUpdate`. */
export interface MeetingPermissions extends Emitter<PermissionsEvents>, inert.InertPermissions {
  /** RealtimeKit's `kick_participant`: may end the session for everyone. */
  readonly kickParticipant: boolean;
  /** Breakout rooms, which this server does not have: nothing allowed (RealtimeKit's UI kit reads it). */
  readonly connectedMeetings: ConnectedMeetingsPermissions;
}

/** `meeting.self.permissions.connectedMeetings`: RealtimeKit's breakout-room permissions, all `false` here. */
export interface ConnectedMeetingsPermissions {
  readonly canAlterConnectedMeetings: false;
  readonly canSwitchConnectedMeetings: false;
  readonly canSwitchToParentMeeting: false;
}

/**
 * `meeting.self`: this participant; emits `roomJoined`, `roomLeft`, and the countdown to the session's end:
 * `sessionEnding` and `sessionEndCancelled`.
 */
export interface MeetingSelf extends Emitter<SelfEvents & InertSelfEvents>, inert.InertSelfMedia {
  readonly roomState: RoomState;
  /** `roomState === 'joined'` (RealtimeKit's UI kit joins unless this is true). */
  readonly roomJoined: boolean;
  /** Empty until the first join. */
  readonly id: string;
  /** RealtimeKit's stable participant id; here the same as {@link MeetingSelf.id}. Empty until the first join. */
  readonly userId: string;
  /** Empty until the first join. */
  readonly name: string;
  /** The current (or last) session; empty until the first join. */
  readonly sessionId: string;
  readonly permissions: MeetingPermissions;
}

/** `meeting.participants.joined`: the others in the session, kept current, emptied when the room is left. */
export interface JoinedParticipants extends Emitter<ParticipantsEvents>, Iterable<Participant> {
  readonly size: number;
  get(id: string): Participant | undefined;
  has(id: string): boolean;
  /** In join order. */
  toArray(): Participant[];
}

/** `meeting.participants`. */
export interface MeetingParticipants extends Emitter<inert.InertEvents>, inert.InertParticipants {
  readonly joined: JoinedParticipants;
  /**
   * Ends the session for everyone; resolves once the server did. Rejects with `ClientError` `'1205'` before joining
   * and after leaving, and `'1201'` without `kickParticipant` (nothing is sent then). While `disconnected` it waits
   * for the reconnect (`'4901'` if that gives up). Of several calls, only the one that ended the session resolves
   * `alreadyEnded: false`. `options` ({@link EndOptions}): a message, a lock, a countdown (then it resolves once
   * the countdown started, with `endsAt`); options of the wrong type reject with `'4220'` and nothing is sent.
   */
  kickAll(options?: EndOptions): Promise<KickAllResult>;
}

/** `meeting.meta`: an emitter, as RealtimeKit's is, of events this server's meeting never emits. */
export interface MeetingMeta extends Emitter<MetaEvents> {
  /** Empty until the first join. */
  readonly meetingId: string;
  /** The current (or last) session; empty until the first join. */
  readonly sessionId: string;
  /** Empty: the server does not send the meeting's title to participants. */
  readonly meetingTitle: string;
  /** RealtimeKit's view type; always a group call here. */
  readonly viewType: 'GROUP_CALL';
  /**
   * When this participant joined the current session (the server does not send the session's own start);
   * `undefined` before the first join. RealtimeKit's UI kit counts unread chat from it.
   */
  readonly meetingStartedTimestamp: Date | undefined;
  /** RealtimeKit's socket state, from `self.roomState`: `connected` while joined, else `disconnected`. */
  readonly socketState: { state: 'connected' | 'disconnected' };
}

/** `meeting.connectedMeetings`: RealtimeKit's breakout rooms, which this server does not have; never active. */
export interface ConnectedMeetings extends Emitter<ConnectedMeetingsEvents> {
  readonly isActive: false;
  /** Always empty. */
  readonly meetings: readonly { id: string; title: string }[];
  /** Always `undefined`: there is no parent meeting. */
  readonly parentMeeting: { id: string; title: string } | undefined;
}

/** One participant's meeting, shaped like RealtimeKit's so code written for RealtimeKit runs unchanged. */
export interface Meeting {
  readonly self: MeetingSelf;
  readonly participants: MeetingParticipants;
  readonly meta: MeetingMeta;
  readonly connectedMeetings: ConnectedMeetings;
  /** Present and inert (see ./inert.ts): this server has no media, stage, recording, chat, polls, plugins or AI. */
  readonly stage: inert.Stage;
  readonly recording: inert.Recording;
  readonly livestream: inert.Livestream;
  readonly chat: inert.Chat;
  readonly polls: inert.Polls;
  readonly plugins: inert.Plugins;
  readonly ai: inert.Ai;
  /** RealtimeKit's internals as far as its UI kit uses them: a logger, which drops everything here. */
  readonly __internals__: inert.Internals;
  /** Joins the session; rejects with `ClientError` (`'4010'` bad token, `'4030'` INACTIVE, `'4900'` unreachable…). */
  join(): Promise<void>;
  /** Leaves the room (`roomLeft` `left`); the session goes on for the others. */
  leave(): Promise<void>;
}

/** Emitters in the RealtimeKit style. */
export interface EmitterLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any emitter, whatever its payloads
  on(event: string, listener: (payload: any) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (payload: any) => void): unknown;
}

/**
 * The surface of a `@cloudflare/realtimekit` 2.x meeting that endsession uses: it is recognised by this shape (the
 * RealtimeKit package is never imported).
 */
export interface RealtimeKitLikeMeeting {
  self: EmitterLike & {
    roomState: string;
    permissions: EmitterLike & { kickParticipant?: boolean };
  };
  participants: { kickAll(): Promise<unknown>; joined?: EmitterLike & { size?: number } };
  meta?: { sessionId?: string };
}

/** Whether `meeting` has the shape of a `@cloudflare/realtimekit` 2.x meeting (and is not ours). */
export function isRealtimeKitMeeting(meeting: unknown): meeting is RealtimeKitLikeMeeting {
  const m = meeting as Partial<RealtimeKitLikeMeeting> | null | undefined;
  return (
    !(meeting instanceof MeetingImpl) &&
    typeof m?.self?.on == 'function' &&
    typeof m.self.permissions?.on == 'function' &&
    typeof m.participants?.kickAll == 'function'
  );
}

/**
 * `meeting` as a RealtimeKit meeting; a `TypeError` for anything that is neither ours nor one. The one check every
 * public function makes of a meeting that is not an `instanceof MeetingImpl`.
 */
export function realtimeKitMeeting(meeting: unknown): RealtimeKitLikeMeeting {
  if (isRealtimeKitMeeting(meeting)) return meeting;
  throw new TypeError('endsession: expected a meeting from initMeeting() or a RealtimeKit meeting');
}

/** Options of {@link MeetingImpl}; see `InitMeetingOptions`. */
export interface MeetingConfig {
  authToken: string;
  baseURI: string;
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number; attempts?: number };
  heartbeatTimeoutMs?: number;
}

// The inert members are copied onto the instances; the interfaces declare them to the type checker.
interface Permissions extends inert.InertPermissions {}
class Permissions extends Emitter<PermissionsEvents> implements MeetingPermissions {
  constructor(private readonly w: WasmMeeting) {
    super();
    Object.assign(this, inert.permissions);
  }
  get kickParticipant(): boolean {
    return this.w.kickParticipant;
  }
  readonly connectedMeetings = Object.freeze({
    canAlterConnectedMeetings: false,
    canSwitchConnectedMeetings: false,
    canSwitchToParentMeeting: false,
  } as const);
}

interface Self extends inert.InertSelfMedia {}
class Self extends Emitter<SelfEvents & InertSelfEvents> implements MeetingSelf {
  readonly permissions: Permissions;
  constructor(private readonly w: WasmMeeting) {
    super();
    Object.assign(this, inert.selfMedia, { config: inert.presetUiConfig() });
    this.permissions = new Permissions(w);
  }
  get roomState(): RoomState {
    return this.w.roomState;
  }
  get roomJoined(): boolean {
    return this.roomState === 'joined';
  }
  get id(): string {
    return this.w.selfId;
  }
  get userId(): string {
    return this.w.selfId;
  }
  get name(): string {
    return this.w.selfName;
  }
  get sessionId(): string {
    return this.w.sessionId;
  }
}

class Meta extends Emitter<MetaEvents> implements MeetingMeta {
  constructor(private readonly wasm: () => WasmMeeting) {
    super();
  }
  private get w(): WasmMeeting {
    return this.wasm();
  }
  get meetingId(): string {
    return this.w.meetingId;
  }
  get sessionId(): string {
    return this.w.sessionId;
  }
  readonly meetingTitle = '';
  readonly viewType = 'GROUP_CALL';
  meetingStartedTimestamp: Date | undefined = undefined;
  get socketState(): { state: 'connected' | 'disconnected' } {
    return { state: this.w.roomState === 'joined' ? 'connected' : 'disconnected' };
  }
}

class NoConnectedMeetings extends Emitter<ConnectedMeetingsEvents> implements ConnectedMeetings {
  readonly isActive = false;
  readonly meetings = Object.freeze([]);
  readonly parentMeeting = undefined;
}

class Joined extends Emitter<ParticipantsEvents> implements JoinedParticipants {
  constructor(private readonly w: WasmMeeting) {
    super();
  }
  get size(): number {
    return this.toArray().length;
  }
  get(id: string): Participant | undefined {
    return this.toArray().find((p) => p.id === id);
  }
  has(id: string): boolean {
    return !!this.get(id);
  }
  toArray(): Participant[] {
    return this.w.participants();
  }
  [Symbol.iterator](): Iterator<Participant> {
    return this.toArray()[Symbol.iterator]();
  }
}

/** The implementation of {@link Meeting}. Internal: users get one from `initMeeting()`. */
export class MeetingImpl implements Meeting {
  readonly self: MeetingSelf;
  readonly participants: MeetingParticipants;
  readonly meta: MeetingMeta;
  readonly connectedMeetings: ConnectedMeetings = new NoConnectedMeetings();
  readonly stage = new inert.Stage();
  readonly recording = new inert.Recording();
  readonly livestream = new inert.Livestream();
  readonly chat = new inert.Chat();
  readonly polls = new inert.Polls();
  readonly plugins = new inert.Plugins();
  readonly ai = new inert.Ai();
  readonly __internals__ = inert.internals;
  /** @internal Emits `endStateChange` `{state}`; read through `endStateSource(meeting)`. */
  readonly endStates = new Emitter<{ endStateChange: { state: string } }>();
  readonly #w: WasmMeeting;
  #left: RoomLeftEvent | null = null;
  /** When the last `sessionEnding` arrived (`performance.now()`), to count its `remainingMs` down. */
  #endingHeard = 0;

  constructor({ authToken, baseURI, reconnect = {}, heartbeatTimeoutMs }: MeetingConfig) {
    if (typeof authToken !== 'string' || !authToken) throw new TypeError('endsession: authToken is required');
    if (typeof baseURI !== 'string' || !baseURI) throw new TypeError('endsession: baseURI is required');
    if (
      heartbeatTimeoutMs !== undefined &&
      !(Number.isSafeInteger(heartbeatTimeoutMs) && heartbeatTimeoutMs >= 0)
    )
      throw new TypeError('endsession: heartbeatTimeoutMs must be a whole number of milliseconds, 0 or more');
    // Created before the wasm meeting, whose callback sets its start time.
    const meta = new Meta(() => this.#w);
    const w = (this.#w = new WasmMeeting(
      baseURI,
      authToken,
      (...[name, payload]: MeetingEvent) => {
        if (name == 'roomLeft') this.#left = payload;
        if (name == 'roomJoined' && !payload.reconnected) meta.meetingStartedTimestamp = new Date();
        if (name == 'sessionEnding') this.#endingHeard = performance.now();
        // Events arrive only after `join()`, when every emitter exists.
        const target = name == 'endStateChange' ? this.endStates : emitterOf<object>(this, name);
        if (target) emit(target, name, payload);
      },
      reconnect.baseDelayMs,
      reconnect.maxDelayMs,
      reconnect.attempts,
      heartbeatTimeoutMs,
    ));
    const self = (this.self = new Self(w));
    const joined = new Joined(w);
    this.participants = Object.assign(new Emitter<inert.InertEvents>(), inert.participants(), {
      joined,
      kickAll: (options?: EndOptions): Promise<KickAllResult> => {
        const bad = endOptionsError(options);
        if (bad) return Promise.reject(bad);
        return w.kickAll(options?.message, options?.lock, options?.graceSeconds).catch(rethrow);
      },
    });
    this.meta = meta;
  }

  /** @internal The wasm module's end state (`allowed`, `no-permission`, ...). */
  get endState(): EndState {
    return this.#w.endState;
  }

  /**
   * @internal The countdown to the session's end running now, `remainingMs` counted down to this moment; `null` when
   * none runs (read through `sessionEnding(meeting)`).
   */
  get sessionEnding(): SessionEnding | null {
    const ending = this.#w.sessionEnding;
    if (!ending) return null;
    const since = Math.round(performance.now() - this.#endingHeard);
    return { ...ending, remainingMs: Math.max(0, ending.remainingMs - since) };
  }

  /** @internal Cancels the countdown (read through `cancelEnd(meeting)`). */
  cancelEnd(): Promise<CancelEndResult> {
    return this.#w.cancelEnd().catch(rethrow);
  }

  /** @internal The last `roomLeft` payload, kept after leaving (`null` before the first). */
  get lastLeave(): RoomLeftEvent | null {
    return this.#left;
  }

  join(): Promise<void> {
    return this.#w.join().catch(rethrow);
  }

  async leave(): Promise<void> {
    this.#w.leave();
  }
}

export { ClientError };
