// Issue 13's calls on a RealtimeKit-shaped meeting in Node (no server): RealtimeKit has no end options, no countdown
// and no cancel, so `kickAll` with options is refused before anything is sent (`'4904'`), `sessionEnding` is always
// null, and `cancelEnd` has nothing to cancel. Run after `npm run build`: `node --test js/tests/*.test.mjs`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cancelEnd, ClientError, kickAll, on, sessionEnding } from 'endsession';
import { fakeMeeting } from './fake-meeting.mjs';

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

test('kickAll with end options is refused with 4904 and RealtimeKit is not asked', async () => {
  for (const options of [
    { message: 'bye' },
    { lock: true },
    { graceSeconds: 30 },
    { message: '', graceSeconds: 0 },
  ]) {
    const m = fakeMeeting({ kick: true, roomState: 'joined' });
    const error = await kickAll(m, options).catch((e) => e);
    assert.ok(error instanceof ClientError, JSON.stringify(options));
    assert.equal(error.code, '4904');
    assert.match(error.message, /^\[ERR4904\]: RealtimeKit's kickAll has no end options/);
    await settle();
    assert.deepEqual(m.takeKicks(), [], `nothing sent for ${JSON.stringify(options)}`);
  }
});

test('options the client cannot read (not an object, an unknown option) are refused 4220; RealtimeKit is not asked', async () => {
  for (const options of [30, '30', [30], true, { grace_seconds: 30 }, { grace: 30 }, { timeoutMs: -1 }]) {
    const m = fakeMeeting({ kick: true, roomState: 'joined' });
    const error = await kickAll(m, options).catch((e) => e);
    assert.ok(error instanceof ClientError, JSON.stringify(options));
    assert.equal(error.code, '4220', JSON.stringify(options));
    await settle();
    assert.deepEqual(m.takeKicks(), [], `nothing sent for ${JSON.stringify(options)}`);
  }
  const error = await kickAll(fakeMeeting({ kick: true, roomState: 'joined' }), { grace_seconds: 30 }).catch(
    (e) => e,
  );
  assert.match(error.message, /unknown option `grace_seconds`/);
});

test('options that ask for the plain end are RealtimeKit’s kickAll, as are no options', async () => {
  for (const options of [undefined, null, {}, { lock: false, graceSeconds: 0 }, { timeoutMs: 5000 }]) {
    const m = fakeMeeting({ kick: true, roomState: 'joined' });
    const result = kickAll(m, options);
    const kick = await m.nextKick();
    assert.ok(kick, `RealtimeKit asked for ${JSON.stringify(options)}`);
    kick.resolve();
    m.leave('ended');
    assert.equal((await result).alreadyEnded, false);
  }
});

test('no countdown on a RealtimeKit meeting: sessionEnding is null, cancelEnd cancels nothing', async () => {
  const m = fakeMeeting({ kick: true });
  assert.equal(sessionEnding(m), null);
  await assert.rejects(cancelEnd(m), (e) => e instanceof ClientError && e.code === '1205');
  m.join();
  assert.equal(sessionEnding(m), null);
  assert.deepEqual(await cancelEnd(m), { cancelled: false });
  // Listening is allowed (RealtimeKit's self emitter never emits these).
  const off = on(m, 'sessionEnding', () => assert.fail('never emitted'));
  off();
});

test('one check for what is a meeting, one route for events', () => {
  for (const notAMeeting of [null, {}, { self: {} }, { self: { on() {} }, participants: {} }]) {
    assert.throws(() => sessionEnding(notAMeeting), TypeError);
    assert.throws(() => cancelEnd(notAMeeting), TypeError);
    assert.throws(() => on(notAMeeting, 'roomLeft', () => {}), TypeError);
  }
  assert.throws(() => on(fakeMeeting(), 'noSuchEvent', () => {}), /unknown event 'noSuchEvent'/);
});
