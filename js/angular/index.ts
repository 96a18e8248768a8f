/**
 * `endsession/angular`: the meeting's end state as signals, for standalone, zoneless Angular apps (19+). Plain
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
import type { AnyMeeting } from '../index.js';
import type { KickAllResult } from '../meeting.js';

export type { EndState };
export type { AnyMeeting };
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
  /** Ends the session for everyone; rejects with `ClientError` `'1201'` / `'1205'`. */
  kickAll(): Promise<KickAllResult | void>;
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
  const state = signal<EndState>('not-joined');
  let off: (() => void) | undefined;
  const follow = (m: AnyMeeting | null | undefined) => {
    off?.();
    const s = m ? endStateSource(m) : null;
    source.set(s);
    state.set(s?.state ?? 'not-joined');
    off = s?.subscribe(() => state.set(s.state));
  };
  destroyRef.onDestroy(() => off?.());
  if (typeof meeting === 'function') {
    // Follows the signal; the effect itself is destroyed with the injection context.
    effect(() => {
      const m = meeting();
      untracked(() => follow(m));
    });
  } else {
    follow(meeting);
  }
  return {
    state: state.asReadonly(),
    canEnd: computed(() => state() === 'allowed'),
    roomLeft: computed(() => leaveStateOf(state())),
    leave: computed(() => (leaveStateOf(state()) ? (source()?.leave ?? null) : null)),
    kickAll: () => {
      const s = source();
      return s ? s.kickAll() : Promise.reject(new TypeError('endsession: no meeting yet'));
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
