// Redis losing or withholding its data under live sessions, and one node's restarts under keep-alives
// (LocalHub::restore): one node's alive key deleted, FLUSHALL twice and during join bursts, CLIENT KILL and
// CLIENT PAUSE, Redis refusing writes, REST calls while a room is gone. (nodes-break-cluster.mjs has the cluster
// harness and the single node.)
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
  singleNode,
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
/** The session ends once ALL_PARTICIPANTS_LEFT, dated at `leftAt` (REST ended_at and the webhook's endedAt). */
async function endedAtLeave(s, room, sessionId, leftAt, ms) {
  const hook = await until('meeting.ended', () => s.ended(sessionId)[0], ms).catch(async () => {
    const row = await s.session(room, sessionId);
    assert.fail(`no meeting.ended within ${ms} ms; the session is ${row.status} ended_at ${row.ended_at}`);
  });
  await sleep(1500);
  const row = await s.session(room, sessionId);
  const faults = [];
  if (s.ended(sessionId).length !== 1) faults.push(`${s.ended(sessionId).length} meeting.ended`);
  if (!hook.verified) faults.push('meeting.ended does not verify');
  if (hook.reason !== 'ALL_PARTICIPANTS_LEFT') faults.push(`reason ${hook.reason}`);
  if (row.status !== 'ENDED') faults.push(`REST status ${row.status}`);
  const restMs = Date.parse(row.ended_at) - leftAt;
  const hookMs = Date.parse(hook.endedAt) - leftAt;
  console.log(
    `ended_at - last leave: REST ${restMs} ms, webhook ${hookMs} ms; told ${hook.at - leftAt} ms after`,
  );
  if (!(Math.abs(restMs) < 1500))
    faults.push(`REST ended_at ${row.ended_at} is ${restMs} ms from the last leave`);
  if (!(Math.abs(hookMs) < 1500))
    faults.push(`webhook endedAt ${hook.endedAt} is ${hookMs} ms from the last leave`);
  assert.deepEqual(faults, []);
  return hook;
}

