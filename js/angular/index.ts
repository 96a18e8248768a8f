/**
 * `endsession/angular`: the meeting's end state and its countdown (`injectSessionEnding`) as signals, for standalone, zoneless Angular apps (19+). Plain
 * functions called in an injection context (a component's field initializer or constructor); no decorators, no
 * module. Subscriptions end with the component, through `DestroyRef`.
 *
 * The meeting may be given as a value or as a signal (or any function) that returns it, e.g. while it is created
 * asynchronously; the state follows whichever meeting the signal holds.
 *
 * @example
 * import { Component, signal } from '@angular/core';
 * import { injectEndSession } from 'endsession/angular';
 * @Component({
 *   selector: 'app-end',
 *   template: `<button [disabled]="!end.canEnd()" (click)="end.kickAll()">End meeting for all</button>
 *              @if (end.roomLeft(); as left) { <p>Left: {{ left }}</p> }`,
 * })
 * export class EndComponent {
 *   meeting = signal<Meeting | null>(null);
 *   end = injectEndSession(this.meeting);
 * }
 *
 * @module
 */
import { computed, DestroyRef, effect, inject, type Signal, signal, untracked } from '@angular/core';
import {
  type EndState,
  type EndStateSource,
  endStateSource,
  leaveStateOf,
  type RoomLeftEvent,
} from '../end-state/index.js';
import type { AnyMeeting, EndedBy, EndOptions, SessionEnding } from '../index.js';
import type { KickAllResult } from '../meeting.js';
import { endingSource, takesEndOptions } from '../ui/ending.js';
import { secondsLeft as secondsUntil } from '../ui/text.js';

export type { EndState };
export type { AnyMeeting, EndedBy, EndOptions, SessionEnding };
/** A meeting, or a signal (any function) returning one, or `null` while there is none. */
export type MeetingInput = AnyMeeting | null | undefined | (() => AnyMeeting | null | undefined);

/** What {@link injectEndSession} returns. */
export interface EndSessionSignals {
  /** `allowed`, `no-permission`, `not-joined`, `ending`, or the leave state. */
  state: Signal<EndState>;
  /** `state() === 'allowed'`. */
  canEnd: Signal<boolean>;
  /** How the room was left, or `null` while in it or before. */
  roomLeft: Signal<ReturnType<typeof leaveStateOf>>;
  /**
   * The `roomLeft` payload that took the participant out of the room (`{state, sessionId, reason, ...}`; words
   * for it: `leaveText` from `endsession/end-state`), or `null` while in it or before.
   */
  leave: Signal<RoomLeftEvent | null>;
  /**
   * Whether the meeting takes end options (a message, a lock, a countdown): a meeting from `initMeeting()` does, a
   * RealtimeKit meeting does not (offer "End now" only).
   */
  takesEndOptions: Signal<boolean>;
  /**
   * Ends the session for everyone, now or after `options.graceSeconds`, with an optional `message` and `lock` (a
   * meeting from `initMeeting()` only); rejects with `ClientError` `'1201'` / `'1205'`, `'4220'` for a message or
   * countdown out of bounds.
   */
  kickAll(options?: EndOptions): Promise<KickAllResult | void>;
}

/**
 * The end state of `meeting` as signals, plus `kickAll`. Call it in an injection context.
 *
 * @example
 * readonly end = injectEndSession(meeting); // end.state(), end.canEnd(), end.roomLeft(), end.kickAll()
 */
export function injectEndSession(meeting: MeetingInput): EndSessionSignals {
  const destroyRef = inject(DestroyRef);
  const source = signal<EndStateSource | null>(null);
  const current = signal<AnyMeeting | null>(null);
  const state = signal<EndState>('not-joined');
  let off: (() => void) | undefined;
  const follow = (m: AnyMeeting | null | undefined) => {
    off?.();
    const s = m ? endStateSource(m) : null;
    current.set(m ?? null);
    source.set(s);
    state.set(s?.state ?? 'not-joined');
    off = s?.subscribe(() => state.set(s.state));
  };
  destroyRef.onDestroy(() => off?.());
  followInput(meeting, follow);
  return {
    state: state.asReadonly(),
    canEnd: computed(() => state() === 'allowed'),
    roomLeft: computed(() => leaveStateOf(state())),
    leave: computed(() => (leaveStateOf(state()) ? (source()?.leave ?? null) : null)),
    takesEndOptions: computed(() => takesEndOptions(current())),
    kickAll: (options) => {
      const s = source();
      const m = current();
      return s && m ? s.kickAll(options) : Promise.reject(new TypeError('endsession: no meeting yet'));
    },
  };
}

