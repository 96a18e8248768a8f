// endsession with a real `@cloudflare/realtimekit` 2.0.2 meeting in Chromium, offline: the SDK's own code, driven
// through its `./mock` export (`setupStubs`) and a small socket shim (see www/test/realtimekit.js for what it patches
// and why). The page module is bundled with Vite once for the file (the SDK has bare imports) and routed in as
// /test/rtk-bundle/*.js; the page itself is www/test/realtimekit.html, served by the endsession server. Needs `npm run build` (dist/) first.
import { test, expect, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
let outDir = '';

test.beforeAll(async () => {
  const { build } = await import('vite');
  outDir = mkdtempSync(join(tmpdir(), 'endsession-rtk-'));
  const pkg = (path: string) => join(root, 'dist', path);
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    define: { 'process.env.NODE_ENV': '"production"' },
    resolve: {
      alias: [
        { find: /^endsession$/, replacement: pkg('index.js') },
        { find: /^endsession\/(end-state|react|angular|element)$/, replacement: pkg('$1/index.js') },
      ],
    },
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      lib: { entry: join(root, 'www/test/realtimekit.js'), formats: ['es'], fileName: () => 'bundle.js' },
    },
  });
});

type Role = 'host' | 'participant';

/** The test page with a real RealtimeKit meeting of `role` in `window.meeting`, joined unless `joined` is false. */
async function open(page: Page, role: Role, { joined = true } = {}) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/test/rtk-bundle/*.js', (route) =>
    route.fulfill({
      contentType: 'text/javascript',
      body: readFileSync(join(outDir, basename(new URL(route.request().url()).pathname))),
    }),
  );
  await page.goto('/test/realtimekit.html');
  await page.waitForFunction(() => 'rtk' in window);
  await page.evaluate(
    async ([role, joined]) => {
      const meeting = await window.rtk.createMeeting(role);
      window.meeting = meeting;
      window.roomLeft = [];
      window.endsession.on(meeting, 'roomLeft', ({ state }) => window.roomLeft.push(state));
      if (joined) await meeting.join();
    },
    [role, joined] as const,
  );
  return errors;
}

/** What the root API says about the meeting now. */
const gate = (page: Page) =>
  page.evaluate(() => ({
    roomState: window.meeting.self.roomState,
    kickParticipant: window.meeting.self.permissions.kickParticipant,
    canEndSession: window.endsession.canEndSession(window.meeting),
    endState: window.endsession.endStateSource(window.meeting).state,
  }));

/** The settled outcome of `kickAll(meeting, options)` started now, as `{ok, value}` or `{code, message, ...}`. */
const startKickAll = (page: Page, options?: { timeoutMs: number }) =>
  page.evaluate((options) => {
    window.kick = window.endsession.kickAll(window.meeting, options).then(
      (value) => ({ ok: true, value }),
      (e) => ({
        ok: false,
        ours: e instanceof window.endsession.ClientError,
        code: e.code,
        message: e.message,
        causeName: e.cause?.name,
      }),
    );
  }, options);
const kickOutcome = (page: Page) => page.evaluate(() => window.kick);
const kickSettled = (page: Page) =>
  page.evaluate(() =>
    Promise.race([window.kick.then(() => true), new Promise((r) => setTimeout(r, 300, false))]),
  );

test('the gate: false for a participant preset, true for a host once joined, and a live preset update flips it', async ({
  page,
}) => {
  await open(page, 'participant');
  expect(await gate(page)).toEqual({
    roomState: 'joined',
    kickParticipant: false,
    canEndSession: false,
    endState: 'no-permission',
  });
  const updates = await page.evaluate(() => {
    const seen: unknown[] = [];
    window.endsession.on(window.meeting, 'permissionsUpdate', (patch) => seen.push(patch));
    window.rtk.server.setKickParticipant(window.meeting.self.userId, true);
    return seen;
  });
  expect(updates).toEqual([expect.objectContaining({ kickParticipant: true })]);
  expect(await gate(page)).toMatchObject({ kickParticipant: true, canEndSession: true, endState: 'allowed' });
  await page.evaluate(() => window.rtk.server.setKickParticipant(window.meeting.self.userId, false));
  expect(await gate(page)).toMatchObject({ canEndSession: false, endState: 'no-permission' });
});

test('the gate of a host follows roomState: false before joining, true once joined', async ({ page }) => {
  await open(page, 'host', { joined: false });
  expect(await gate(page)).toEqual({
    roomState: 'init',
    kickParticipant: true,
    canEndSession: false,
    endState: 'not-joined',
  });
  await page.evaluate(() => window.meeting.join());
  expect(await gate(page)).toEqual({
    roomState: 'joined',
    kickParticipant: true,
    canEndSession: true,
    endState: 'allowed',
  });
});

test("kickAll before joining rejects with 1205, without the permission with RealtimeKit's 1201", async ({
  page,
}) => {
  await open(page, 'host', { joined: false });
  await startKickAll(page);
  expect(await kickOutcome(page)).toMatchObject({
    ok: false,
    ours: true,
    code: '1205',
    message:
      '[ERR1205]: {Participant} Action not permitted without joining room\nCan`t kick all without joining room',
  });

  const guest = await page.context().newPage();
  await open(guest, 'participant');
  await startKickAll(guest);
  expect(await kickOutcome(guest)).toEqual({
    ok: false,
    ours: true,
    code: '1201',
    message:
      '[ERR1201]: {Participant} Permission denied\nUnauthorized: User does not have permission to kick peers.',
    causeName: 'ClientError', // RealtimeKit's own error
  });
  expect(await guest.evaluate(() => window.rtk.sent.includes(window.rtk.EVENTS.kickAll))).toBe(false);
});