test('one node restarted (SIGKILL) within a keep-alive of 20 s: a rejoin within it is the same session; ends once at the last leave', async () => {
  const s = await singleNode();
  const room = await s.newMeeting({ session_keep_alive_time_in_secs: 20 });
  const ann = await s.join(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await ann.meeting.leave();
  await sleep(1500);
  await s.kill();
  await sleep(500);
  await s.start();
  await sleep(1000);
  assert.equal((await s.session(room, sessionId)).status, 'LIVE', 'still within the keep-alive');
  const bob = await s.join(room, 'bob', 'group_call_participant');
  assert.equal(
    bob.meeting.meta.sessionId,
    sessionId,
    `bob landed in a new session; webhooks ${JSON.stringify(s.deliveries)}`,
  );
  await bob.meeting.leave();
  const leftAt = Date.now();
  await endedAtLeave(s, room, sessionId, leftAt, 35_000);
  await s.stop();
});

test('one node restarted within a keep-alive (10 s), nobody rejoins: ends ALL_PARTICIPANTS_LEFT at the last leave, once', async () => {
  const s = await singleNode();
  const room = await s.newMeeting({ session_keep_alive_time_in_secs: 10 });
  const ann = await s.join(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await ann.meeting.leave();
  const leftAt = Date.now();
  await sleep(2000);
  await s.kill();
  await s.start();
  await endedAtLeave(s, room, sessionId, leftAt, 25_000);
  await s.stop();
});

test('one node restarted twice in a row within a keep-alive (15 s): a rejoin is the same session; nobody after: ends once', async () => {
  const s = await singleNode();
  const room = await s.newMeeting({ session_keep_alive_time_in_secs: 15 });
  const ann = await s.join(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await ann.meeting.leave();
  await sleep(1000);
  await s.kill();
  await s.start();
  await sleep(1000);
  await s.kill();
  await s.start();
  await sleep(1000);
  const bob = await s.join(room, 'bob', 'group_call_participant');
  assert.equal(bob.meeting.meta.sessionId, sessionId, 'bob is in the kept-alive session');
  await bob.meeting.leave();
  const leftAt = Date.now();
  await sleep(1000);
  await s.kill();
  await s.start();
  await s.kill();
  await s.start();
  await endedAtLeave(s, room, sessionId, leftAt, 30_000);
  await s.stop();
});

test('one node down past the keep-alive (5 s, down 8 s): at restart it is ended at the last leave, one meeting.ended; a join starts a new session', async () => {
  const s = await singleNode();
  const room = await s.newMeeting({ session_keep_alive_time_in_secs: 5 });
  const ann = await s.join(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await ann.meeting.leave();
  const leftAt = Date.now();
  await sleep(1000);
  await s.kill();
  await sleep(8000);
  await s.start();
  await endedAtLeave(s, room, sessionId, leftAt, 15_000);
  const bob = await s.join(room, 'bob', 'group_call_participant');
  assert.notEqual(bob.meeting.meta.sessionId, sessionId);
  await s.stop();
});

test('one node SIGKILLed with a participant connected (keep-alive 10 s), he never returns: ends once, not LIVE forever', async () => {
  const s = await singleNode();
  const room = await s.newMeeting({ session_keep_alive_time_in_secs: 10 });
  const ann = await s.join(room, 'ann', 'group_call_host');
  const sessionId = ann.meeting.meta.sessionId;
  await sleep(500);
  await s.kill();
  const killedAt = Date.now();
  await ann.meeting.leave().catch(() => {});
  await s.start();
  const hook = await until('meeting.ended', () => s.ended(sessionId)[0], 60_000).catch(async () => {
    const row = await s.session(room, sessionId);
    assert.fail(`60 s later no meeting.ended; the session is ${row.status}`);
  });
  await sleep(1500);
  assert.equal(s.ended(sessionId).length, 1);
  assert.ok(hook.verified);
  console.log(
    `ended ${hook.reason}, endedAt - kill ${Date.parse(hook.endedAt) - killedAt} ms, told ${hook.at - killedAt} ms after the kill`,
  );
  assert.equal((await s.session(room, sessionId)).status, 'ENDED');
  await s.stop();
});

// --- several nodes ----------------------------------------------------------------------------------------------

test(
  "DEL of one node's alive key only: that node's client resumes, the others are not dropped, nobody sees a leave, one end",
  { skip },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    const n1 = nodeNo(c.nodes[1]);
    assert.ok(n1 !== null, 'node 1 number in its log');
    const t0 = Date.now();
    assert.equal(redisCli(c, 'DEL', `endsession:alive:${n1}`), '1');
    await sleep(12_000);
    const faults = [];
    if (!bob.of('roomJoined').some((j) => j.reconnected === true))
      faults.push('bob was not sent to reconnect');
    for (const p of [ann, cat])
      if (p.of('roomLeft').length) faults.push(`${p.name} was dropped: ${JSON.stringify(p.of('roomLeft'))}`);
    for (const p of [ann, bob, cat])
      if (p.leftNames().length) faults.push(`${p.name} saw ${p.leftNames()} leave`);
    assert.deepEqual(faults, [], `${state(sessionId, [ann, bob, cat])} ${timeline(t0, ann, bob, cat)}`);
    await allTogether(sessionId, [ann, bob, cat], 2000);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob, cat]);
    await c.stop();
  },
);

onEachStore(
  'FLUSHALL twice 400 ms apart: everyone back in one session, nobody sees a leave past the grace, one end',
  { skip },
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
    await sleep(400);
    redisCli(c, 'FLUSHALL');
    await sleep(14_000);
    assert.deepEqual(
      [ann, bob, cat].flatMap((p) => p.leftNames()),
      [],
      `${state(sessionId, [ann, bob, cat])} ${timeline(t0, ann, bob, cat)}`,
    );
    await allTogether(sessionId, [ann, bob, cat], 5000);
    assert.equal((await c.session(room, sessionId, c.nodes[2])).status, 'LIVE');
    await kickAll(bob.meeting).catch(() => {}); // a participant may not: the host does
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob, cat]);
    await c.stop();
  },
);

test(
  "CLIENT KILL TYPE normal (every node's Redis connections cut at once): nobody dropped, LIVE, one end",
  { skip },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob]);
    const t0 = Date.now();
    const killed = redisCli(c, 'CLIENT', 'KILL', 'TYPE', 'normal');
    const killedPubsub = redisCli(c, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    console.log(`CLIENT KILL normal: ${killed}, pubsub: ${killedPubsub}`);
    await sleep(10_000);
    assert.deepEqual(
      [ann, bob].flatMap((p) => p.leftNames()),
      [],
      `${state(sessionId, [ann, bob])} ${timeline(t0, ann, bob)}`,
    );
    await allTogether(sessionId, [ann, bob], 5000);
    // Frames still cross nodes after the cut: a third participant on node 2 is seen by both.
    const cat = await c.join(room, 'cat', 'group_call_participant', [2]);
    await allTogether(sessionId, [ann, bob, cat], 10_000);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob, cat]);
    await c.stop();
  },
);

