/**
 * The words the bindings and the demo show, in one place: why the end button is disabled, the confirmation dialog and
 * its end options, the countdown banner, and the ended screen per leave state and reason (RealtimeKit's
 * `rtk-ended-screen` messages where it has them), with who ended it and their message. Re-exported by
 * `endsession/end-state` ({@link leaveText}, {@link endNote}, {@link endingText}, ...), so that apps with their own
 * markup show the same words.
 *
 * @module
 */
import type { EndState } from '../end-state/index.js';
import type { RoomLeftEvent } from '../events.js';
import type { EndedBy, SessionEnding } from '../index.js';

/** Why "End meeting for all" cannot be pressed now; empty when it can. */
export function disabledReason(state: EndState): string {
  switch (state) {
    case 'allowed':
      return '';
    case 'no-permission':
      return 'Your role cannot end the meeting for everyone.';
    case 'not-joined':
      return 'Join the meeting to end it.';
    case 'ending':
      return 'Ending the meeting for everyone…';
    default:
      return 'You are not in the meeting.';
  }
}

/** A refused join, by the server's error code (`ErrorCode` in the protocol crate). */
const REJECTED: Record<string, string> = {
  '4010': 'Your link to this meeting is not valid or has expired.',
  '4030': 'The meeting is closed: nobody can join it now.',
  '4040': 'This meeting no longer exists.',
  '4050': 'This page is out of date. Reload it and join again.',
  '4290': 'The meeting is open in too many tabs or windows. Close one and join again.',
};

/**
 * Title and message of the ended screen for a `roomLeft` payload: true for each leave state and, for an end, each
 * reason — `HOST_ENDED_MEETING` was ended for everyone; `ALL_PARTICIPANTS_LEFT` ended because everyone had left
 * (never "ended for everyone"); `NO_HOST` ended because no host was left (the meeting's
 * `end_when_no_host_after_secs`); `rejected` gives the server's why. A payload with only `{state}` (RealtimeKit's)
 * gets words that hold whatever the reason.
 *
 * @example
 * meeting.self.on('roomLeft', (left) => ([title.textContent, text.textContent] = leaveText(left)));
 */
export function leaveText(left: Pick<RoomLeftEvent, 'state'> & Partial<RoomLeftEvent>): [string, string] {
  switch (left.state) {
    case 'ended':
      return [
        'The meeting ended.',
        left.reason === 'HOST_ENDED_MEETING'
          ? left.endedBy
            ? `${endedByName(left.endedBy)} ended the session for everyone.`
            : 'The session was ended for everyone.'
          : left.reason === 'ALL_PARTICIPANTS_LEFT'
            ? 'The session ended because everyone left.'
            : left.reason === 'NO_HOST'
              ? 'The session ended because no host was left in it.'
              : 'This session is over.',
      ];
    case 'kicked':
      return ['You were removed from the meeting.', 'A host removed you from this session.'];
    case 'left':
      return ['You left the meeting.', 'The session goes on for the others.'];
    case 'rejected':
      return [
        'You could not join.',
        REJECTED[left.code ?? ''] ?? left.message ?? 'The meeting is not open for joining.',
      ];
    case 'disconnected':
      return ['Connection lost.', 'Reconnecting…'];
    case 'failed':
      return ['Connection lost.', 'Reconnecting failed. Check your network and join again.'];
  }
}

/**
 * Who ended (or is ending) the session, as a sentence starts: the participant's name, or "The meeting's organiser"
 * for `{api: true}` (the app's backend, through the REST API: the people in the meeting know it as whoever set it
 * up). A participant with an empty name is "A host".
 */
export function endedByName(by: EndedBy): string {
  return 'api' in by ? "The meeting's organiser" : by.name.trim() || 'A host';
}

/**
 * The message the one who ended the session left for everyone, with whom it is from, e.g. `['Message from Ada',
 * 'Thanks all!']`; `null` without a message (and for every leave state but `ended`).
 */
export function endNote(
  left: Partial<Pick<RoomLeftEvent, 'state' | 'message' | 'endedBy'>>,
): [string, string] | null {
  if (left.state !== 'ended' || !left.message) return null;
  return [messageFrom(left.endedBy), left.message];
}

function messageFrom(by: EndedBy | undefined): string {
  return by ? `Message from ${'api' in by ? "the meeting's organiser" : endedByName(by)}` : 'Message';
}

/** Whole seconds left until `deadline` (a `Date.now()` time), rounded up, never below 0. */
export function secondsLeft(deadline: number, now = Date.now()): number {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/**
 * The countdown banner's sentence: who is ending the session and when, e.g. "Ada is ending the meeting for everyone
 * in 30 s." (`NO_HOST`: no host is left, so it ends by itself).
 */
export function endingText(ending: Pick<SessionEnding, 'reason' | 'endedBy'>, seconds: number): string {
  if (ending.reason === 'NO_HOST') return `No host is left: the meeting ends for everyone in ${seconds} s.`;
  const who = ending.endedBy ? endedByName(ending.endedBy) : 'A host';
  return `${who} is ending the meeting for everyone in ${seconds} s.`;
}

/** The countdown's ticking line, e.g. "Ends in 27 s". */
export function countdownText(seconds: number): string {
  return `Ends in ${seconds} s`;
}

/** The message of a countdown, with whom it is from; `null` without one. */
export function endingNote(ending: Pick<SessionEnding, 'message' | 'endedBy'>): [string, string] | null {
  return ending.message ? [messageFrom(ending.endedBy), ending.message] : null;
}

/** What the banner says (to screen readers) once a countdown was cancelled. */
export function cancelledText(by?: EndedBy): string {
  return by
    ? `${endedByName(by)} cancelled the end. The meeting goes on.`
    : 'The end was cancelled. The meeting goes on.';
}

/** The dialog's delayed end: "End in 30 s". */
export function endLaterLabel(graceSeconds: number): string {
  return `End in ${graceSeconds} s`;
}

/** The server's limit on an end message (`MAX_END_MESSAGE_CHARS`), in characters. */
export const MAX_MESSAGE_CHARS = 500;

export const LABEL = 'End meeting for all';
export const CONFIRM_TITLE = 'End the meeting for everyone?';
export const CONFIRM_TEXT = 'Every participant leaves now. They can join again and start a new session.';
/** The dialog's text when a countdown is offered too. */
export const CONFIRM_TEXT_LATER =
  'Every participant leaves, now or after a countdown they all see (a host can cancel it). They can join again unless you lock the meeting.';
export const CONFIRM = 'End now';
export const CANCEL = 'Cancel';
export const MESSAGE_LABEL = 'Message to everyone (optional)';
export const LOCK_LABEL = 'Lock the meeting';
export const LOCK_HINT = 'Nobody can join it again until it is reopened.';
export const CANCEL_END = 'Cancel the end';
export const ENDING_TITLE = 'The meeting is ending';