test("a host's kickAll resolves once roomLeft ended arrives; a second kickAll after leaving does not resolve", async ({
  page,
}) => {
  const errors = await open(page, 'host');
  await startKickAll(page);
  await expect
    .poll(() => page.evaluate(() => window.rtk.sent.includes(window.rtk.EVENTS.kickAll)), {
      message: 'RealtimeKit sent its kickAll socket event',
    })
    .toBe(true);
  expect(await kickSettled(page), 'RealtimeKit resolved at once; ours waits for the end').toBe(false);
  expect((await gate(page)).endState).toBe('allowed');

  await page.evaluate(() => window.rtk.server.kickAll()); // the server ends the session for everyone
  expect(await kickOutcome(page)).toEqual({
    ok: true,
    value: { sessionId: expect.any(String), kickedCount: 1, alreadyEnded: false },
  });
  expect(await page.evaluate(() => window.roomLeft)).toEqual(['ended']);
  expect(await gate(page)).toMatchObject({ roomState: 'ended', canEndSession: false, endState: 'ended' });

  // The quirk: RealtimeKit's own call still resolves after the room was left; ours does not.
  expect(await page.evaluate(() => window.meeting.participants.kickAll().then(() => 'resolved'))).toBe(
    'resolved',
  );
  await startKickAll(page);
  expect(await kickOutcome(page)).toMatchObject({ ok: false, code: '1205' });
  expect(errors).toEqual([]);
});

test('kickAll rejects with 4903 when roomLeft ended does not arrive within timeoutMs', async ({ page }) => {
  await open(page, 'host');
  await startKickAll(page, { timeoutMs: 400 });
  expect(await kickOutcome(page)).toMatchObject({ ok: false, ours: true, code: '4903' });
  expect(await gate(page)).toMatchObject({ roomState: 'joined', canEndSession: true });
});

test('a server-pushed single kick gives roomLeft kicked', async ({ page }) => {
  await open(page, 'participant');
  await page.evaluate(() => window.rtk.server.kick());
  expect(await page.evaluate(() => window.roomLeft)).toEqual(['kicked']);
  expect(await gate(page)).toMatchObject({ roomState: 'kicked', canEndSession: false, endState: 'kicked' });
});

test('the React hooks, the Angular signals and the custom elements follow a real RealtimeKit meeting', async ({
  page,
}) => {
  await open(page, 'participant');
  await page.evaluate(() => {
    window.rtk.renderReact(window.meeting);
    window.rtk.renderElements(window.meeting);
    window.angular = window.rtk.angularSignals(window.meeting);
  });
  const angular = () => page.evaluate(() => window.angular());
  expect(await angular()).toEqual({ state: 'no-permission', canEnd: false, roomLeft: null });
  const reactCan = page.locator('#react-can');
  const reactButton = page.locator('#react .endsession-button');
  const element = page.locator('end-meeting-button');
  await expect(reactCan).toHaveText('false');
  await expect(reactButton).toBeDisabled();
  await expect(element).toHaveAttribute('state', 'no-permission');
  await expect(element.locator('button[part=button]')).toBeDisabled();

  // A live preset update, pushed by the server: no reload, no re-render asked for.
  await page.evaluate(() => window.rtk.server.setKickParticipant(window.meeting.self.userId, true));
  await expect(reactCan).toHaveText('true');
  await expect(reactButton).toBeEnabled();
  await expect(element).toHaveAttribute('state', 'allowed');
  await expect(element.locator('button[part=button]')).toBeEnabled();
  expect(await angular()).toEqual({ state: 'allowed', canEnd: true, roomLeft: null });

  // End it from the element: confirm, then the server's end arrives.
  await element.locator('button[part=button]').click();
  await element.locator('button[part=confirm]').click();
  await expect(element).toHaveAttribute('state', 'ending');
  await expect
    .poll(() => page.evaluate(() => window.rtk.sent.includes(window.rtk.EVENTS.kickAll)))
    .toBe(true);
  await page.evaluate(() => window.rtk.server.kickAll());
  await expect(element).toHaveAttribute('state', 'ended');
  await expect(page.locator('meeting-ended-screen')).toHaveAttribute('state', 'ended');
  await expect(page.locator('#react-left')).toHaveText('ended');
  await expect(page.locator('#react .endsession-ended')).toHaveAttribute('data-state', 'ended');
  expect(await angular()).toEqual({ state: 'ended', canEnd: false, roomLeft: 'ended' });
});

declare global {
  interface Window {
    rtk: {
      createMeeting(role: Role): Promise<RtkMeeting>;
      server: { kick(): void; kickAll(): void; setKickParticipant(userId: string, kick: boolean): void };
      sent: number[];
      EVENTS: { kick: number; kickAll: number };
      renderReact(meeting: RtkMeeting): void;
      renderElements(meeting: RtkMeeting): void;
      angularSignals(meeting: RtkMeeting): () => { state: string; canEnd: boolean; roomLeft: string | null };
    };
    angular: () => { state: string; canEnd: boolean; roomLeft: string | null };
    endsession: typeof import('../../js/index.js') & typeof import('../../js/end-state/index.js');
    meeting: RtkMeeting;
    roomLeft: string[];
    kick: Promise<Record<string, unknown>>;
  }
}

interface RtkMeeting {
  join(): Promise<void>;
  self: { roomState: string; userId: string; permissions: { kickParticipant: boolean } };
  participants: { kickAll(): Promise<void> };
}