test(
  'CONFIG SET maxmemory 1 (Redis refuses writes: OOM) for 3 s: errors, then everyone together in one session, one end',
  { skip },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob]);
    const t0 = Date.now();
    redisCli(c, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    redisCli(c, 'CONFIG', 'SET', 'maxmemory', '1');
    const during = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/cancel-end`);
    await sleep(3000);
    redisCli(c, 'CONFIG', 'SET', 'maxmemory', '0');
    console.log(`cancel-end while Redis refuses writes: ${during.status} ${JSON.stringify(during.json)}`);
    await sleep(12_000);
    await allTogether(sessionId, [ann, bob], 20_000);
    assert.deepEqual(
      [ann, bob].flatMap((p) => p.leftNames()),
      [],
      `${state(sessionId, [ann, bob])} ${timeline(t0, ann, bob)}`,
    );
    assert.ok(during.status >= 500 || during.json?.data?.cancelled === false, JSON.stringify(during));
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob]);
    await c.stop();
  },
);

test(
  'CLIENT PAUSE 4000 ALL (Redis stalls 4 s, every stamp lapses): everyone back in one session within 20 s, nobody sees a leave, one end',
  {
    skip,
  },
  async () => {
    const c = await cluster({ args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0, 1, 2]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1, 2, 0]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2, 0, 1]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    const t0 = Date.now();
    redisCli(c, 'CLIENT', 'PAUSE', '4000', 'ALL');
    await sleep(5000);
    await allTogether(sessionId, [ann, bob, cat], 45_000);
    const backAt = Date.now() - t0;
    const status = (await c.session(room, sessionId, c.nodes[2])).status;
    console.log(`back together at ${backAt} ms: ${timeline(t0, ann, bob, cat)}`);
    const faults = [];
    if (backAt > 20_000) faults.push(`back together only ${backAt} ms after a 4 s pause`);
    if ([ann, bob, cat].some((p) => p.leftNames().length)) faults.push('someone saw a leave');
    if (status !== 'LIVE') faults.push(`session ${status}`);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob, cat]);
    await c.stop();
    assert.deepEqual(faults, [], `${state(sessionId, [ann, bob, cat])} ${timeline(t0, ann, bob, cat)}`);
  },
);

/** ann and bob in a session; both severed; FLUSHALL: the room is gone until a reconcile pass (<= 10 s). */
async function roomGone(c, extra = {}) {
  const room = await c.newMeeting(extra);
  const ann = await c.join(room, 'ann', 'group_call_host', [0]);
  const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
  const sessionId = ann.meeting.meta.sessionId;
  await allTogether(sessionId, [ann, bob]);
  ann.sever();
  bob.sever();
  redisCli(c, 'FLUSHALL');
  await sleep(300);
  assert.equal(
    redisCli(c, 'EXISTS', `endsession:room:${room.meetingId}`) === '1' ? 'present' : 'gone',
    'gone',
  );
  return { room, ann, bob, sessionId };
}

test(
  'REST active-session GET while the room is gone: the live session (same id, LIVE)',
  { skip },
  async () => {
    const c = await cluster({ args: ['--reconnect-grace-ms', '30000'] });
    const { room, ann, bob, sessionId } = await roomGone(c);
    const r = await raw(c.nodes[2].port, 'GET', `${room.base}/active-session`);
    console.log(`active-session with the room gone: ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.data.id, sessionId);
    assert.equal(r.json.data.status, 'LIVE');
    ann.route([0]);
    bob.route([1]);
    await allTogether(sessionId, [ann, bob]);
    const after = await raw(c.nodes[2].port, 'GET', `${room.base}/active-session`);
    console.log(`active-session after the resume: ${JSON.stringify(after.json?.data)}`);
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob]);
    await c.stop();
  },
);

