// A participant whose socket drops during a countdown, while the countdown is cancelled / runs out.
import { kitApi, startServer, until } from './server.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

const sockets = [];
const Orig = globalThis.WebSocket;
globalThis.WebSocket = class extends Orig {
  constructor(...a) {
    super(...a);
    sockets.push(this);
  }
};
const { initMeeting, kickAll, cancelEnd, sessionEnding, canEndSession, on } = await import('endsession');
const { endStateSource } = await import('endsession/end-state');

/**
 * Runs `scenario` against a new server with a meeting, then leaves every meeting it joined and stops the server.
 * `join(id, preset)` adds a participant, joins it with our client, and resolves `{ m, events, socket }`: the
 * meeting, the countdown and room events it got (as `[name, payload]`), and its open WebSocket (to drop it).
 */
async function inMeeting(account, scenario) {
  const token = randomBytes(16).toString('hex');
  const { baseURI, stop } = await startServer(account, token);
  const api = (method, path, body) => kitApi(baseURI, account, token, method, path, body);
  const joined = [];
  try {
    const appId = (await api('POST', '/apps', { name: account })).app.id;
    const meetingId = (await api('POST', `/${appId}/meetings`, { title: 'r' })).id;
    const join = async (id, preset) => {
      const { token: t } = await api('POST', `/${appId}/meetings/${meetingId}/participants`, {
        custom_participant_id: id,
        preset_name: preset,
        name: id,
      });
      const before = sockets.length;
      const m = await initMeeting({ authToken: t, baseURI });
      const events = [];
      for (const n of ['sessionEnding', 'sessionEndCancelled', 'roomLeft', 'roomJoined'])
        on(m, n, (p) => events.push([n, p]));
      await m.join();
      joined.push(m);
      const socket = () =>
        sockets
          .slice(before)
          .filter((s) => s.readyState === 1)
          .at(-1);
      return { m, events, socket };
    };
    await scenario({ api, appId, meetingId, join });
  } finally {
    for (const m of joined) await m.leave().catch(() => {});
    stop();
  }
}

test('drop during a countdown: cancelled while away, then a new one that ends while away', async () => {
  await inMeeting('rc', async ({ api, appId, meetingId, join }) => {
    const ann = await join('ann', 'group_call_host');
    const cat = await join('cat', 'group_call_host');
    await kickAll(ann.m, { graceSeconds: 60 });
    await until('cat told', () => sessionEnding(cat.m));
    // cat drops; while it is away the countdown is cancelled
    cat.socket().close();
    await until('cat disconnected', () => cat.m.self.roomState !== 'joined');
    assert.deepEqual(await cancelEnd(ann.m), { cancelled: true });
    await until('cat back', () => cat.m.self.roomState === 'joined', 20_000);
    await new Promise((ok) => setTimeout(ok, 2000));
    const after1 = {
      sessionEnding: sessionEnding(cat.m),
      state: endStateSource(cat.m).state,
      can: canEndSession(cat.m),
    };
    console.log(
      'after cancel-while-away',
      JSON.stringify(after1),
      JSON.stringify(cat.events.map(([n]) => n)),
    );
    const stale = after1.sessionEnding !== null || after1.can !== true;
    // a countdown started while cat is away: told on resume?
    cat.socket().close();
    await until('cat disconnected 2', () => cat.m.self.roomState !== 'joined');
    const { endsAt } = await kickAll(ann.m, { graceSeconds: 60, message: 'm' });
    await until('cat back 2', () => cat.m.self.roomState === 'joined', 20_000);
    await new Promise((ok) => setTimeout(ok, 300));
    const s = sessionEnding(cat.m);
    console.log('after start-while-away', JSON.stringify(s), endStateSource(cat.m).state);
    assert.equal(s?.endsAt, endsAt, 'started while away: told on resume');
    assert.equal(canEndSession(cat.m), false);
    assert.ok(!stale, `cancelled while away: 2 s after the resume, still ${JSON.stringify(after1)}`);
  });
});

