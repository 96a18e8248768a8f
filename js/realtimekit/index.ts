/**
 * `kickAll` on a `@cloudflare/realtimekit` 2.x meeting. Internal: `kickAll(meeting)` of the root entry imports this
 * module the first time it is given a RealtimeKit meeting (bundlers make it a chunk of its own).
 *
 * @module
 */
import { ClientError, type ClientErrorCode } from '../errors.js';
import type { CancelEndResult, EndOptions, KickAllResult, RealtimeKitLikeMeeting } from '../meeting.js';

/** `'1205'` with RealtimeKit's message, for a call outside the room. */
function notJoined(): ClientError {
  const m = 'Action not permitted without joining room\nCan`t kick all without joining room';
  return new ClientError('1205', `[ERR1205]: {Participant} ${m}`);
}

/**
 * `kickAll(meeting, options)` on a RealtimeKit meeting: options that ask for more than RealtimeKit's plain end
 * (`message`, `lock: true`, `graceSeconds` > 0; RealtimeKit has none of them) reject with `'4904'` and nothing is
 * sent, as ending without what was asked (no lock, no countdown) would be worse than not ending; else
 * {@link rtkKickAll}.
 */
export function rtkKickAllWith(
  meeting: RealtimeKitLikeMeeting,
  options: EndOptions & { timeoutMs?: number } = {},
) {
  const { message, lock, graceSeconds, timeoutMs } = options;
  if (message !== undefined || (lock ?? false) !== false || (graceSeconds ?? 0) !== 0) {
    const why =
      "RealtimeKit's kickAll has no end options (message, lock, graceSeconds); call it without them";
    return Promise.reject(new ClientError('4904', `[ERR4904]: ${why}`));
  }
  return rtkKickAll(meeting, timeoutMs);
}

/** `cancelEnd(meeting)` on a RealtimeKit meeting, which has no countdown: `{cancelled: false}` in the room, else `'1205'`. */
export async function rtkCancelEnd({ self }: RealtimeKitLikeMeeting): Promise<CancelEndResult> {
  if (self.roomState !== 'joined') throw notJoined();
  return { cancelled: false };
}

const pending = new WeakMap<object, Promise<KickAllResult>>();

/**
 * `kickAll` on a RealtimeKit meeting: `'1205'` unless `roomState` is `joined` (RealtimeKit's own check lets a second
 * call through after the room was left); then RealtimeKit's call, whose errors (`'1201'`, ...) become ours; resolves
 * on `roomLeft` `ended`, rejects with `'4902'` on another final leave state, `'4903'` after `timeoutMs`. Concurrent
 * calls share one request and one result.
 */
export function rtkKickAll({ self, participants, meta }: RealtimeKitLikeMeeting, timeoutMs = 10_000) {
  let p = pending.get(self);
  if (!p) {
    p = new Promise<KickAllResult>((resolve, reject) => {
      if (self.roomState !== 'joined') throw notJoined();
      const result = { sessionId: meta?.sessionId ?? '', kickedCount: (participants.joined?.size ?? 0) + 1 };
      const done = (error?: unknown) => {
        clearTimeout(timer);
        self.off('roomLeft', onLeft);
        if (error) reject(error);
        else resolve({ ...result, alreadyEnded: false });
      };
      const onLeft = ({ state }: { state: string }) =>
        state === 'ended'
          ? done()
          : state !== 'disconnected' &&
            done(new ClientError('4902', `[ERR4902]: The room was left (${state}) before the session ended`));
      const timer = setTimeout(
        done,
        timeoutMs,
        new ClientError(
          '4903',
          `[ERR4903]: kickAll was sent, but no roomLeft 'ended' came within ${timeoutMs} ms`,
        ),
      );
      self.on('roomLeft', onLeft);
      participants
        .kickAll()
        .catch((e: Error & { code?: ClientErrorCode }) =>
          done(e?.code ? Object.assign(new ClientError(e.code, e.message), { cause: e }) : e),
        );
    }).finally(() => pending.delete(self));
    pending.set(self, p);
  }
  return p;
}
