'use client';
/**
 * `endsession/react`: hooks and two components over the meeting's end state, built on `useSyncExternalStore`, so a
 * live permission change re-renders (RealtimeKit's `useRealtimeKitSelector` does not: it never subscribes to
 * `self.permissions`). Every hook takes our meeting or a RealtimeKit one, or `null` while it is being created.
 *
 * @example
 * import { EndMeetingButton, MeetingEndedScreen, useEndSession } from 'endsession/react';
 * function Controls({ meeting }) {
 *   const { state } = useEndSession(meeting);
 *   return (
 *     <>
 *       <EndMeetingButton meeting={meeting} />
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
import type { AnyMeeting } from '../index.js';
import type { KickAllResult } from '../meeting.js';
import { openModal, takeEndFocus, trackEndFocus, trapTab } from '../ui/dialog.js';
import {
  CANCEL,
  CONFIRM,
  CONFIRM_TEXT,
  CONFIRM_TITLE,
  disabledReason,
  LABEL,
  leaveText,
} from '../ui/text.js';

export type { EndState };
export type { AnyMeeting };

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
  /** Ends the session for everyone; rejects with `ClientError` `'1201'` / `'1205'`. */
  kickAll(): Promise<KickAllResult | void>;
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
    () => (source ? source.kickAll() : Promise.reject(new TypeError('endsession: no meeting yet'))),
    [source],
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
  onEnded?(result: KickAllResult | void): void;
  onError?(error: unknown): void;
}

/**
 * "End meeting for all": disabled with the reason shown unless allowed; a modal confirmation (focus on Cancel,
 * Tab stays inside, Esc cancels) before the end. Class names: `endsession-button`, `endsession-reason`,
 * `endsession-dialog`, `endsession-confirm`, `endsession-cancel`; `data-state` carries the end state.
 */
export function EndMeetingButton({ meeting, children, className, onEnded, onError }: EndMeetingButtonProps) {
  const { state, canEnd, kickAll } = useEndSession(meeting);
  // The error of the last end: shown until the end state comes back to `allowed` after having left it for another
  // state than `ending` (a reconnect, the permission back: what failed before is not true after). Not tied to the
  // state at the moment of failure: the answer and the state change it brings arrive in either order.
  const [failed, setFailed] = useState<{ error: string; away: boolean } | null>(null);
  const error = failed?.error ?? '';
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const id = useId();
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
  const confirm = async () => {
    dialog.current?.close();
    try {
      const result = await kickAll(); // not inside `onEnded?.(…)`: without onEnded it would never run
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
        <p id={`${id}-text`}>{CONFIRM_TEXT}</p>
        <div className="endsession-actions">
          <button
            ref={cancel}
            type="button"
            className="endsession-cancel"
            onClick={() => dialog.current?.close()}
          >
            {CANCEL}
          </button>
          <button type="button" className="endsession-confirm" onClick={confirm}>
            {CONFIRM}
          </button>
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
      {children}
    </section>
  );
}
