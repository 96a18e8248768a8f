// The root functions on a RealtimeKit-shaped meeting in Node 20 (no DOM): the gate, kickAll's checks, waiting,
// errors and timeout, and `on`. The real @cloudflare/realtimekit runs in tests/e2e/realtimekit.spec.ts.
// Run after `npm run build`: `node --test js/tests/*.test.mjs`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canEndSession, ClientError, kickAll, on } from 'endsession';
import { fakeMeeting } from './fake-meeting.mjs';

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

test('the gate needs the permission and the room', () => {
  const m = fakeMeeting({ kick: true });
  assert.equal(canEndSession(m), false, 'a host before joining');
  m.join();
  assert.equal(canEndSession(m), true);
  m.grant(false);
  assert.equal(canEndSession(m), false);
  m.grant(true);
  m.leave('ended');
  assert.equal(canEndSession(m), false);
});

test('the gate of a RealtimeKit meeting is unchanged: permission and roomState joined, so not while disconnected', () => {
  const m = fakeMeeting({ kick: true, roomState: 'joined' });
  assert.equal(canEndSession(m), true);
  for (const state of ['disconnected', 'left', 'kicked', 'ended', 'waitlisted', 'init']) {
    m.self.roomState = state;
    assert.equal(canEndSession(m), false, state);
  }
  m.self.roomState = 'joined';
  assert.equal(canEndSession(m), true, 'back in the room');
});

test('kickAll: 1205 before joining and after leaving, without asking RealtimeKit', async () => {
  const m = fakeMeeting({ kick: true });
  await assert.rejects(kickAll(m), (e) => e instanceof ClientError && e.code === '1205');
  m.join();
  m.leave('ended');
  const error = await kickAll(m).catch((e) => e);
  assert.equal(error.code, '1205');
  assert.equal(
    error.message,
    '[ERR1205]: {Participant} Action not permitted without joining room\nCan`t kick all without joining room',
  );
  assert.equal(m.takeKicks().length, 0);
});

test("kickAll: RealtimeKit's error becomes ours, with its code and message", async () => {
  const m = fakeMeeting({ roomState: 'joined' });
  const kick = kickAll(m);
  const theirs = Object.assign(new Error('[ERR1201]: {Participant} Permission denied\nUnauthorized'), {
    name: 'ClientError',
    code: '1201',
  });
  (await m.nextKick()).reject(theirs);
  const error = await kick.catch((e) => e);
  assert.ok(error instanceof ClientError);
  assert.deepEqual([error.code, error.message, error.cause], ['1201', theirs.message, theirs]);
  assert.equal(m.self.count(), 0, 'the roomLeft listener is removed');
});

test('kickAll: resolves on roomLeft ended, not before; concurrent calls share it', async () => {
  const m = fakeMeeting({ roomState: 'joined', kick: true });
  let resolved = false;
  const kick = kickAll(m).then((r) => ((resolved = true), r));
  const again = kickAll(m);
  (await m.nextKick()).resolve();
  await settle();
  assert.equal(m.takeKicks().length, 0, 'RealtimeKit asked once');
  m.leave('disconnected'); // a dropped socket is not the end: keep waiting
  await settle();
  assert.equal(resolved, false, "RealtimeKit's call resolved, the session has not ended yet");
  m.join();
  m.leave('ended');
  assert.deepEqual(await kick, { sessionId: '', kickedCount: 1, alreadyEnded: false });
  assert.equal(await again, await kick, 'the concurrent call gets the same result');
  assert.equal(m.self.count(), 0);
});

test('kickAll: 4902 when the room is left otherwise, 4903 after timeoutMs', async () => {
  const m = fakeMeeting({ roomState: 'joined', kick: true });
  const kick = kickAll(m);
  (await m.nextKick()).resolve();
  m.leave('kicked');
  await assert.rejects(kick, { code: '4902' });
  m.join();
  const started = Date.now();
  const error = await kickAll(m, { timeoutMs: 50 }).catch((e) => e);
  assert.ok(error instanceof ClientError);
  assert.equal(error.code, '4903');
  assert.match(error.message, /^\[ERR4903\]: /);
  assert.ok(Date.now() - started >= 45);
  assert.equal(m.self.count(), 0);
});

test('on: the same emitters as RealtimeKit', () => {
  const m = fakeMeeting();
  const seen = [];
  const offLeft = on(m, 'roomLeft', ({ state }) => seen.push(state));
  const offPerm = on(m, 'permissionsUpdate', ({ kickParticipant }) => seen.push(kickParticipant));
  m.join();
  m.grant(true);
  m.leave('kicked');
  offLeft();
  offPerm();
  m.leave('left');
  assert.deepEqual(seen, [true, 'kicked']);
  assert.equal(m.self.count() + m.self.permissions.count(), 0);
});
