// Why the room was left reaches the page (issue 10, fault 7): the `roomLeft` payload, the end-state source's
// `leave`, and `leaveText`, the words every ended screen shows. Run after `npm run build`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initMeeting, on } from 'endsession';
import { endStateSource, leaveText } from 'endsession/end-state';
import { fakeMeeting } from './fake-meeting.mjs';

test('leaveText says something true for every state and reason', () => {
  const host = leaveText({ state: 'ended', reason: 'HOST_ENDED_MEETING' });
  assert.match(host.join(' '), /ended for everyone/);
  const everyone = leaveText({ state: 'ended', reason: 'ALL_PARTICIPANTS_LEFT' });
  assert.match(everyone.join(' '), /everyone left/);
  assert.doesNotMatch(everyone.join(' '), /for everyone/, 'nobody ended it for everyone');
  const noHost = leaveText({ state: 'ended', reason: 'NO_HOST' }).join(' ');
  assert.match(noHost, /no host/);
  assert.doesNotMatch(noHost, /for everyone|everyone left/, 'nobody ended it, and people were still there');
  const unknown = leaveText({ state: 'ended', reason: null }).join(' ');
  assert.doesNotMatch(unknown, /for everyone|everyone left/, 'no reason claimed without one');
  assert.match(unknown, /ended/);
  assert.match(leaveText({ state: 'kicked' }).join(' '), /removed/);
  assert.match(leaveText({ state: 'left' }).join(' '), /You left/);
  assert.match(leaveText({ state: 'disconnected' }).join(' '), /Reconnecting/);
  assert.match(leaveText({ state: 'failed' }).join(' '), /Reconnecting failed/);
  // Rejected: the server's why, per code, else its message.
  const why = (code, message) => leaveText({ state: 'rejected', code, message })[1];
  assert.match(why('4030', 'meeting is INACTIVE'), /closed/);
  assert.match(why('4010', 'bad token'), /not valid or has expired/);
  assert.match(why('4040', 'gone'), /no longer exists/);
  assert.match(why('4290', 'too many'), /too many tabs/);
  assert.equal(why(undefined, 'the token was refreshed'), 'the token was refreshed');
  assert.equal(why('4000', 'frame too odd'), 'frame too odd');
  assert.match(why(), /not open for joining/);
  const states = ['ended', 'kicked', 'left', 'rejected', 'disconnected', 'failed'];
  for (const state of states) {
    const [title, message] = leaveText({ state });
    assert.ok(title && message, state);
  }
  assert.equal(
    new Set(states.map((state) => leaveText({ state }).join())).size,
    states.length,
    'each state has words of its own',
  );
});

test('the roomLeft payload carries the state, the session and the reason; the source keeps it', async () => {
  const meeting = await initMeeting({ authToken: 't', baseURI: 'http://127.0.0.1:9' });
  const end = endStateSource(meeting);
  assert.equal(end.leave, null, 'not left yet');
  const seen = [];
  on(meeting, 'roomLeft', (payload) => seen.push(payload));
  const off = end.subscribe(() => {});
  await assert.rejects(meeting.join(), { code: '4900' });
  assert.deepEqual(seen, [{ state: 'failed', sessionId: '', reason: null }]);
  assert.deepEqual(end.leave, { state: 'failed', sessionId: '', reason: null });
  off();
});

test('a RealtimeKit meeting: its own payload, completed with the session id', async () => {
  const m = fakeMeeting();
  m.meta = { sessionId: 's-9' };
  const end = endStateSource(m);
  const off = end.subscribe(() => {});
  m.join();
  assert.equal(end.leave, null);
  m.leave('kicked');
  assert.deepEqual(end.leave, { state: 'kicked', sessionId: 's-9', reason: null });
  off();
});

test('heartbeatTimeoutMs must be a whole number of ms, 0 or more', async () => {
  for (const bad of [-1, 1.5, NaN, '100', Infinity]) {
    await assert.rejects(
      initMeeting({ authToken: 't', baseURI: 'http://127.0.0.1:9', heartbeatTimeoutMs: bad }),
      TypeError,
      String(bad),
    );
  }
  for (const good of [0, 1, 30_000]) {
    await initMeeting({ authToken: 't', baseURI: 'http://127.0.0.1:9', heartbeatTimeoutMs: good });
  }
});
