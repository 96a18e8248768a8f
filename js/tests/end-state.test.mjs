// The reactive end state (`endsession/end-state`) in Node 20, on our meeting and on a RealtimeKit-shaped one.
// Run after `npm run build`: `node --test js/tests/*.test.mjs`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initMeeting } from 'endsession';
import { endStateSource, leaveStateOf } from 'endsession/end-state';
import { fakeMeeting } from './fake-meeting.mjs';

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

const loaded = () => initMeeting({ authToken: 't', baseURI: 'http://127.0.0.1:9' });

test('our meeting: not-joined, then the leave state, with one notification per change', async () => {
  const meeting = await loaded();
  const end = endStateSource(meeting);
  assert.equal(end, endStateSource(meeting), 'one source per meeting');
  assert.equal(end.state, 'not-joined');
  assert.equal(end.roomLeft, null);
  const seen = [];
  const off = end.subscribe(() => seen.push(end.state));
  await assert.rejects(meeting.join(), { code: '4900' });
  assert.deepEqual(seen, ['failed']);
  assert.equal(end.roomLeft, 'failed');
  assert.equal(meeting.self.roomState, 'failed');
  off();
  await assert.rejects(end.kickAll(), { code: '1205' });
});

test('a RealtimeKit-shaped meeting goes through every state', async () => {
  await loaded(); // the module is loaded: the state is derived at once
  const m = fakeMeeting();
  const end = endStateSource(m);
  const seen = [];
  const off = end.subscribe(() => seen.push(end.state));
  assert.equal(end.state, 'not-joined');
  m.join();
  m.grant(true);
  m.grant(true); // no change, no notification
  const kick = end.kickAll();
  (await m.nextKick()).resolve();
  await settle();
  assert.equal(end.state, 'ending', 'RealtimeKit resolves before the server acted: ending until roomLeft');
  m.leave('ended');
  assert.equal((await kick).alreadyEnded, false, 'kickAll resolves with roomLeft ended');
  assert.deepEqual(seen, ['no-permission', 'allowed', 'ending', 'ended']);
  assert.equal(end.roomLeft, 'ended');
  off();
  assert.equal(m.self.count() + m.self.permissions.count(), 0, 'listeners detached with the last subscriber');
});

test('a refused kickAll goes back, disconnected reads not-joined, and every leave state is kept', async () => {
  await loaded();
  const m = fakeMeeting({ roomState: 'joined', kick: true });
  const end = endStateSource(m);
  const seen = [];
  end.subscribe(() => seen.push(end.state));
  const kick = end.kickAll();
  (await m.nextKick()).reject(Object.assign(new Error('no'), { code: '1201' }));
  await assert.rejects(kick, { code: '1201', message: 'no' });
  m.leave('disconnected');
  m.join();
  m.grant(false);
  for (const state of ['kicked', 'left', 'rejected', 'failed']) m.leave(state);
  assert.deepEqual(seen, [
    'ending',
    'allowed',
    'not-joined',
    'allowed',
    'no-permission',
    'kicked',
    'left',
    'rejected',
    'failed',
  ]);
  assert.equal(leaveStateOf('allowed'), null);
  assert.equal(leaveStateOf('ended'), 'ended');
});

test('anything else is a TypeError', () => {
  assert.throws(() => endStateSource({}), TypeError);
  assert.throws(() => endStateSource(null), TypeError);
});
