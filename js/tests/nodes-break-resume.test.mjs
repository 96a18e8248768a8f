// Several nodes (README "Several nodes"), broken on purpose: a participant resumes on another node while the
// grace timer of its dead node is on record in Redis (nodes-break-cluster.mjs has the harness).
import {
  DEADLINE_MS,
  WRITE_LOCK,
  account,
  cluster,
  oneEnd,
  onEachStore,
  secret,
  skip,
  skipPostgres,
  sleep,
  timeline,
  until,
} from './nodes-break-cluster.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { cancelEnd, initMeeting, kickAll, on } from 'endsession';

// Bob's first reconnect attempt, 250 ms after the drop, is refused; Node 20's WebSocket reports nothing for a
// connection closed before its upgrade answer, so the client's connect deadline (10 s, CONNECT_TIMEOUT_MS) ends that
// attempt and the next, ~10.8 s after the drop, gets through: the graces are chosen around that.
for (const [when, grace] of [
  ['well within its grace', 25_000],
  ['shortly before its grace runs out', 13_000],
])
  onEachStore(
    `a participant who resumes on another node ${when} after its node died keeps its seat when the dead node's grace timer fires`,
    {},
    async (store) => {
      const c = await cluster({ args: ['--reconnect-grace-ms', String(grace)], store });
      const room = await c.newMeeting();
      const ann = await c.join(room, 'ann', 'group_call_host', [1]);
      const bob = await c.join(room, 'bob', 'group_call_participant', [0]);
      const sessionId = ann.meeting.meta.sessionId;
      await until('ann sees bob', () => ann.meeting.participants.joined.size === 1);
      // Bob's network goes: node 0 starts his grace and dies 0.5 s later; its timer is on record in Redis, and a
      // sweep of node 1 or 2 runs it ~2 s overdue. From 1 s on, his balancer lets him through to node 2.
      const t0 = Date.now();
      bob.sever();
      await sleep(500);
      c.nodes[0].kill();
      await sleep(500);
      bob.route([2]);
      const back = await until(
        'bob resumes on node 2',
        () => bob.of('roomJoined').find((j) => j.reconnected === true),
        grace,
      );
      assert.equal(back.reconnected, true);
      const resumedAt = Date.now() - t0;
      assert.ok(
        resumedAt < grace,
        `bob resumed ${resumedAt} ms after the drop, within his ${grace} ms grace: ${timeline(t0, ann, bob)}`,
      );
      assert.equal(bob.meeting.meta.sessionId, sessionId);
      // Past the grace's due time plus the sweep's slack, and more: he is still in, nobody saw him leave.
      await sleep(grace + 4000 - (Date.now() - t0));
      assert.deepEqual(ann.leftNames(), [], `ann saw bob leave: ${timeline(t0, ann, bob)}`);
      assert.equal(ann.meeting.participants.joined.size, 1, 'ann still sees bob');
      assert.equal(bob.meeting.self.roomState, 'joined');
      assert.equal((await c.session(room, sessionId, c.nodes[1])).status, 'LIVE');
      const result = await kickAll(ann.meeting);
      assert.equal(result.alreadyEnded, false);
      const left = await until('bob told the end', () => bob.of('roomLeft').find((l) => l.state === 'ended'));
      await until('ann told the end', () => ann.of('roomLeft')[0]);
      await oneEnd(c, sessionId, left.eventId);
      await c.stop();
    },
  );
