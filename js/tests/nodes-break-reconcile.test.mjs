// Several nodes, Redis and the store at odds (server/src/hub/redis_reconcile.rs): Redis flushed or restarted under
// live sessions, countdowns, keep-alives; nodes started after a restart; REST kick-all while the room is gone.
// (nodes-break-cluster.mjs has the harness.)
import {
  allTogether,
  cluster,
  endedOnce,
  names,
  nodeNo,
  oneEnd,
  onEachStore,
  raw,
  redisCli,
  skip,
  sleep,
  state,
  timeline,
  until,
} from './nodes-break-cluster.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kickAll } from 'endsession';

const GRACE = ['--reconnect-grace-ms', '5000'];

async function restartRedis(c, downMs = 1000) {
  await c.stopRedis();
  await sleep(downMs);
  c.redis = await c.startRedis();
}

/** A new meeting with ann (host) and bob joined through the nodes in `annOrder` and `bobOrder`, together. */
async function annAndBob(c, annOrder, bobOrder) {
  const room = await c.newMeeting();
  const ann = await c.join(room, 'ann', 'group_call_host', annOrder);
  const bob = await c.join(room, 'bob', 'group_call_participant', bobOrder);
  const sessionId = ann.meeting.meta.sessionId;
  await allTogether(sessionId, [ann, bob]);
  return { room, ann, bob, sessionId };
}

// --- FLUSHALL (no restart): the sockets stay open, the nodes notice nothing but the room is gone -------------