onEachStore(
  'REST kick of one participant (participant_ids) while the room is gone: he is kicked (or an error), the other stays, one end',
  { skip },
  async (store) => {
    const c = await cluster({ store, args: ['--reconnect-grace-ms', '30000'] });
    const { room, ann, bob, sessionId } = await roomGone(c);
    const list = await c.api('GET', `${room.base}/participants`);
    const bobId = (Array.isArray(list) ? list : (list.participants ?? [])).find(
      (p) => p.custom_participant_id === 'bob',
    )?.id;
    assert.ok(bobId, `bob's id in ${JSON.stringify(list)}`);
    const r = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick`, {
      participant_ids: [bobId],
    });
    console.log(`REST kick with the room gone: ${r.status} ${JSON.stringify(r.json)}`);
    ann.route([0]);
    await until(
      'ann back',
      () => ann.meeting.self.roomState === 'joined' && ann.meeting.meta.sessionId === sessionId,
      30_000,
    );
    await sleep(2000);
    const roster = names(ann);
    const again = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick`, {
      participant_ids: [bobId],
    });
    console.log(
      `REST kick again once ann is back: ${again.status} ${JSON.stringify(again.json)}; ann sees ${roster}`,
    );
    const kicked = r.status === 200 && r.json?.data?.participants?.some((p) => p.id === bobId);
    assert.ok(
      kicked || r.status >= 500,
      `kick while the room was gone answered ${r.status} with ${JSON.stringify(r.json?.data)} (nobody kicked, no error) although bob was in the live session; once ann was back she saw ${JSON.stringify(roster)} and a second kick answered ${JSON.stringify(again.json?.data?.participants?.map((p) => p.custom_participant_id))}`,
    );
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann]);
    await c.stop();
  },
);

