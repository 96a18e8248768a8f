// Packaging: `npm pack` of this package, installed into a fresh Vite + React app and a fresh zoneless Angular 21 app
// (templates in tests/packaging/) in a temporary folder, built, and loaded in headless Chromium against the real
// server. The apps' node_modules stay in $TMPDIR/endsession-packaging between runs (npm's cache fills them the
// first time), so a re-run only re-installs the tarball and rebuilds.
import { test, expect, type APIRequestContext } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';

const root = resolve('.'); // Playwright runs from the repository root (playwright.config.ts)
const work = join(process.env.ENDSESSION_PACKAGING_DIR ?? tmpdir(), 'endsession-packaging');
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, {
    cwd,
    stdio: 'pipe',
    encoding: 'utf8',
    env: { ...process.env, NG_CLI_ANALYTICS: 'false' },
  });

test.describe.configure({ mode: 'serial', timeout: 300_000 });

test.beforeAll(() => {
  mkdirSync(work, { recursive: true });
  // The tarball, exactly as `npm publish` would ship it (dist/ is built by scripts/test.sh before Playwright).
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root).trim() || '[]');
  const file = join(work, packed[0].filename);
  cpSync(file, join(work, 'endsession.tgz'));
  rmSync(file);
  const exports = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports);
  expect(exports).toEqual(expect.arrayContaining(['.', './react', './angular', './element', './end-state']));
});

/** Copies the template, installs (cached), replaces `endsession` with the fresh tarball, builds. */
function buildApp(name: 'react' | 'angular', out: string): string {
  const dir = join(work, name);
  cpSync(join(root, 'tests/packaging', name), dir, { recursive: true });
  rmSync(join(dir, 'node_modules/endsession'), { recursive: true, force: true });
  rmSync(join(dir, 'package-lock.json'), { force: true });
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'], dir);
  // Types resolve through `exports` for every entry point.
  const types = [
    'endsession',
    'endsession/react',
    'endsession/angular',
    'endsession/element',
    'endsession/end-state',
  ];
  for (const entry of types) {
    const resolved = run(
      'node',
      ['-e', `console.log(require.resolve(${JSON.stringify(entry)}))`],
      dir,
    ).trim();
    expect(existsSync(resolved), entry).toBe(true);
  }
  if (name === 'react') run('npx', ['tsc', '-p', '.'], dir);
  run('npm', ['run', 'build'], dir);
  return join(dir, out);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
};

/**
 * Serves `dir` on a loopback port (a real local origin: Chromium's local-network checks block sockets to
 * 127.0.0.1 from pages it does not see as local). Returns the origin and the function that stops it.
 */
async function serve(dir: string): Promise<[string, () => void]> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/$/, '/index.html');
    const file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return [`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => server.close()];
}

async function host(request: APIRequestContext, baseURL: string) {
  const config = await (await request.get('/dev/config.json')).json();
  const base = `/client/v4/accounts/${config.accountId}/realtime/kit/${config.appId}`;
  const headers = { authorization: `Bearer ${config.apiToken}` };
  const meeting = await (
    await request.post(`${base}/meetings`, { headers, data: { title: 'packaging' } })
  ).json();
  const add = await request.post(`${base}/meetings/${meeting.data.id}/participants`, {
    headers,
    data: { name: 'Pat', preset_name: 'group_call_host', custom_participant_id: `pat-${Date.now()}` },
  });
  const { token } = (await add.json()).data;
  return `?server=${encodeURIComponent(baseURL)}&token=${encodeURIComponent(token)}`;
}

test('a fresh Vite + React app builds with the tarball and ends a session', async ({
  page,
  request,
  baseURL,
}) => {
  const dist = buildApp('react', 'dist');
  const [origin, stop] = await serve(dist);
  await page.goto(`${origin}/${await host(request, baseURL!)}`);
  await expect(page.getByTestId('state')).toHaveText('allowed');
  await page.getByRole('button', { name: 'End meeting for all' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'End for all' }).click();
  await expect(page.getByTestId('state')).toHaveText('ended');
  await expect(page.getByRole('status').first()).toContainText('The meeting ended.');
  await expect(page.getByTestId('element-screen')).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('react-app.png') });
  stop();
});

test('a fresh zoneless Angular 21 app builds with the tarball and ends a session', async ({
  page,
  request,
  baseURL,
}) => {
  const dist = buildApp('angular', 'dist/browser');
  const [origin, stop] = await serve(dist);
  await page.goto(`${origin}/${await host(request, baseURL!)}`);
  await expect(page.getByTestId('state')).toHaveText('allowed');
  await page.getByRole('button', { name: 'End meeting for all' }).click();
  await expect(page.getByTestId('left')).toHaveText('ended');
  await expect(page.getByTestId('state')).toHaveText('ended');
  await page.screenshot({ path: test.info().outputPath('angular-app.png') });
  stop();
});
