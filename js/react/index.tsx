'use client';
/**
 * `endsession/react`: hooks and three components over the meeting's end state and its countdown, built on
 * `useSyncExternalStore`, so a live permission change re-renders (RealtimeKit's `useRealtimeKitSelector` does not:
 * it never subscribes to `self.permissions`). Every hook takes our meeting or a RealtimeKit one, or `null` while it
 * is being created.
 *
 * @example
 * import { EndMeetingButton, MeetingEndedScreen, SessionEndingBanner, useEndSession } from 'endsession/react';
 * function Controls({ meeting }) {
 *   const { state } = useEndSession(meeting);
 *   return (
 *     <>
 *       <SessionEndingBanner meeting={meeting} />
 *       <EndMeetingButton meeting={meeting} graceSeconds={60} />
 *       <MeetingEndedScreen meeting={meeting}><button onClick={() => meeting.join()}>Join again</button></MeetingEndedScreen>
 *     </>
 *   );
 * }
 *
 * @module
 */
import { type ReactNode, useCallback, useEffect, useId, useRef, useState, useSyncExternalStore } from 'react';
import {
  type EndState,
  type EndStateSource,
  endStateSource,
  leaveStateOf,
  type RoomLeftEvent,
} from '../end-state/index.js';
import type { AnyMeeting, EndOptions, SessionEnding } from '../index.js';
import type { KickAllResult } from '../meeting.js';
import { openModal, takeEndFocus, trackEndFocus, trapTab } from '../ui/dialog.js';
import { type EndingSource, endingSource, endOptions, takesEndOptions } from '../ui/ending.js';
import {
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
  secondsLeft,
} from '../ui/text.js';

export type { EndState };
export type { AnyMeeting, EndOptions, SessionEnding };

const none = () => () => {};

/** The end state of `meeting`, kept current: `allowed`, `no-permission`, `not-joined`, `ending` or a leave state. */
function useEndState(meeting: AnyMeeting | null | undefined): [EndState, EndStateSource | null] {
  const source = meeting ? endStateSource(meeting) : null;
  const subscribe = useCallback((f: () => void) => (source ? source.subscribe(f) : none()), [source]);
  const read = (): EndState => source?.state ?? 'not-joined';
  return [useSyncExternalStore(subscribe, read, read), source];
}

/** What {@link useEndSession} returns. */
export interface EndSession {
  state: EndState;
  /** `state === 'allowed'`. */
  canEnd: boolean;
  /**
   * Ends the session for everyone, now or after `options.graceSeconds` (with `options`, a meeting from
   * `initMeeting()` only: a RealtimeKit meeting takes none); rejects with `ClientError` `'1201'` / `'1205'`.
   */
  kickAll(options?: EndOptions): Promise<KickAllResult | void>;
}

/**
 * The end state and the action.
 *
 * @example
 * const { state, canEnd, kickAll } = useEndSession(meeting);
 */
export function useEndSession(meeting: AnyMeeting | null | undefined): EndSession {
  const [state, source] = useEndState(meeting);
  const kickAll = useCallback(
    (options?: EndOptions) =>
      !source || !meeting
        ? Promise.reject(new TypeError('endsession: no meeting yet'))
        : source.kickAll(options),
    [meeting, source],
  );
  return { state, canEnd: state === 'allowed', kickAll };
}

/** Whether the participant may end the session now; re-renders on a live permission change. */
export function useCanEndSession(meeting: AnyMeeting | null | undefined): boolean {
  return useEndState(meeting)[0] === 'allowed';
}

/** How the room was left (`ended`, `kicked`, `left`, `rejected`, `failed`), or `null` while in it or before. */
export function useRoomLeft(meeting: AnyMeeting | null | undefined): ReturnType<typeof leaveStateOf> {
  return leaveStateOf(useEndState(meeting)[0]);
}

/** Props of {@link EndMeetingButton}. */
export interface EndMeetingButtonProps {
  meeting: AnyMeeting | null | undefined;
  /** The button's label; "End meeting for all" by default. */
  children?: ReactNode;
  className?: string;
  /**
   * The countdown "End in N s" offers, in whole seconds (1 to 3600, the server's `MAX_GRACE_SECONDS`); 30 by
   * default; 0 offers no countdown. Not offered for a RealtimeKit meeting, which takes no end options.
   */
  graceSeconds?: number;
  /** Called with the result: `endsAt` is set when a countdown started (the session ends then unless cancelled). */
  onEnded?(result: KickAllResult | void): void;
  onError?(error: unknown): void;
}

/**
 * "End meeting for all": disabled with the reason shown unless allowed; a modal confirmation (focus on Cancel,
 * Tab stays inside, Esc cancels) before the end. For a meeting from `initMeeting()` the dialog offers an optional
 * message to everyone (at most 500 characters), "Lock the meeting" (it becomes `INACTIVE` with the end), "End now"
 * and "End in N s" (a countdown everyone sees, see {@link SessionEndingBanner}); for a RealtimeKit meeting, "End
 * now" only. Class names: `endsession-button`, `endsession-reason`, `endsession-dialog`, `endsession-message`,
 * `endsession-lock`, `endsession-confirm`, `endsession-later`, `endsession-cancel`; `data-state` carries the end
 * state.
 */
