/**
 * The words the bindings and the demo show, in one place: why the end button is disabled, and the ended screen per
 * leave state and reason (RealtimeKit's `rtk-ended-screen` messages where it has them). Re-exported by
 * `endsession/end-state` as {@link leaveText}, so that apps with their own markup show the same words.
 *
 * @module
 */
import type { EndState } from '../end-state/index.js';
import type { RoomLeftEvent } from '../events.js';

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
          ? 'The session was ended for everyone.'
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

export const LABEL = 'End meeting for all';
export const CONFIRM_TITLE = 'End the meeting for everyone?';
export const CONFIRM_TEXT = 'Every participant leaves now. They can join again and start a new session.';
export const CONFIRM = 'End for all';
export const CANCEL = 'Cancel';
