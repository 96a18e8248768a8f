/**
 * The countdown of a meeting's end as the bindings show it (`useSessionEnding`, `<session-ending-banner>`,
 * `injectSessionEnding`), and what the End dialog may offer for a meeting. One source per meeting, shared by every
 * binding on the page, so that all of them count down to the same moment.
 *
 * @module
 */
import {
  cancelEnd,
  type AnyMeeting,
  type EndedBy,
  type EndOptions,
  type SessionEnding,
  sessionEnding,
} from '../index.js';
import { MeetingImpl } from '../meeting.js';

/** The countdown of one meeting, kept current. */
export interface EndingSource {
  /** The countdown running now (`sessionEnding(meeting)`), or `null`. */
  readonly ending: SessionEnding | null;
  /**
   * When the running countdown ends, as a `Date.now()` time on this page's clock (from its `remainingMs` when it
   * arrived, not from `endsAt`: the server's clock and this one may differ); `null` when none runs.
   */
  readonly deadline: number | null;
  /** The last countdown cancelled (`cancelledBy` if a person did), until the next one starts or the room is left. */
  readonly cancelled: { cancelledBy?: EndedBy } | null;
  /** Whether this participant may cancel a countdown: `self.permissions.kickParticipant`. */
  readonly canCancel: boolean;
  /** Grows by one at every change of the above (a snapshot key for `useSyncExternalStore`). */
  readonly version: number;
  /** Calls `onChange` after every change of the above; returns the function that stops it. */
  subscribe(onChange: () => void): () => void;
  /** Cancels the countdown (`cancelEnd(meeting)`); rejects with `ClientError` `'1201'` without the permission. */
  cancel(): Promise<{ cancelled: boolean }>;
}

/**
 * Whether `meeting` takes the end options (a message, a lock, a countdown): a meeting from `initMeeting()` does;
 * a RealtimeKit meeting does not (its `kickAll` has none), so its End dialog offers "End now" only.
 */
export function takesEndOptions(meeting: AnyMeeting | null | undefined): boolean {
  return meeting instanceof MeetingImpl;
}

/** The options an End dialog's fields make: a trimmed message if any, `lock` if ticked, the countdown if any. */
export function endOptions(message: string, lock: boolean, graceSeconds: number): EndOptions {
  const text = message.trim();
  return {
    ...(text && { message: text }),
    ...(lock && { lock: true }),
    ...(graceSeconds > 0 && { graceSeconds }),
  };
}

const sources = new WeakMap<object, EndingSource>();

/**
 * The countdown source of `meeting`. For a RealtimeKit meeting nothing ever counts down (`ending` stays `null`),
 * but `canCancel` still follows the permission.
 */
export function endingSource(meeting: AnyMeeting): EndingSource {
  let s = sources.get(meeting);
  if (!s) sources.set(meeting, (s = create(meeting)));
  return s;
}

function create(meeting: AnyMeeting): EndingSource {
  const subscribers = new Set<() => void>();
  const ours = meeting instanceof MeetingImpl;
  let deadline: number | null = null;
  let seen: SessionEnding | null = null;
  let cancelled: { cancelledBy?: EndedBy } | null = null;
  let version = 0;
  const read = (): SessionEnding | null => (ours ? sessionEnding(meeting) : null);
  const notify = () => {
    version++;
    for (const f of [...subscribers]) f();
  };
  // The deadline is fixed when a countdown is first seen: its `remainingMs` is as of then.
  const take = (now: SessionEnding | null, remainingMs = now?.remainingMs) => {
    if (now && (now.sessionId !== seen?.sessionId || now.endsAt !== seen?.endsAt))
      deadline = Date.now() + Math.max(0, remainingMs ?? 0);
    if (!now) deadline = null;
    seen = now;
  };
  take(read());
  if (ours) {
    // Listened to from the start, for the page's lifetime (one source per meeting): the deadline comes from each
    // countdown's own arrival, whenever a binding subscribes.
    const self = meeting.self as unknown as { on(e: string, f: (p: never) => void): void };
    self.on('sessionEnding', (p: SessionEnding) => {
      cancelled = null;
      take(read() ?? p, p.remainingMs);
      notify();
    });
    self.on('sessionEndCancelled', (p: { cancelledBy?: EndedBy }) => {
      cancelled = { cancelledBy: p.cancelledBy };
      take(read());
      notify();
    });
    self.on('roomLeft', () => {
      cancelled = null;
      take(read());
      notify();
    });
    self.on('roomJoined', () => {
      take(read());
      notify();
    });
    meeting.self.permissions.on('permissionsUpdate', notify);
  }
  return {
    get ending() {
      return seen;
    },
    get deadline() {
      return deadline;
    },
    get cancelled() {
      return cancelled;
    },
    get version() {
      return version;
    },
    get canCancel() {
      return meeting.self.permissions.kickParticipant === true && meeting.self.roomState === 'joined';
    },
    subscribe(onChange) {
      subscribers.add(onChange);
      // A RealtimeKit meeting has no countdown; its permission still decides `canCancel`.
      if (!ours && subscribers.size === 1) meeting.self.permissions.on('permissionsUpdate', notify);
      return () => {
        subscribers.delete(onChange);
        if (!ours && !subscribers.size) meeting.self.permissions.off('permissionsUpdate', notify);
      };
    },
    cancel: () => cancelEnd(meeting),
  };
}