/** Calls `follow` with the meeting now and, for a signal, whenever it changes (the effect dies with the context). */
function followInput(meeting: MeetingInput, follow: (m: AnyMeeting | null | undefined) => void): void {
  if (typeof meeting === 'function') {
    effect(() => {
      const m = meeting();
      untracked(() => follow(m));
    });
  } else {
    follow(meeting);
  }
}

/** What {@link injectSessionEnding} returns. */
export interface SessionEndingSignals {
  /**
   * The countdown running now (`{sessionId, endsAt, remainingMs, reason, endedBy?, message?}`; `remainingMs` as of
   * its arrival, see `secondsLeft` for the time left now), or `null`; always `null` for a RealtimeKit meeting.
   */
  ending: Signal<SessionEnding | null>;
  /** Whole seconds left of the running countdown, updated every 250 ms (on this page's clock); `null` when none. */
  secondsLeft: Signal<number | null>;
  /** The last countdown cancelled (`cancelledBy` if a person did), until the next one or leaving; else `null`. */
  cancelled: Signal<{ cancelledBy?: EndedBy } | null>;
  /** Whether this participant may cancel the countdown (`kick_participant`, in the room). */
  canCancel: Signal<boolean>;
  /** Cancels the countdown for everyone; rejects with `ClientError` `'1201'` without the permission. */
  cancel(): Promise<{ cancelled: boolean }>;
}

/**
 * The countdown to the end of the session as signals, plus `cancel`. Call it in an injection context.
 *
 * @example
 * readonly ending = injectSessionEnding(this.meeting);
 * // @if (ending.ending(); as e) { <p>{{ e.endedBy?.name }} ends the meeting in {{ ending.secondsLeft() }} s</p>
 * //   @if (ending.canCancel()) { <button (click)="ending.cancel()">Cancel the end</button> } }
 */
export function injectSessionEnding(meeting: MeetingInput): SessionEndingSignals {
  const destroyRef = inject(DestroyRef);
  type Source = ReturnType<typeof endingSource>;
  const source = signal<Source | null>(null);
  const ending = signal<SessionEnding | null>(null);
  const cancelled = signal<{ cancelledBy?: EndedBy } | null>(null);
  const canCancel = signal(false);
  const secondsLeft = signal<number | null>(null);
  let off: (() => void) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = (s: Source | null) => {
    const deadline = s?.deadline ?? null;
    secondsLeft.set(deadline === null ? null : secondsUntil(deadline));
    if (deadline !== null && timer === undefined) timer = setInterval(() => tick(s), 250);
    if (deadline === null && timer !== undefined) timer = void clearInterval(timer);
  };
  const read = (s: Source | null) => {
    ending.set(s?.ending ?? null);
    cancelled.set(s && !s.ending ? s.cancelled : null);
    canCancel.set(s?.canCancel ?? false);
    tick(s);
  };
  const follow = (m: AnyMeeting | null | undefined) => {
    off?.();
    if (timer !== undefined) timer = void clearInterval(timer);
    const s = m ? endingSource(m) : null;
    source.set(s);
    read(s);
    off = s?.subscribe(() => read(s));
  };
  destroyRef.onDestroy(() => {
    off?.();
    if (timer !== undefined) clearInterval(timer);
  });
  followInput(meeting, follow);
  return {
    ending: ending.asReadonly(),
    secondsLeft: secondsLeft.asReadonly(),
    cancelled: cancelled.asReadonly(),
    canCancel: canCancel.asReadonly(),
    cancel: () => {
      const s = source();
      return s ? s.cancel() : Promise.reject(new TypeError('endsession: no meeting yet'));
    },
  };
}

/** Whether the participant may end the session now, as a signal. */
export function injectCanEndSession(meeting: MeetingInput): Signal<boolean> {
  return injectEndSession(meeting).canEnd;
}

/** How the room was left, or `null`, as a signal. */
export function injectRoomLeft(meeting: MeetingInput): Signal<ReturnType<typeof leaveStateOf>> {
  return injectEndSession(meeting).roomLeft;
}

/**
 * The words of the End dialog, the countdown banner and the ended screen (the same the React and element bindings
 * show), for the app's own markup: this binding has no components.
 */
export {
  CANCEL,
  CANCEL_END,
  cancelledText,
  CONFIRM,
  CONFIRM_TEXT,
  CONFIRM_TEXT_LATER,
  CONFIRM_TITLE,
  countdownText,
  disabledReason,
  endingNote,
  endingText,
  endLaterLabel,
  endNote,
  LABEL,
  leaveText,
  LOCK_HINT,
  LOCK_LABEL,
  MAX_MESSAGE_CHARS,
  MESSAGE_LABEL,
} from '../ui/text.js';