onEachStore(
  'Redis FLUSHALL under a live session: nobody is dropped, a new joiner lands in the same session, a kick-all ends it once',
  {
    skip,
  },
  async (store) => {
    const c = await cluster({ store, args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0, 1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1, 2, 0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2, 0, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    const t0 = Date.now();
    redisCli(c, 'FLUSHALL');
    // Past a reconcile pass (10 s) and the reconnect grace (5 s) and more.
    await sleep(18_000);
    const faults = [];
    for (const p of [ann, bob, cat])
      if (p.leftNames().length) faults.push(`${p.name} saw ${p.leftNames()} leave`);
    const status = (await c.session(room, sessionId, c.nodes[1])).status;
    if (status !== 'LIVE') {
      const hooks = c.ended(sessionId).map((d) => d.reason);
      assert.fail(
        `18 s after FLUSHALL, with everyone still connected, the session is ${status} (meeting.ended ${JSON.stringify(hooks)}): ${state(sessionId, [ann, bob, cat])} ${timeline(t0, ann, bob, cat)}`,
      );
    }
    const dan = await c.join(room, 'dan', 'group_call_participant', [1]);
    if (dan.meeting.meta.sessionId !== sessionId) faults.push(`dan landed in ${dan.meeting.meta.sessionId}`);
    await sleep(3000);
    assert.deepEqual(
      faults,
      [],
      `${state(sessionId, [ann, bob, cat, dan])} ${timeline(t0, ann, bob, cat, dan)}`,
    );
    await allTogether(sessionId, [ann, bob, cat, dan]);
    const r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick-all`, {});
    assert.equal(r.status, 200, JSON.stringify(r.json));
    await endedOnce(c, sessionId, [ann, bob, cat, dan]);
    await c.stop();
  },
);

test(
  'Redis FLUSHALL then at once a new participant joins: he sees the others, nobody is dropped after the grace, one end',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0], [1]);
    const t0 = Date.now();
    redisCli(c, 'FLUSHALL');
    const dan = await c.join(room, 'dan', 'group_call_participant', [2]);
    await sleep(9000); // past the grace (5 s)
    const faults = [];
    if (dan.meeting.meta.sessionId !== sessionId) faults.push(`dan landed in another session`);
    for (const p of [ann, bob, dan])
      if (p.leftNames().length) faults.push(`${p.name} saw ${p.leftNames()} leave`);
    if (dan.meeting.participants.joined.size !== 2) faults.push(`dan sees ${names(dan)}`);
    const status = (await c.session(room, sessionId, c.nodes[1])).status;
    if (status !== 'LIVE')
      faults.push(
        `the session is ${status}; webhooks ${JSON.stringify(c.deliveries.filter((d) => d.sessionId === sessionId).map((d) => d.type + ':' + (d.reason ?? '')))}`,
      );
    assert.deepEqual(faults, [], `${state(sessionId, [ann, bob, dan])} ${timeline(t0, ann, bob, dan)}`);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob, dan]);
    await c.stop();
  },
);

test(
  'Redis FLUSHALL then at once a host kickAll over the socket: the session ends once and everyone is told',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    redisCli(c, 'FLUSHALL');
    const answer = await kickAll(ann.meeting).then(
      (x) => ({ ok: x }),
      (e) => ({ error: e?.code ?? String(e) }),
    );
    console.log(`kickAll over the socket right after FLUSHALL: ${JSON.stringify(answer)}`);
    if (answer.error) {
      // Refused (no room): the host tries again after a reconcile pass, as a user would.
      await sleep(11_000);
      await kickAll(ann.meeting);
    }
    await endedOnce(c, sessionId, [ann, bob, cat], 30_000).catch(async (e) => {
      const status = (await c.session(room, sessionId, c.nodes[1])).status;
      assert.fail(
        `kickAll answered ${JSON.stringify(answer)}; 30 s later the session is ${status}, meeting.ended ${JSON.stringify(c.ended(sessionId).map((d) => d.reason))}: ${e.message}`,
      );
    });
    assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'ENDED');
    await c.stop();
  },
);

onEachStore(
  'REST kick-all right after Redis FLUSHALL (the room gone): answered, and the session is ENDED within ~12 s, told once',
  {
    skip,
  },
  async (store) => {
    const c = await cluster({ store, args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0], [1]);
    redisCli(c, 'FLUSHALL');
    const t0 = Date.now();
    const r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick-all`, {});
    const answeredMs = Date.now() - t0;
    console.log(
      `REST kick-all with the room gone: ${r.status} ${JSON.stringify(r.json)} in ${answeredMs} ms`,
    );
    const ended = await until(
      'the session ENDED',
      async () => (await c.session(room, sessionId, c.nodes[1])).status === 'ENDED',
      12_000,
    ).catch(() => false);
    if (!ended) {
      const again = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick-all`, {});
      assert.fail(
        `REST kick-all answered ${r.status} ${JSON.stringify(r.json)} but the session is still LIVE 12 s later (a second kick-all: ${again.status} ${JSON.stringify(again.json)}); ${state(sessionId, [ann, bob])}`,
      );
    }
    assert.equal(
      r.status,
      200,
      `the kick-all that ended it was answered ${r.status} ${JSON.stringify(r.json)}`,
    );
    await endedOnce(c, sessionId, [ann, bob]);
    await c.stop();
  },
);

// --- Redis restarted -------------------------------------------------------------------------------------------

onEachStore(
  'Redis restarted during a countdown (5 s): it still ends the session once, at or after endsAt, with its message',
  { skip },
  async (store) => {
    const c = await cluster({ store, args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0, 1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1, 2, 0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2, 0, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    const { endsAt } = await kickAll(ann.meeting, { graceSeconds: 5, message: 'countdown' });
    await until('cat told the countdown', () => cat.of('sessionEnding')[0]);
    await restartRedis(c);
    const left = await endedOnce(c, sessionId, [ann, bob, cat], 40_000);
    assert.equal(left.reason, 'HOST_ENDED_MEETING');
    assert.equal(left.message, 'countdown');
    assert.equal(left.endedBy?.customParticipantId, 'ann');
    const toldAt = Math.min(
      ...[ann, bob, cat].map((p) => p.events.find(([n, x]) => n === 'roomLeft' && x.state === 'ended')[2]),
    );
    assert.ok(toldAt - new Date(endsAt).getTime() > -200, 'not before endsAt');
    console.log(`countdown end told ${toldAt - new Date(endsAt).getTime()} ms after endsAt`);
    await c.stop();
  },
);

test(
  "Redis down past a countdown's endsAt (2 s countdown, Redis down 4 s): it ends once when Redis is back, with its record",
  { skip },
  async () => {
    const c = await cluster({ args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0, 1, 2], [1, 2, 0]);
    await kickAll(ann.meeting, { graceSeconds: 2, message: 'due while down' });
    await until('bob told the countdown', () => bob.of('sessionEnding')[0]);
    await restartRedis(c, 4000);
    const left = await endedOnce(c, sessionId, [ann, bob], 40_000);
    assert.equal(left.reason, 'HOST_ENDED_MEETING');
    assert.equal(left.message, 'due while down');
    await c.stop();
  },
);

test(
  'a countdown put back after a Redis restart can be cancelled: the session is not ended, and ends once later',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0, 1, 2], [1, 2, 0]);
    await kickAll(ann.meeting, { graceSeconds: 8, message: 'to cancel' });
    await until('bob told the countdown', () => bob.of('sessionEnding')[0]);
    await restartRedis(c, 500);
    for (const p of [ann, bob])
      await until(`${p.name} resumed`, () => p.of('roomJoined').some((j) => j.reconnected === true), 20_000);
    await allTogether(sessionId, [ann, bob]);
    // Node 2 may not have its Redis connection back yet: it must then answer an error (never "nothing to
    // cancel"), and a retry a moment later cancels.
    let r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/cancel-end`, undefined);
    for (let tries = 0; r.status >= 500 && tries < 10; tries++) {
      await sleep(300);
      r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/cancel-end`, undefined);
    }
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.data.cancelled, true, `cancel-end after the restart: ${JSON.stringify(r.json)}`);
    await sleep(10_000); // past the countdown's endsAt
    assert.deepEqual(
      [ann, bob].flatMap((p) => p.of('roomLeft').filter((l) => l.state !== 'disconnected')),
      [],
      'ended although cancelled',
    );
    assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'LIVE');
    await kickAll(ann.meeting);
    const left = await endedOnce(c, sessionId, [ann, bob]);
    assert.equal(left.message ?? null, null);
    await c.stop();
  },
);

test(
  'REST cancel-end right after a Redis restart (the room not yet put back): answered, and the countdown does not end the session',
  {
    skip,
  },
  async () => {
    // A grace long enough for the severed clients' reconnect backoff: this is about the countdown, not the grace.
    const c = await cluster({ args: ['--reconnect-grace-ms', '30000'] });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0], [1]);
    await kickAll(ann.meeting, { graceSeconds: 8, message: 'to cancel' });
    await until('bob told the countdown', () => bob.of('sessionEnding')[0]);
    ann.sever();
    bob.sever();
    await restartRedis(c, 500);
    await sleep(1000);
    const r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/cancel-end`, undefined);
    console.log(`REST cancel-end with the room gone: ${r.status} ${JSON.stringify(r.json)}`);
    ann.route([0]);
    bob.route([1]);
    await sleep(12_000); // past endsAt
    const status = (await c.session(room, sessionId, c.nodes[1])).status;
    const { sessionEnding } = await import('endsession');
    console.log(
      `after: ${state(sessionId, [ann, bob])} cancelled events ${JSON.stringify(ann.of('sessionEndCancelled'))} ann's sessionEnding ${JSON.stringify(sessionEnding(ann.meeting))}`,
    );
    assert.ok(
      r.json?.data?.cancelled === true && status === 'LIVE',
      `cancel-end answered ${r.status} ${JSON.stringify(r.json)}; 12 s later the session is ${status} (meeting.ended ${JSON.stringify(c.ended(sessionId).map((d) => d.reason))})`,
    );
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob]);
    await c.stop();
  },
);

