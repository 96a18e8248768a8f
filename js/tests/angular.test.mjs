// `endsession/angular` in Node 20 with the real @angular/core: signals follow the end state, and the
// subscription ends with the injector (DestroyRef). The signal-input form runs in the demo's zoneless app
// (tests/e2e/demo.spec.ts). Run after `npm run build`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvironmentInjector, Injector, runInInjectionContext } from '@angular/core';
import {
  injectCanEndSession,
  injectEndSession,
  injectRoomLeft,
  injectSessionEnding,
} from 'endsession/angular';
import { initMeeting } from 'endsession';
import { fakeMeeting } from './fake-meeting.mjs';

const loaded = () => initMeeting({ authToken: 't', baseURI: 'http://127.0.0.1:9' });

test('injectEndSession: signals follow a RealtimeKit-shaped meeting, and stop with DestroyRef', async () => {
  await loaded();
  const m = fakeMeeting();
  const injector = createEnvironmentInjector([], Injector.NULL);
  const end = runInInjectionContext(injector, () => injectEndSession(m));
  const can = runInInjectionContext(injector, () => injectCanEndSession(m));
  const left = runInInjectionContext(injector, () => injectRoomLeft(m));
  assert.equal(end.state(), 'not-joined');
  m.join();
  assert.equal(end.state(), 'no-permission');
  m.grant(true);
  assert.deepEqual([end.state(), end.canEnd(), can()], ['allowed', true, true]);
  const kick = end.kickAll();
  assert.equal(end.state(), 'ending');
  (await m.nextKick()).resolve();
  m.leave('ended');
  await kick;
  assert.deepEqual([end.state(), end.roomLeft(), left(), end.canEnd()], ['ended', 'ended', 'ended', false]);
  injector.destroy();
  assert.equal(m.self.count() + m.self.permissions.count(), 0, 'every listener removed on destroy');
});

test('injectEndSession: our meeting, and no meeting yet', async () => {
  const meeting = await loaded();
  const injector = createEnvironmentInjector([], Injector.NULL);
  const end = runInInjectionContext(injector, () => injectEndSession(meeting));
  const none = runInInjectionContext(injector, () => injectEndSession(null));
  assert.equal(end.state(), 'not-joined');
  await assert.rejects(meeting.join(), { code: '4900' });
  assert.equal(end.state(), 'failed');
  assert.equal(end.roomLeft(), 'failed');
  assert.equal(none.state(), 'not-joined');
  await assert.rejects(none.kickAll(), TypeError);
  await assert.rejects(end.kickAll(), { code: '1205' });
  injector.destroy();
});

// Issue 13: the countdown as signals. A running countdown, its ticking and Cancel are checked on the demo's Angular
// panel against the real server (tests/e2e/end-options.spec.ts); here what holds without one.
test('injectSessionEnding: a RealtimeKit meeting never counts down, canCancel follows the permission, listeners go on destroy', async () => {
  await loaded();
  const m = fakeMeeting({ roomState: 'joined' });
  const injector = createEnvironmentInjector([], Injector.NULL);
  const ending = runInInjectionContext(injector, () => injectSessionEnding(m));
  const end = runInInjectionContext(injector, () => injectEndSession(m));
  assert.deepEqual([ending.ending(), ending.secondsLeft(), ending.cancelled()], [null, null, null]);
  assert.equal(ending.canCancel(), false);
  m.grant(true);
  assert.equal(ending.canCancel(), true);
  assert.equal(end.takesEndOptions(), false, 'a RealtimeKit meeting: End now only');
  assert.deepEqual(await ending.cancel(), { cancelled: false });
  injector.destroy();
  assert.equal(m.self.count() + m.self.permissions.count(), 0, 'every listener removed on destroy');
});

test('injectSessionEnding: our meeting takes end options; Cancel outside the room is 1205; no meeting yet', async () => {
  const meeting = await loaded();
  const injector = createEnvironmentInjector([], Injector.NULL);
  const end = runInInjectionContext(injector, () => injectEndSession(meeting));
  const ending = runInInjectionContext(injector, () => injectSessionEnding(meeting));
  const none = runInInjectionContext(injector, () => injectSessionEnding(null));
  assert.equal(end.takesEndOptions(), true);
  assert.deepEqual([ending.ending(), ending.secondsLeft(), ending.canCancel()], [null, null, false]);
  await assert.rejects(ending.cancel(), { code: '1205' });
  await assert.rejects(none.cancel(), TypeError);
  injector.destroy();
});
