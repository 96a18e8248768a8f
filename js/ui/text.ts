/**
 * The words the bindings show, in one place: why the end button is disabled, and the ended screen per leave state
 * (RealtimeKit's `rtk-ended-screen` messages where it has them).
 *
 * @module
 */
import type { EndState } from '../end-state/index.js';

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

/** Title and message of the ended screen, per leave state. */
export const LEAVE_TEXT: Record<
  Exclude<EndState, 'allowed' | 'no-permission' | 'not-joined' | 'ending'>,
  [string, string]
> = {
  ended: ['The meeting ended.', 'The session was ended for everyone.'],
  kicked: ['You were removed from the meeting.', 'A host removed you from this session.'],
  left: ['You left the meeting.', 'The session goes on for the others.'],
  rejected: ['You could not join.', 'The meeting is not open for joining.'],
  failed: ['Connection lost.', 'Reconnecting failed. Check your network and join again.'],
};

export const LABEL = 'End meeting for all';
export const CONFIRM_TITLE = 'End the meeting for everyone?';
export const CONFIRM_TEXT = 'Every participant leaves now. They can join again and start a new session.';
export const CONFIRM = 'End for all';
export const CANCEL = 'Cancel';
