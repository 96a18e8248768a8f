// A strict TypeScript consumer of every export of the packed package, type-checked (never run) with
// `moduleResolution` `bundler` and `node16` by js/tests/package.test.mjs. Each line uses the types as an app would;
// a missing or mistyped export fails the check.
import {
  canEndSession,
  ClientError,
  initMeeting,
  kickAll,
  on,
  type AnyMeeting,
  type ClientErrorCode,
  type KickAllResult,
  type LeaveRoomState,
  type Meeting,
  type RealtimeKitLikeMeeting,
} from 'endsession';
import { endStateSource, leaveStateOf, type EndState, type EndStateSource } from 'endsession/end-state';
import {
  EndMeetingButton,
  MeetingEndedScreen,
  useCanEndSession,
  useEndSession,
  useRoomLeft,
  type EndMeetingButtonProps,
} from 'endsession/react';
import { injectCanEndSession, injectEndSession, injectRoomLeft } from 'endsession/angular';
import { EndMeetingButtonElement, MeetingEndedScreenElement } from 'endsession/element';
import { verifyWebhook } from 'endsession/webhooks';

export async function endForAll(authToken: string): Promise<KickAllResult | null> {
  const meeting: Meeting = await initMeeting({ authToken, baseURI: 'http://127.0.0.1:8787' });
  await meeting.join();
  const allowed: boolean = canEndSession(meeting);
  const off: () => void = on(meeting, 'roomLeft', ({ state }) => {
    const left: LeaveRoomState = state;
    console.log(left);
  });
  try {
    return allowed ? await kickAll(meeting, { timeoutMs: 5000 }) : null;
  } catch (e) {
    if (e instanceof ClientError) {
      const code: ClientErrorCode = e.code;
      console.log(code, e.message);
    }
    return null;
  } finally {
    off();
  }
}

export function state(meeting: AnyMeeting | RealtimeKitLikeMeeting): EndState {
  const source: EndStateSource = endStateSource(meeting);
  const left: ReturnType<typeof leaveStateOf> = leaveStateOf(source.state);
  return left ?? source.state;
}

export function Controls({ meeting }: { meeting: Meeting | null }) {
  const { state, canEnd, kickAll } = useEndSession(meeting);
  const can: boolean = useCanEndSession(meeting);
  const left = useRoomLeft(meeting);
  const props: EndMeetingButtonProps = { meeting, onEnded: (r: KickAllResult) => console.log(r.sessionId) };
  return (
    <div
      data-state={state}
      data-can={String(can && canEnd)}
      data-left={left ?? ''}
      onClick={() => void kickAll()}
    >
      <EndMeetingButton {...props}>End for all</EndMeetingButton>
      <MeetingEndedScreen meeting={meeting}>
        <button type="button">Join again</button>
      </MeetingEndedScreen>
    </div>
  );
}

export function angular(meeting: () => Meeting | null) {
  const end = injectEndSession(meeting);
  const s: EndState = end.state();
  return [s, end.canEnd(), injectCanEndSession(meeting)(), injectRoomLeft(meeting)()] as const;
}

export function elements(meeting: Meeting) {
  const button: EndMeetingButtonElement = document.createElement('end-meeting-button');
  const screen: MeetingEndedScreenElement | null = document.querySelector('meeting-ended-screen');
  button.meeting = meeting;
  if (screen) screen.meeting = meeting;
  button.open();
}

export const verified: boolean = verifyWebhook('{}', 'sig', '-----BEGIN PUBLIC KEY-----');
