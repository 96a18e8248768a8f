// Node 20 smoke test of the built package (run `npm run build` first): `node --test js/tests/*.test.mjs`.
// Imports `endsession` by its package name, so it goes through package.json `exports` to dist/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canEndSession, ClientError, initMeeting, kickAll, on } from 'endsession';
import { endStateSource } from 'endsession/end-state';

const options = { authToken: 'not-a-real-token', baseURI: 'http://127.0.0.1:9' };

test('the wasm module loads and a new meeting is not joined', async () => {
  const meeting = await initMeeting(options);
  assert.equal(meeting.self.roomState, 'init');
  assert.equal(meeting.self.permissions.kickParticipant, false);
  assert.equal(canEndSession(meeting), false);
  assert.equal(meeting.self.id, '');
  assert.equal(meeting.meta.meetingId, '');
  assert.equal(meeting.participants.joined.size, 0);
  assert.deepEqual(meeting.participants.joined.toArray(), []);
});

test('kickAll on a meeting that has not joined rejects with ClientError 1205', async () => {
  const meeting = await initMeeting(options);
  const error = await kickAll(meeting).then(
    () => assert.fail('kickAll resolved'),
    (e) => e,
  );
  assert.ok(error instanceof ClientError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'ClientError');
  assert.equal(error.code, '1205');
  assert.equal(
    error.message,
    '[ERR1205]: {Participant} Action not permitted without joining room\nCan`t kick all without joining room',
  );
  await assert.rejects(meeting.participants.kickAll(), { code: '1205' });
});

test('join to an unreachable server rejects with 4900 and emits roomLeft failed', async () => {
  const meeting = await initMeeting(options);
  const states = [];
  const off = on(meeting, 'roomLeft', ({ state }) => states.push(state));
  assert.equal(typeof off, 'function');
  await assert.rejects(meeting.join(), (e) => e instanceof ClientError && e.code === '4900');
  assert.deepEqual(states, ['failed']);
  assert.equal(meeting.self.roomState, 'failed');
  off();
});

test("our meeting's gate is its end state's `allowed` in every state reached here (init, joining, failed, left)", async () => {
  const meeting = await initMeeting(options);
  const end = endStateSource(meeting);
  const check = (label) => assert.equal(canEndSession(meeting), end.state === 'allowed', label);
  check('init');
  const joining = meeting.join();
  check('joining');
  await assert.rejects(joining, { code: '4900' });
  check('failed');
  await meeting.leave();
  check('after leave');
  // Joined, disconnected and ended against a real server: cloudflare-sdk.test.mjs and tests/e2e/end-gate.spec.ts.
});

test('bad arguments are TypeErrors', async () => {
  await assert.rejects(initMeeting({ baseURI: 'http://127.0.0.1:9' }), TypeError);
  await assert.rejects(initMeeting({ authToken: 't' }), TypeError);
  assert.throws(() => canEndSession({ self: { permissions: { kickParticipant: true } } }), TypeError);
});