test('cancelled while away, a short countdown: state past its endsAt', async () => {
  await inMeeting('rc', async ({ api, appId, meetingId, join }) => {
    const ann = await join('ann', 'group_call_host');
    const cat = await join('cat', 'group_call_host');
    const first = await kickAll(ann.m, { graceSeconds: 3 });
    await until('cat told', () => sessionEnding(cat.m));
    // cat drops; while it is away the countdown is cancelled
    cat.socket().close();
    await until('cat disconnected', () => cat.m.self.roomState !== 'joined');
    assert.deepEqual(await cancelEnd(ann.m), { cancelled: true });
    await until('cat back', () => cat.m.self.roomState === 'joined', 20_000);
    await until('past endsAt', () => Date.now() > Date.parse(first.endsAt) + 1500, 10_000);
    const after1 = {
      sessionEnding: sessionEnding(cat.m),
      state: endStateSource(cat.m).state,
      can: canEndSession(cat.m),
    };
    console.log(
      'past endsAt, cancelled while away',
      JSON.stringify(after1),
      JSON.stringify(cat.events.map(([n]) => n)),
    );
    const stale = after1.sessionEnding !== null || after1.can !== true;
    assert.ok(
      !stale,
      `cancelled while away, past endsAt: ${JSON.stringify(after1)}; cat in room: ${cat.m.self.roomState}`,
    );
  });
});

test('the countdown runs out while away: the resume is told the end with the same eventId; lock+grace cancelled stays ACTIVE', async () => {
  await inMeeting('rc3', async ({ api, appId, meetingId, join }) => {
    const ann = await join('ann', 'group_call_host');
    const cat = await join('cat', 'group_call_participant');
    // lock + grace, cancelled: the meeting stays ACTIVE
    await kickAll(ann.m, { graceSeconds: 60, lock: true });
    assert.deepEqual(await cancelEnd(ann.m), { cancelled: true });
    assert.equal((await api('GET', `/${appId}/meetings/${meetingId}`)).status, 'ACTIVE');
    // countdown ends while cat is away
    await until('cat not ending', () => sessionEnding(cat.m) === null);
    cat.socket().close();
    await until('cat disconnected', () => cat.m.self.roomState !== 'joined');
    await kickAll(ann.m, { graceSeconds: 1, message: 'gone' });
    const annLeft = await until(
      'ann ended',
      () => ann.events.find(([n, p]) => n === 'roomLeft' && p.state === 'ended')?.[1],
      10_000,
    );
    const catLeft = await until(
      'cat told ended',
      () => cat.events.find(([n, p]) => n === 'roomLeft' && p.state === 'ended')?.[1],
      20_000,
    );
    console.log('ann', JSON.stringify(annLeft), 'cat', JSON.stringify(catLeft));
    assert.equal(catLeft.eventId, annLeft.eventId);
    assert.equal(catLeft.message, 'gone');
    assert.deepEqual(catLeft.endedBy, annLeft.endedBy);
    assert.equal(sessionEnding(cat.m), null);
  });
});

test('a cancelEnd called while disconnected is sent on the resume and cancels for everyone', async () => {
  await inMeeting('rc4', async ({ api, appId, meetingId, join }) => {
    const ann = await join('ann', 'group_call_host');
    const cat = await join('cat', 'group_call_host');
    await kickAll(ann.m, { graceSeconds: 60 });
    await until('cat told', () => sessionEnding(cat.m));
    cat.socket().close();
    await until('cat disconnected', () => cat.m.self.roomState !== 'joined');
    const r = await cancelEnd(cat.m).then(
      (v) => ['resolved', v],
      (e) => ['rejected', e.code, e.message],
    );
    assert.deepEqual(r, ['resolved', { cancelled: true }]);
    await until('cat back', () => cat.m.self.roomState === 'joined', 20_000);
    await until('ann told cancelled', () => sessionEnding(ann.m) === null);
    assert.equal(sessionEnding(cat.m), null);
    assert.ok(
      ann.events.some(([n]) => n === 'sessionEndCancelled'),
      JSON.stringify(ann.events),
    );
  });
});