test(
  'Redis restarted during a keep-alive (everyone left, keep-alive 60 s): a rejoin within it lands in the same session',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting({ session_keep_alive_time_in_secs: 60 });
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const sessionId = ann.meeting.meta.sessionId;
    await ann.meeting.leave();
    await sleep(1000);
    assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'LIVE', 'kept alive');
    await restartRedis(c);
    await sleep(2000);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const status = (await c.session(room, sessionId, c.nodes[1])).status;
    const hooks = c.ended(sessionId).map((d) => d.reason);
    assert.equal(
      bob.meeting.meta.sessionId,
      sessionId,
      `bob joined 4 s after the last leave of a session kept alive 60 s, and landed in a new session (the old is ${status}, meeting.ended ${JSON.stringify(hooks)})`,
    );
    await c.stop();
  },
);

test(
  'Redis restarted during a keep-alive with nobody returning: the session ends once (not LIVE forever)',
  { skip },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting({ session_keep_alive_time_in_secs: 5 });
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const sessionId = ann.meeting.meta.sessionId;
    await ann.meeting.leave();
    await sleep(500);
    await restartRedis(c);
    const ended = await oneEnd(c, sessionId);
    assert.equal(ended.reason, 'ALL_PARTICIPANTS_LEFT');
    assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'ENDED');
    await c.stop();
  },
);

