// Several nodes in real Chromium pages: three release endsession-server nodes (--dev, one real redis-server from
// $ENDSESSION_TEST_REDIS, and one store: a shared data directory, then a fresh PostgreSQL database on
// $ENDSESSION_TEST_DATABASE_URL; scripts/test.sh starts both servers), each participant's page loaded from (and
// connected to) a different node. A host on node A ends the session; the pages on B and C show it ended, with one
// session and one end record. README "Several nodes".
import { test, expect, request as playwrightRequest, type Browser, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const redis = process.env.ENDSESSION_TEST_REDIS;
const postgres = process.env.ENDSESSION_TEST_DATABASE_URL;
const target = process.env.CARGO_TARGET_DIR ?? 'target';

interface Node {
  origin: string;
  process: ChildProcess;
}
const nodes: Node[] = [];
let data: string | undefined;
let database: { url: string; drop: () => void } | undefined;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address() as { port: number };
  await new Promise((ok) => probe.close(ok));
  return port;
}

async function startNode(): Promise<Node> {
  const port = await freePort();
  const args = ['--dev', '--listen', `127.0.0.1:${port}`, '--data', data!, '--redis', redis!];
  if (database) args.push('--database', database.url);
  const child = spawn(`${target}/release/endsession-server`, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (b) => (log += b));
  child.stderr!.on('data', (b) => (log += b));
  await expect
    .poll(() => log.includes('listening on') || child.exitCode !== null, { timeout: 15_000 })
    .toBe(true);
  expect(child.exitCode, `node :${port} exited: ${log}`).toBeNull();
  const node = { origin: `http://127.0.0.1:${port}`, process: child };
  nodes.push(node);
  return node;
}

/** A database of its own on the test server, dropped by `drop()`. */
function newDatabase(admin: string) {
  const name = `endsession_e2e_${randomBytes(6).toString('hex')}`;
  const psql = (sql: string) => execFileSync('psql', [admin, '-qc', sql], { stdio: 'pipe', timeout: 10_000 });
  psql(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

for (const store of ['sqlite', 'postgres'] as const)
  test.describe(`three nodes on ${store}`, () => {
    test.skip(
      !redis && process.env.ENDSESSION_REQUIRE_REDIS !== '1',
      'ENDSESSION_TEST_REDIS is not set (scripts/test.sh starts a private redis-server)',
    );
    test.skip(
      store === 'postgres' && !postgres && !process.env.ENDSESSION_REQUIRE_POSTGRES,
      'ENDSESSION_TEST_DATABASE_URL is not set (scripts/test.sh starts a private PostgreSQL)',
    );

    test.beforeAll(async () => {
      expect(redis, 'ENDSESSION_REQUIRE_REDIS=1 but ENDSESSION_TEST_REDIS is not set').toBeTruthy();
      data = mkdtempSync(join(tmpdir(), 'endsession-e2e-nodes-'));
      if (store === 'postgres') {
        expect(
          postgres,
          'ENDSESSION_REQUIRE_POSTGRES is set but ENDSESSION_TEST_DATABASE_URL is not',
        ).toBeTruthy();
        database = newDatabase(postgres!);
      }
      // The first node seeds the demo account, app and meeting; the others find them (seeding is idempotent).
      await startNode();
      await startNode();
      await startNode();
    });

    test.afterAll(async () => {
      for (const node of nodes) node.process.kill();
      await Promise.all(nodes.map((node) => new Promise((ok) => node.process.once('exit', ok))));
      nodes.length = 0;
      if (data) rmSync(data, { recursive: true, force: true });
      database?.drop();
      database = undefined;
    });

    async function joinOn(browser: Browser, node: Node, meetingId: string, name: string, preset: string) {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${node.origin}/participant.html?meeting=${meetingId}&name=${name}&preset=${preset}`);
      await expect(page.getByTestId('state')).toHaveText('joined');
      return page;
    }

    test(`${store}: a host on node A ends the session; the pages on nodes B and C show it ended`, async ({
      browser,
    }) => {
      const [a, b, c] = nodes;
      const api = await playwrightRequest.newContext({ baseURL: a.origin });
      const config = await (await api.get('/dev/config.json')).json();
      const base = `/client/v4/accounts/${config.accountId}/realtime/kit/${config.appId}`;
      const created = await api.post(`${base}/meetings`, {
        headers: { authorization: `Bearer ${config.apiToken}` },
        data: { title: 'three nodes' },
      });
      expect(created.status()).toBe(201);
      const meetingId = (await created.json()).data.id;

      const host = await joinOn(browser, a, meetingId, 'Ann', 'group_call_host');
      const bob = await joinOn(browser, b, meetingId, 'Bob', 'group_call_participant');
      const cy = await joinOn(browser, c, meetingId, 'Cy', 'group_call_participant');
      const pages: Page[] = [host, bob, cy];
      for (const page of pages) await expect(page.getByTestId('participant-count')).toHaveText('3');
      const sessionId = await host.getByTestId('session-id').textContent();
      for (const page of [bob, cy]) await expect(page.getByTestId('session-id')).toHaveText(sessionId!);

      await host.getByTestId('end-button').click();
      await host.getByTestId('confirm-end').click();
      for (const page of pages) {
        await expect(page.getByTestId('state')).toHaveText('ended');
        await expect(page.getByTestId('ended-screen')).toContainText('The meeting ended');
      }
      // The one end record crossed the nodes: who ended it, on every page.
      for (const page of pages) {
        await expect(page.getByTestId('ended-screen')).toContainText('Ann ended the session for everyone.');
      }
      await api.dispose();
    });
  });
