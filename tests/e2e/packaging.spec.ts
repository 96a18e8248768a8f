// Packaging: `npm pack` of this package, installed into fresh apps (templates in tests/packaging/) in a temporary
// folder, built as a new user builds them, and loaded in headless Chromium against the real server: Vite + React,
// zoneless Angular 21, webpack 5 (no wasm rule), Next.js 16 App Router (a Server Component page and a client
// component, static export), a page with no bundler (an import map), and Node `renderToString` of the React binding.
// The apps' node_modules stay in $TMPDIR/endsession-packaging between runs and installs prefer npm's cache
// (`--prefer-offline`), so a re-run works offline and only re-installs the tarball and rebuilds. Each test reports
// its install and build times as annotations (and on stdout).
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';

const root = resolve('.'); // Playwright runs from the repository root (playwright.config.ts)
const work = join(process.env.ENDSESSION_PACKAGING_DIR ?? tmpdir(), 'endsession-packaging');
const env = {
  ...process.env,
  NG_CLI_ANALYTICS: 'false',
  NEXT_TELEMETRY_DISABLED: '1',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8', env });

/** Runs a build step with a deadline; returns stdout and stderr together (warnings go to either). */
function runAll(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout: timeoutMs });
  // Without colour codes, so that the output reads as plain text.
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '');
  if (result.error) throw new Error(`${cmd} ${args.join(' ')}: ${result.error.message}\n${output}`);
  if (result.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status}\n${output}`);
  return output;
}

/** Times `step`, records the time as an annotation of the running test and prints it. */
function timed<T>(what: string, step: () => T): T {
  const start = Date.now();
  const value = step();
  const seconds = ((Date.now() - start) / 1000).toFixed(1);
  test.info().annotations.push({ type: what, description: `${seconds} s` });
  console.log(`[packaging] ${test.info().title}: ${what} ${seconds} s`);
  return value;
}

// Any warning of a build, such as Rollup's "Module level directives cause errors when bundled" when a bundle drops
// the React binding's 'use client' (Vite, webpack, Angular and Next.js all print none today).
const BUILD_WARNING = /warn|⚠|directive/i;

// Not serial: one app that fails to build does not hide how the others do.
test.describe.configure({ timeout: 300_000 });

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

type App = 'react' | 'angular' | 'webpack' | 'next' | 'nobundler';

/** Copies the template and installs it (npm's cache first) with the fresh tarball as `endsession`. */
function installApp(name: App): string {
  const dir = join(work, name);
  cpSync(join(root, 'tests/packaging', name), dir, { recursive: true });
  rmSync(join(dir, 'node_modules/endsession'), { recursive: true, force: true });
  rmSync(join(dir, 'package-lock.json'), { force: true });
  timed('install', () =>
    runAll(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'],
      dir,
      300_000,
    ),
  );
  return dir;
}

/** Installs the app and builds it with its own `npm run build`; returns the build's output. */
function buildApp(name: App, buildArgs: string[] = []): { dir: string; output: string } {
  const dir = installApp(name);
  if (name === 'react') {
    // Types resolve through `exports` for every entry point.
    for (const entry of [
      'endsession',
      'endsession/react',
      'endsession/angular',
      'endsession/element',
      'endsession/end-state',
    ]) {
      const resolved = run(
        'node',
        ['-e', `console.log(require.resolve(${JSON.stringify(entry)}))`],
        dir,
      ).trim();
      expect(existsSync(resolved), entry).toBe(true);
    }
    run('npx', ['tsc', '-p', '.'], dir);
  }
  const args = buildArgs.length ? ['run', 'build', '--', ...buildArgs] : ['run', 'build'];
  const output = timed('build', () => runAll('npm', args, dir, 420_000));
  return { dir, output };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.txt': 'text/plain',
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

/** Joins as a host on the page at `origin` and ends the session with the button and its confirmation dialog. */
async function joinAndEnd(
  page: Page,
  origin: string,
  request: APIRequestContext,
  baseURL: string,
  scope = page.locator('body'),
) {
  await page.goto(`${origin}/${await host(request, baseURL)}`);
  await expect(page.getByTestId('state')).toHaveText(/allowed|joined/);
  await scope.getByRole('button', { name: 'End meeting for all' }).click();
  await scope.getByRole('dialog').getByRole('button', { name: 'End now' }).click();
  await expect(page.getByTestId('state')).toHaveText('ended');
}

test('a fresh Vite + React app builds with the tarball and ends a session', async ({
  page,
  request,
  baseURL,
}) => {
  const { dir, output } = buildApp('react');
  expect(output).not.toMatch(BUILD_WARNING);
  const [origin, stop] = await serve(join(dir, 'dist'));
  await joinAndEnd(page, origin, request, baseURL!);
  await expect(page.getByRole('status').first()).toContainText('The meeting ended.');
  await expect(page.getByTestId('element-screen')).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('react-app.png') });
  stop();
});

test('Node renderToString of the React binding needs no wasm and no socket', () => {
  const dir = installApp('react');
  const html = timed('render', () => run('node', ['ssr.mjs'], dir));
  // The button as a user first sees it: disabled, with the reason, and no ended screen yet.
  expect(html).toMatch(/<button[^>]*disabled=""[^>]*>End meeting for all<\/button>/);
  expect(html).toMatch(/<p[^>]*>Join the meeting[^<]*<\/p>/);
  expect(html).not.toContain('role="status"');
});

test('a fresh zoneless Angular 21 app builds with the tarball and ends a session', async ({
  page,
  request,
  baseURL,
}) => {
  const { dir, output } = buildApp('angular');
  expect(output).not.toMatch(BUILD_WARNING);
  const [origin, stop] = await serve(join(dir, 'dist/browser'));
  await page.goto(`${origin}/${await host(request, baseURL!)}`);
  await expect(page.getByTestId('state')).toHaveText('allowed');
  await page.getByRole('button', { name: 'End meeting for all' }).click();
  await expect(page.getByTestId('left')).toHaveText('ended');
  await expect(page.getByTestId('state')).toHaveText('ended');
  await page.screenshot({ path: test.info().outputPath('angular-app.png') });
  stop();
});

test('a fresh webpack 5 app with no wasm rule builds with the tarball and ends a session', async ({
  page,
  request,
  baseURL,
}) => {
  const { dir, output } = buildApp('webpack');
  expect(output).toContain('compiled successfully');
  expect(output).not.toMatch(BUILD_WARNING);
  const [origin, stop] = await serve(join(dir, 'dist'));
  await joinAndEnd(page, origin, request, baseURL!);
  await expect(page.getByTestId('screen').getByRole('status')).toContainText('The meeting ended.');
  await page.screenshot({ path: test.info().outputPath('webpack-app.png') });
  stop();
});

test('a page with no bundler loads every subpath through an import map and ends a session', async ({
  page,
  request,
  baseURL,
}) => {
  const dir = installApp('nobundler');
  // One import map entry per browser subpath of `exports`, each the file `exports` names.
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const map = JSON.parse(html.match(/<script type="importmap">([\s\S]*?)<\/script>/)![1]!).imports;
  const exports = JSON.parse(readFileSync(join(dir, 'node_modules/endsession/package.json'), 'utf8')).exports;
  const browser = Object.keys(exports).filter((k) => k !== './package.json' && k !== './webhooks');
  expect(Object.keys(map).sort()).toEqual(browser.map((k) => k.replace(/^\./, 'endsession')).sort());
  for (const k of browser) {
    expect(map[k.replace(/^\./, 'endsession')]).toBe(
      `./node_modules/endsession/${exports[k].default.slice(2)}`,
    );
  }
  const [origin, stop] = await serve(dir);
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(r.url()));
  page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
  await joinAndEnd(page, origin, request, baseURL!);
  await expect(page.getByTestId('screen').getByRole('status')).toContainText('The meeting ended.');
  expect(failed).toEqual([]);
  stop();
});

// `next build` uses Turbopack; `next build --webpack` is Next's other bundler, still supported.
for (const bundler of ['turbopack', 'webpack'] as const) {
  test(`a fresh Next.js 16 App Router app (Server Component page) builds with ${bundler} and ends a session`, async ({
    page,
    request,
    baseURL,
  }) => {
    test.setTimeout(600_000);
    const { dir, output } = buildApp('next', bundler === 'webpack' ? ['--webpack'] : []);
    expect(output).toContain(`Next.js 16.4.6 (${bundler === 'webpack' ? 'webpack' : 'Turbopack'})`);
    expect(output).not.toMatch(BUILD_WARNING);
    // The Server Component's button is in the prerendered HTML: disabled, with its reason.
    const prerendered = readFileSync(join(dir, 'out/index.html'), 'utf8');
    expect(prerendered).toMatch(/<button[^>]*disabled=""[^>]*>End meeting for all \(server\)<\/button>/);
    const [origin, stop] = await serve(join(dir, 'out'));
    const client = page.getByTestId('client');
    await joinAndEnd(page, origin, request, baseURL!, client);
    await expect(client.getByRole('status')).toContainText('The meeting ended.');
    await expect(page.getByTestId('server').getByRole('button')).toBeDisabled();
    await page.screenshot({ path: test.info().outputPath(`next-${bundler}-app.png`) });
    stop();
  });
}