onEachStore(
  'Redis restarted and nobody returns (networks gone): the session ends ALL_PARTICIPANTS_LEFT once, not LIVE forever',
  { skip },
  async (store) => {
    const c = await cluster({ store, args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0], [1]);
    ann.sever();
    bob.sever();
    await restartRedis(c);
    const t0 = Date.now();
    const ended = await oneEnd(c, sessionId);
    console.log(`ended ${Date.now() - t0} ms after Redis came back (less the 1.5 s duplicate wait)`);
    assert.equal(ended.reason, 'ALL_PARTICIPANTS_LEFT');
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'ENDED');
    await c.stop();
  },
);

test(
  'Redis restarted, nobody returns, REST kick-all while the room is gone: answered, ENDED within ~12 s, one end',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: ['--reconnect-grace-ms', '60000'] });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0], [1]);
    ann.sever();
    bob.sever();
    await restartRedis(c);
    await sleep(1500);
    const t0 = Date.now();
    const r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick-all`, { message: 'gone' });
    console.log(
      `REST kick-all after a Redis restart: ${r.status} ${JSON.stringify(r.json)} in ${Date.now() - t0} ms`,
    );
    const ended = await until(
      'the session ENDED',
      async () => (await c.session(room, sessionId, c.nodes[1])).status === 'ENDED',
      12_000,
    ).catch(() => false);
    assert.ok(ended, `still LIVE 12 s after REST kick-all answered ${r.status} ${JSON.stringify(r.json)}`);
    const hook = await oneEnd(c, sessionId);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(hook.reason, 'HOST_ENDED_MEETING');
    await c.stop();
  },
);

onEachStore(
  'Redis restarted and a NEW participant joins at once: same session, everyone sees everyone, one end',
  { skip },
  async (store) => {
    const c = await cluster({ store, args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0, 1, 2], [1, 2, 0]);
    await restartRedis(c, 0);
    // Dan joins as soon as Redis is up; a refusal while the nodes reconnect is retried, as a user would.
    let dan;
    const t0 = Date.now();
    for (let i = 0; !dan; i++) {
      try {
        dan = await c.join(room, i ? `dan${i}` : 'dan', 'group_call_participant', [2]);
      } catch (e) {
        if (Date.now() - t0 > 15_000) throw e;
        console.log(`dan's join ${i} refused after ${Date.now() - t0} ms: ${e.code ?? e.message}`);
        await sleep(500);
      }
    }
    assert.equal(dan.meeting.meta.sessionId, sessionId, 'dan is in the live session');
    await allTogether(sessionId, [ann, bob, dan]);
    await sleep(7000); // past the grace: nobody removed
    assert.deepEqual(
      [ann, bob, dan].flatMap((p) => p.leftNames()),
      [],
      state(sessionId, [ann, bob, dan]),
    );
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob, dan]);
    const joins = c.deliveries.filter(
      (d) => d.type === 'meeting.participantJoined' && d.sessionId === sessionId,
    );
    assert.equal(joins.length, 3, `a resume is not a join: ${joins.length}`);
    await c.stop();
  },
);