export function EndMeetingButton({
  meeting,
  children,
  className,
  graceSeconds = 30,
  onEnded,
  onError,
}: EndMeetingButtonProps) {
  const { state, canEnd, kickAll } = useEndSession(meeting);
  // The error of the last end: shown until the end state comes back to `allowed` after having left it for another
  // state than `ending` (a reconnect, the permission back: what failed before is not true after). Not tied to the
  // state at the moment of failure: the answer and the state change it brings arrive in either order.
  const [failed, setFailed] = useState<{ error: string; away: boolean } | null>(null);
  const error = failed?.error ?? '';
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const message = useRef<HTMLTextAreaElement>(null);
  const lock = useRef<HTMLInputElement>(null);
  const id = useId();
  const options = takesEndOptions(meeting);
  const later = options && graceSeconds > 0;
  useEffect(() => {
    if (!canEnd) dialog.current?.close();
  }, [canEnd]);
  useEffect(() => {
    if (!failed) return;
    if (state === 'allowed' && failed.away) setFailed(null);
    else if (state !== 'allowed' && state !== 'ending' && !failed.away) setFailed({ ...failed, away: true });
  }, [failed, state]);
  const source = meeting ? endStateSource(meeting) : null;
  // The wrapper holds the focus for the button and its dialog: an end while the dialog is open takes it from there.
  const control = useRef<HTMLDivElement>(null);
  useEffect(
    () => (control.current && source ? trackEndFocus(control.current, () => source) : undefined),
    [source],
  );
  const confirm = async (grace: number) => {
    dialog.current?.close();
    const end = options
      ? endOptions(message.current?.value ?? '', !!lock.current?.checked, grace)
      : undefined;
    try {
      const result = await kickAll(end); // not inside `onEnded?.(…)`: without onEnded it would never run
      if (message.current) message.current.value = '';
      if (lock.current) lock.current.checked = false;
      onEnded?.(result);
    } catch (e) {
      const error = e instanceof Error ? e.message.split('\n').pop()! : String(e);
      setFailed({ error, away: false });
      onError?.(e);
    }
  };
  return (
    <div ref={control} className={['endsession', className].filter(Boolean).join(' ')} data-state={state}>
      <button
        ref={button}
        type="button"
        className="endsession-button"
        disabled={!canEnd}
        aria-describedby={`${id}-reason`}
        onClick={() => {
          setFailed(null);
          if (dialog.current) openModal(dialog.current, cancel.current, button.current);
        }}
      >
        {children ?? LABEL}
      </button>
      <p
        id={`${id}-reason`}
        className="endsession-reason"
        data-error={error ? '' : undefined}
        aria-live="polite"
      >
        {error || disabledReason(state)}
      </p>
      <dialog
        ref={dialog}
        className="endsession-dialog"
        aria-labelledby={`${id}-title`}
        aria-describedby={`${id}-text`}
        onKeyDown={(e) => trapTab(e.nativeEvent, e.currentTarget)}
      >
        <h2 id={`${id}-title`}>{CONFIRM_TITLE}</h2>
        <p id={`${id}-text`}>{later ? CONFIRM_TEXT_LATER : CONFIRM_TEXT}</p>
        {options && (
          <div className="endsession-options">
            <label htmlFor={`${id}-message`}>{MESSAGE_LABEL}</label>
            <textarea
              ref={message}
              id={`${id}-message`}
              className="endsession-message"
              maxLength={MAX_MESSAGE_CHARS}
              rows={2}
            />
            <label className="endsession-lock">
              <input ref={lock} type="checkbox" aria-describedby={`${id}-lock-hint`} /> {LOCK_LABEL}
            </label>
            <p id={`${id}-lock-hint`} className="endsession-hint">
              {LOCK_HINT}
            </p>
          </div>
        )}
        <div className="endsession-actions">
          <button
            ref={cancel}
            type="button"
            className="endsession-cancel"
            onClick={() => dialog.current?.close()}
          >
            {CANCEL}
          </button>
          <button type="button" className="endsession-confirm" onClick={() => confirm(0)}>
            {CONFIRM}
          </button>
          {later && (
            <button type="button" className="endsession-later" onClick={() => confirm(graceSeconds)}>
              {endLaterLabel(graceSeconds)}
            </button>
          )}
        </div>
      </dialog>
    </div>
  );
}

/** Props of {@link MeetingEndedScreen}. */
export interface MeetingEndedScreenProps {
  meeting: AnyMeeting | null | undefined;
  /** Shown under the message, e.g. a "Join again" button. */
  children?: ReactNode;
  className?: string;
}

/**
 * The `roomLeft` payload that took the participant out of the room (`{state, sessionId, reason, ...}`), or `null`
 * while in it or before; re-renders when it changes.
 */
export function useRoomLeftEvent(meeting: AnyMeeting | null | undefined): RoomLeftEvent | null {
  const [state, source] = useEndState(meeting);
  return leaveStateOf(state) ? (source?.leave ?? null) : null;
}

