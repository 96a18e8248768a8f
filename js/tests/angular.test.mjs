// `endsession/angular` in Node 20 with the real @angular/core: signals follow the end state, and the
// subscription ends with the injector (DestroyRef). The signal-input form runs in the demo's zoneless app
// (tests/e2e/demo.spec.ts). Run after `npm run build`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvironmentInjector, Injector, runInInjectionContext } from '@angular/core';
import { injectCanEndSession, injectEndSession, injectRoomLeft } from 'endsession/angular';
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