test(
  'two Redis restarts in a row: everyone back in one session, then everyone leaves and it ends once',
  { skip },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0, 1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1, 2, 0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2, 0, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    await restartRedis(c, 500);
    await sleep(2500);
    await restartRedis(c, 500);
    await allTogether(sessionId, [ann, bob, cat]);
    await sleep(7000);
    assert.deepEqual(
      [ann, bob, cat].flatMap((p) => p.leftNames()),
      [],
      state(sessionId, [ann, bob, cat]),
    );
    await allTogether(sessionId, [ann, bob, cat], 1000);
    for (const p of [ann, bob, cat]) await p.meeting.leave();
    const ended = await oneEnd(c, sessionId);
    assert.equal(ended.reason, 'ALL_PARTICIPANTS_LEFT');
    await c.stop();
  },
);

test(
  'a node started right after a Redis restart takes a number no live node has; its participants get their own frames only',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [0], [1]);
    await restartRedis(c, 0);
    const fresh = await c.startNode();
    const numbers = c.nodes.map(nodeNo);
    const eve = await c.join(room, 'eve', 'group_call_participant', [3]);
    const fay = await c.join(room, 'fay', 'group_call_participant', [3]);
    assert.equal(eve.meeting.meta.sessionId, sessionId);
    await allTogether(sessionId, [ann, bob, eve, fay]);
    await sleep(7000);
    const people = [ann, bob, eve, fay];
    const faults = [];
    if (new Set(numbers).size !== numbers.length) faults.push(`node numbers ${JSON.stringify(numbers)}`);
    for (const p of people) {
      if (p.leftNames().length) faults.push(`${p.name} saw ${p.leftNames()} leave`);
      const joinedOthers = p.of('participantJoined').map((x) => x.customParticipantId);
      if (joinedOthers.includes(p.name)) faults.push(`${p.name} was told it joined itself`);
    }
    assert.deepEqual(faults, [], `${state(sessionId, people)} ${JSON.stringify(numbers)}`);
    await allTogether(sessionId, people, 1000);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, people);
    void fresh;
    await c.stop();
  },
);

test(
  'node numbers clash after a Redis restart: frames of another meeting do not cross, and a participant of a dead old node is removed',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const { room, ann, bob, sessionId } = await annAndBob(c, [1], [0]);
    await restartRedis(c, 0);
    await c.startNode(); // node 3, started at once
    const numbers = c.nodes.map(nodeNo);
    await allTogether(sessionId, [ann, bob]);
    // Another meeting, all on node 3: its connection ids run 1, 2, 3… as node 0's did.
    const other = await c.newMeeting();
    const more = [];
    for (const name of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6'])
      more.push(await c.join(other, name, 'group_call_participant', [3]));
    await sleep(3000);
    const faults = [];
    if (new Set(numbers).size !== numbers.length) faults.push(`node numbers ${JSON.stringify(numbers)}`);
    const seen = (p) => p.of('participantJoined').map((x) => x.customParticipantId);
    for (const p of [ann, bob])
      if (seen(p).some((n) => n.startsWith('x'))) faults.push(`${p.name} was told ${seen(p)} joined`);
    for (const p of more)
      if (seen(p).some((n) => !n.startsWith('x'))) faults.push(`${p.name} was told ${seen(p)} joined`);
    // Node 0 dies (bob has nowhere else to go): within grace (5 s) + ~3 s, ann sees bob leave.
    c.nodes[0].kill();
    await until('ann sees bob leave', () => ann.leftNames().includes('bob'), 20_000).catch(() =>
      faults.push('bob (on dead node 0) was never removed: 20 s later ann still sees him'),
    );
    assert.deepEqual(faults, [], `${state(sessionId, [ann, bob])}`);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann]);
    await c.stop();
  },
);