/**
 * Nothing while in the room; once left, a title and a message for the leave state and its reason (`leaveText`;
 * `data-state`, and `data-reason` for an end).
 */
export function MeetingEndedScreen({ meeting, children, className }: MeetingEndedScreenProps) {
  const left = useRoomLeftEvent(meeting);
  const heading = useRef<HTMLHeadingElement>(null);
  const shown = !!left;
  // The End button that had the focus went with the room: the heading takes it.
  useEffect(() => {
    if (shown && meeting && heading.current) takeEndFocus(endStateSource(meeting), heading.current);
  }, [shown, meeting]);
  if (!left) return null;
  const [title, message] = leaveText(left);
  const note = endNote(left);
  return (
    <section
      className={['endsession-ended', className].filter(Boolean).join(' ')}
      data-state={left.state}
      data-reason={left.reason ?? undefined}
      role="status"
      aria-live="polite"
    >
      <h2 ref={heading} tabIndex={-1}>
        {title}
      </h2>
      <p>{message}</p>
      {note && (
        <figure className="endsession-note">
          <figcaption>{note[0]}</figcaption>
          <blockquote>{note[1]}</blockquote>
        </figure>
      )}
      {children}
    </section>
  );
}

/** The countdown source of `meeting` and its version, kept current. */
function useEnding(meeting: AnyMeeting | null | undefined): EndingSource | null {
  const source = meeting ? endingSource(meeting) : null;
  const subscribe = useCallback((f: () => void) => (source ? source.subscribe(f) : none()), [source]);
  const read = () => source?.version ?? -1;
  useSyncExternalStore(subscribe, read, read);
  return source;
}

/**
 * The countdown to the end of the session running now — `{sessionId, endsAt, remainingMs, reason, endedBy?,
 * message?}` — or `null`; re-renders when one starts, is cancelled or ends (not at every tick: `remainingMs` is as
 * of its arrival; `sessionEnding(meeting)` gives it as of now, {@link SessionEndingBanner} shows it ticking). Always
 * `null` for a RealtimeKit meeting.
 *
 * @example
 * const ending = useSessionEnding(meeting);
 * return ending && <p>Ends at {new Date(ending.endsAt).toLocaleTimeString()}</p>;
 */
export function useSessionEnding(meeting: AnyMeeting | null | undefined): SessionEnding | null {
  return useEnding(meeting)?.ending ?? null;
}

/** Props of {@link SessionEndingBanner}. */
export interface SessionEndingBannerProps {
  meeting: AnyMeeting | null | undefined;
  className?: string;
  /** Called when this participant's Cancel failed (e.g. `ClientError` `'1201'`: the permission went meanwhile). */
  onError?(error: unknown): void;
}

/**
 * The countdown banner: while a countdown runs, who is ending the session and in how long (announced once to
 * screen readers, `role="status"`), the seconds left (ticking), their message, and a Cancel button for a participant
 * with `kick_participant`; after a cancel, who cancelled it. Always rendered (the status region must exist before
 * it speaks); `data-state` is `idle`, `ending` or `cancelled`. Class names: `endsession-ending`,
 * `endsession-countdown`, `endsession-note`, `endsession-cancel-end`.
 */
export function SessionEndingBanner({ meeting, className, onError }: SessionEndingBannerProps) {
  const source = useEnding(meeting);
  const ending = source?.ending ?? null;
  const deadline = source?.deadline ?? null;
  const [now, setNow] = useState(() => Date.now());
  const [error, setError] = useState('');
  useEffect(() => {
    setError('');
    if (deadline === null) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [deadline]);
  const cancelled = !ending ? (source?.cancelled ?? null) : null;
  const state = ending ? 'ending' : cancelled ? 'cancelled' : 'idle';
  const note = ending && endingNote(ending);
  const cancel = async () => {
    setError('');
    try {
      await source?.cancel();
    } catch (e) {
      setError(e instanceof Error ? e.message.split('\n').pop()! : String(e));
      onError?.(e);
    }
  };
  return (
    <div className={['endsession-ending', className].filter(Boolean).join(' ')} data-state={state}>
      <div role="status" aria-live="polite" className="endsession-ending-status">
        {ending && (
          <>
            <p>{endingText(ending, Math.ceil(ending.remainingMs / 1000))}</p>
            {note && (
              <figure className="endsession-note">
                <figcaption>{note[0]}</figcaption>
                <blockquote>{note[1]}</blockquote>
              </figure>
            )}
          </>
        )}
        {cancelled && <p>{cancelledText(cancelled.cancelledBy)}</p>}
      </div>
      {ending && deadline !== null && (
        <p className="endsession-countdown">
          <time dateTime={ending.endsAt}>{countdownText(secondsLeft(deadline, now))}</time>
        </p>
      )}
      {ending && source?.canCancel && (
        <button type="button" className="endsession-cancel-end" onClick={cancel}>
          {CANCEL_END}
        </button>
      )}
      {ending && error && (
        <p className="endsession-cancel-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
