// The same misread options on a RealtimeKit-shaped meeting (no server). README "Use it": "A RealtimeKit
// meeting has none of these: `kickAll` with `message`, `lock: true` or `graceSeconds` > 0 rejects with `'4904'`"
// and "Options of the wrong type reject with `'4220'` before anything is sent".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientError, kickAll } from 'endsession';
import { fakeMeeting } from './fake-meeting.mjs';

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

// Once a fault (fixed): a grace written positionally (kickAll(meeting, 30)) or options of another type make RealtimeKit
// end the meeting for everyone at once.
test('kickAll(realtimeKitMeeting, 30 | "30" | [30] | true) is refused and RealtimeKit is not asked', async () => {
  const asked = [];
  for (const options of [30, '30', [30], true]) {
    const m = fakeMeeting({ kick: true, roomState: 'joined' });
    const result = kickAll(m, options).catch((e) => e);
    await settle();
    const kicks = m.takeKicks();
    if (kicks.length) {
      asked.push(JSON.stringify(options));
      kicks[0].resolve();
      m.leave('ended');
    } else {
      const error = await result;
      assert.ok(error instanceof ClientError && ['4220', '4904'].includes(error.code), String(error));
    }
  }
  assert.deepEqual(asked, [], 'RealtimeKit was asked to end the meeting for these options');
});

// Once a fault (fixed): js/index.ts "A RealtimeKit meeting has none of these: any option but `lock: false` and
// `graceSeconds: 0` rejects with `'4904'` and nothing is sent" — a misspelt grace (`grace_seconds`, the REST
// spelling) is dropped and RealtimeKit ends the meeting now.
test('kickAll(realtimeKitMeeting, {grace_seconds: 30}) is refused and RealtimeKit is not asked', async () => {
  const m = fakeMeeting({ kick: true, roomState: 'joined' });
  const result = kickAll(m, { grace_seconds: 30 }).catch((e) => e);
  await settle();
  const kicks = m.takeKicks();
  if (kicks.length) {
    kicks[0].resolve();
    m.leave('ended');
  }
  assert.equal(kicks.length, 0, `RealtimeKit was asked to end the meeting: ${JSON.stringify(await result)}`);
  const error = await result;
  // An option the client cannot read at all is '4220' on either kind of meeting (README "End options").
  assert.ok(error instanceof ClientError && error.code === '4220', String(error));
});