onEachStore(
  'REST PATCH status INACTIVE while the room is gone: answered, the members resume the same session, a newcomer is refused, one end',
  { skip },
  async (store) => {
    const c = await cluster({ store, args: ['--reconnect-grace-ms', '30000'] });
    const { room, ann, bob, sessionId } = await roomGone(c);
    const r = await raw(c.nodes[2].port, 'PATCH', room.base, { status: 'INACTIVE' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    ann.route([0]);
    bob.route([1]);
    await allTogether(sessionId, [ann, bob]);
    const dan = await c.join(room, 'dan', 'group_call_participant', [2]).then(
      () => 'admitted',
      (e) => e?.code ?? String(e),
    );
    console.log(`a newcomer while INACTIVE: ${dan}`);
    assert.notEqual(dan, 'admitted');
    assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'LIVE');
    await kickAll(ann.meeting);
    await endedOnce(c, sessionId, [ann, bob]);
    await c.stop();
  },
);

onEachStore(
  'REST kick-all and FLUSHALL at once: the session ends once, everyone told, ENDED',
  { skip },
  async (store) => {
    const c = await cluster({ store, args: GRACE });
    const room = await c.newMeeting();
    const ann = await c.join(room, 'ann', 'group_call_host', [0]);
    const bob = await c.join(room, 'bob', 'group_call_participant', [1]);
    const cat = await c.join(room, 'cat', 'group_call_participant', [2]);
    const sessionId = ann.meeting.meta.sessionId;
    await allTogether(sessionId, [ann, bob, cat]);
    const kick = raw(c.nodes[1].port, 'POST', `${room.base}/active-session/kick-all`, {});
    redisCli(c, 'FLUSHALL');
    const r = await kick;
    console.log(`kick-all racing FLUSHALL: ${r.status} ${JSON.stringify(r.json)}`);
    if (r.status !== 200 || r.json?.data?.kicked_participants_count === 0) {
      // Either it came too late (nothing to end) or errored: the user tries again.
      await sleep(2000);
      const again = await raw(c.nodes[2].port, 'POST', `${room.base}/active-session/kick-all`, {});
      console.log(`second kick-all: ${again.status} ${JSON.stringify(again.json)}`);
    }
    await endedOnce(c, sessionId, [ann, bob, cat]);
    assert.equal((await c.session(room, sessionId, c.nodes[0])).status, 'ENDED');
    await c.stop();
  },
);

/**
 * ann, then a burst of `N` joins spread over the three nodes, FLUSHALL 600 ms into it if `flush`. Up to 100 in the
 * session every roster must hold everyone (README: past 100 the joins and leaves are no longer announced), past it
 * the REST count must.
 */
async function burstTest(flush, N, everyJoin = false) {
  const c = await cluster({ args: GRACE });
  const room = await c.newMeeting();
  const ann = await c.join(room, 'ann', 'group_call_host', [0]);
  const sessionId = ann.meeting.meta.sessionId;
  const t0 = Date.now();
  const burst = [];
  let flushedAt = null;
  if (flush)
    setTimeout(
      () => ((flushedAt = Date.now() - t0), redisCli(c, 'FLUSHALL')),
      Number(process.env.R2_FLUSH_MS ?? 600),
    );
  for (let i = 0; i < N; i++)
    burst.push(
      c.join(room, `p${i}`, 'group_call_participant', [i % 3, (i + 1) % 3]).then(
        (p) => ((p.joinedAt = Date.now() - t0), p),
        (e) => ({ failed: e?.message ?? String(e) }),
      ),
    );
  const people = await Promise.all(burst);
  const failed = people.filter((p) => p.failed);
  console.log(
    `burst ${N} (flush ${flush} at ${flushedAt} ms): ${N - failed.length} joined, ${failed.length} failed in ${Date.now() - t0} ms: ${JSON.stringify(failed.slice(0, 3))}`,
  );
  if (everyJoin)
    assert.equal(
      failed.length,
      0,
      `${failed.length} of ${N} joins failed (FLUSHALL at ${flushedAt} ms): ${JSON.stringify(failed.slice(0, 2))}`,
    );
  const joined = [ann, ...people.filter((p) => !p.failed)];
  const small = joined.length <= 100;
  const agree = (p) =>
    p.meeting.self.roomState === 'joined' &&
    p.meeting.meta.sessionId === sessionId &&
    (!small || p.meeting.participants.joined.size === joined.length - 1);
  const liveCount = async () =>
    (await raw(c.nodes[2].port, 'GET', `${room.base}/active-session`)).json?.data?.live_participants;
  const ok = await until(
    'rosters agree',
    async () => joined.every(agree) && (await liveCount()) === joined.length,
    40_000,
  ).then(
    () => true,
    () => false,
  );
  const resumed = joined.filter((p) => p.of('roomJoined').some((j) => j.reconnected === true)).length;
  console.log(`${resumed} of ${joined.length} resumed; rosters agree: ${ok}`);
  if (!ok) {
    const bad = joined.filter((p) => !agree(p));
    const sizes = bad.map((p) => p.meeting.participants.joined.size);
    const notResumedBad = bad.filter((p) => !p.of('roomJoined').some((j) => j.reconnected === true));
    assert.fail(
      `40 s after the burst ${bad.length} of ${joined.length} clients disagree (roster sizes ${Math.min(...sizes)}..${Math.max(...sizes)}, want ${joined.length - 1}); REST live_participants ${await liveCount()} (want ${joined.length}); ${resumed} clients resumed, ${notResumedBad.length} disagreeing never resumed; sessions ${JSON.stringify([...new Set(joined.map((p) => p.meeting.meta.sessionId))])}; e.g. ${state(sessionId, bad.slice(0, 2)).slice(0, 1500)}`,
    );
  }
  await kickAll(ann.meeting);
  await until(
    'everyone told the end',
    () => joined.every((p) => p.of('roomLeft').some((l) => l.state === 'ended')),
    30_000,
  ).catch(async () => {
    const untold = joined.filter((p) => !p.of('roomLeft').some((l) => l.state === 'ended'));
    const row = await c.session(room, sessionId, c.nodes[1]);
    assert.fail(
      `30 s after kickAll ${untold.length} of ${joined.length} were not told the end (session ${row.status}, meeting.ended ${c.ended(sessionId).length}); their roomState ${JSON.stringify([...new Set(untold.map((p) => p.meeting.self.roomState))])}, resumed ${untold.filter((p) => p.of('roomJoined').some((j) => j.reconnected === true)).length}, roomLeft ${JSON.stringify(untold.slice(0, 3).map((p) => p.of('roomLeft')))}, joined at ${untold.slice(0, 8).map((p) => p.joinedAt)} ms, names ${untold.slice(0, 8).map((p) => p.name)}`,
    );
  });
  const ids = new Set(joined.map((p) => p.of('roomLeft').find((l) => l.state === 'ended').eventId));
  assert.equal(ids.size, 1);
  for (const p of joined)
    assert.equal(p.of('roomLeft').filter((l) => l.state === 'ended').length, 1, `${p.name} told one end`);
  await oneEnd(c, sessionId, [...ids][0]);
  await c.stop();
}

test('control: a burst of 80 joins, no fault: every roster agrees, one end', { skip }, () =>
  burstTest(false, 80),
);

test('FLUSHALL during a burst of 80 joins: one session, every roster agrees, one end', { skip }, () =>
  burstTest(true, 80),
);

test('control: a burst of 300 joins, no fault: REST counts all 301, everyone told one end', { skip }, () =>
  burstTest(false, 300),
);

test(
  'FLUSHALL during a burst of 80 joins: no join fails (the clients sent to reconnect mid-join retry, as resumes do)',
  {
    skip,
    todo: 'fault: joins under way when the nodes let go of their connections reject with [ERR4900] Could not connect to the meeting server: in 5 of 7 runs (1 of 80 in four, 61 of 80 in one, FLUSHALL at 704 ms); the same burst without FLUSHALL: 0 failed in 4 runs',
  },
  () => burstTest(true, 80, true),
);

test(
  'FLUSHALL during a burst of 300 joins: one session, REST counts all 301, everyone told one end',
  {
    skip,
  },
  () => burstTest(true, 300),
);
