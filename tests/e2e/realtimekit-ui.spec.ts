// RealtimeKit's own UI kit, `@cloudflare/realtimekit-ui` 2.0.2 from npm, running its join, leave and end flow on an
// endsession meeting in Chromium against the real server: the documented `<rtk-ui-provider>` composition, the same
// components given `.meeting` alone, and the all-in-one `<rtk-meeting>`. The kit is installed into a folder under
// $TMPDIR (npm's cache makes every install after the first an offline one) and loaded through its own `loader`,
// routed in as /rtk-ui/*; endsession is the built package the server serves at /pkg/ (`npm run build` first).
import { test, expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { backend, newMeeting, type Role } from './support';

const KIT = '@cloudflare/realtimekit-ui@2.0.2';
const work = join(process.env.ENDSESSION_PACKAGING_DIR ?? tmpdir(), 'endsession-realtimekit-ui');
const kitDir = join(work, 'node_modules/@cloudflare/realtimekit-ui');

// Up to three pages of the whole kit each: 60 s left little room on a loaded two-core machine.
test.describe.configure({ timeout: 150_000 });

test.beforeAll(() => {
  test.setTimeout(180_000);
  mkdirSync(work, { recursive: true });
  if (!existsSync(join(work, 'package.json')))
    writeFileSync(join(work, 'package.json'), '{"name":"rtk-ui-host","private":true}\n');
  execFileSync(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--save=false', KIT],
    { cwd: work, stdio: 'pipe', timeout: 170_000 },
  );
  expect(JSON.parse(readFileSync(join(kitDir, 'package.json'), 'utf8')).version).toBe('2.0.2');
});

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/** The kit's strings (lib/lang/default-language.js) for the ended screen's states. */
const ENDED_TEXT = {
  ended: 'The meeting ended.',
  left: 'You left the meeting.',
  kicked: 'You were removed from the meeting.',
};

type Mode = 'provider' | 'alone' | 'rtk-meeting';

/** The page's body for each way of using the kit; `window.states` mirrors the kit's UI states. */
const BODY: Record<Mode, string> = {
  // The documented composition: the provider joins and keeps the states; the app shows the ended screen when the
  // provider's states say the meeting ended.
  provider: `<rtk-ui-provider>
      <rtk-leave-button></rtk-leave-button>
      <rtk-dialog-manager></rtk-dialog-manager>
      <div id="ended" hidden><rtk-ended-screen></rtk-ended-screen></div>
    </rtk-ui-provider>
    <script type="module">
      const meeting = await window.ready;
      const provider = document.querySelector('rtk-ui-provider');
      provider.addEventListener('rtkStatesUpdate', (e) => {
        window.states = e.detail;
        document.getElementById('ended').hidden = e.detail.meeting !== 'ended';
      });
      provider.meeting = meeting;
    </script>`,
  // No provider: the app keeps the states, as the kit's docs show for components used alone.
  alone: `<rtk-leave-button></rtk-leave-button>
    <rtk-dialog-manager></rtk-dialog-manager>
    <div id="ended" hidden><rtk-ended-screen></rtk-ended-screen></div>
    <script type="module">
      const meeting = await window.ready;
      const parts = [...document.querySelectorAll('rtk-leave-button, rtk-dialog-manager, rtk-ended-screen')];
      const update = (patch) => {
        window.states = { ...window.states, ...patch };
        for (const el of parts) el.states = window.states;
        document.getElementById('ended').hidden = window.states.meeting !== 'ended';
      };
      document.addEventListener('rtkStateUpdate', (e) => update(e.detail));
      meeting.self.on('roomJoined', () => update({ meeting: 'joined' }));
      meeting.self.on('roomLeft', ({ state }) => update({ meeting: 'ended', roomLeftState: state }));
      for (const el of parts) el.meeting = meeting;
      update({ meeting: 'idle' });
      await meeting.join();
    </script>`,
  // The whole meeting UI from the default config: it joins, renders its header, grid and control bar, and its
  // ended screen after the end.
  'rtk-meeting': `<rtk-meeting show-setup-screen="false" style="height: 600px; display: block"></rtk-meeting>
    <script type="module">
      const meeting = await window.ready;
      const ui = document.querySelector('rtk-meeting');
      ui.addEventListener('rtkStatesUpdate', (e) => (window.states = e.detail));
      ui.meeting = meeting;
    </script>`,
};

/** What went wrong on a page: uncaught errors and console errors of the TypeError kind. */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /TypeError|is not a function|Cannot read propert/.test(m.text()))
      errors.push(`console: ${m.text()}`);
  });
  return errors;
}

interface Participant {
  page: Page;
  id: string;
  errors: string[];
}

/** A participant of `meetingId` with `preset`, in its own browser context, using the kit the `mode` way; joined. */
async function open(
  browser: Browser,
  request: APIRequestContext,
  meetingId: string,
  name: string,
  preset: Role,
  mode: Mode,
): Promise<Participant> {
  const { call } = await backend(request);
  const who = await call('POST', `/meetings/${meetingId}/participants`, {
    name,
    preset_name: preset,
    custom_participant_id: `${name}-${Date.now()}`,
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watch(page);
  const origin = new URL(test.info().project.use.baseURL!).origin;
  // Offline: nothing leaves the machine (the kit asks Google Fonts for its typeface).
  await context.route(
    (url) => url.origin !== origin,
    (route) => route.abort(),
  );
  await context.route(`${origin}/rtk-ui/**`, (route) => {
    const path = normalize(
      decodeURIComponent(new URL(route.request().url()).pathname.slice('/rtk-ui/'.length)),
    );
    const file = join(kitDir, path);
    if (!file.startsWith(kitDir) || !existsSync(file)) return route.fulfill({ status: 404 });
    return route.fulfill({
      contentType: TYPES[extname(file)] ?? 'application/octet-stream',
      body: readFileSync(file),
    });
  });
  await page.goto('/blank.html');
  await page.setContent(`<!doctype html><html lang="en"><body>
    <script type="module">
      import { defineCustomElements } from '/rtk-ui/loader/index.js';
      import { initMeeting } from '/pkg/index.js';
      window.ready = defineCustomElements()
        .then(() => initMeeting({ authToken: ${JSON.stringify(who.token)}, baseURI: location.origin }))
        .then((meeting) => (window.meeting = meeting));
    </script>
    ${BODY[mode]}
  </body></html>`);
  await expect.poll(() => page.evaluate(() => (window as any).states?.meeting)).toBe('joined');
  return { page, id: who.id, errors };
}

const leaveButton = (page: Page) =>
  page.locator('rtk-leave-button').first().getByRole('button', { name: 'Leave' });
const dialog = (page: Page) => page.locator('rtk-leave-meeting');
/** The kit's ended screen's message, once it is shown. */
const endedScreen = (page: Page) =>
  page.locator('rtk-ended-screen').getByRole('paragraph').filter({ visible: true });
const roomLeftState = (page: Page) => page.evaluate(() => (window as any).states?.roomLeftState);

/** Opens the kit's leave dialog and returns whether it offers "End meeting for all"; leaves it open. */
async function openDialog(page: Page) {
  await leaveButton(page).click();
  await expect(dialog(page).getByRole('button', { name: 'Leave' })).toBeVisible();
  await expect(dialog(page).getByRole('button', { name: 'Cancel' })).toBeVisible();
  return dialog(page).getByRole('button', { name: 'End meeting for all' });
}

for (const mode of ['provider', 'alone'] as const) {
  test.describe(mode === 'provider' ? 'in <rtk-ui-provider>' : 'used alone', () => {
    test("the host's leave dialog offers End meeting for all, a guest's does not; the host's click ends it for every page", async ({
      browser,
      request,
    }) => {
      const meetingId = await newMeeting(request);
      const host = await open(browser, request, meetingId, 'host', 'group_call_host', mode);
      const guest = await open(browser, request, meetingId, 'guest', 'group_call_participant', mode);

      const guestEnd = await openDialog(guest.page);
      await expect(guestEnd).toHaveCount(0);
      await dialog(guest.page).getByRole('button', { name: 'Cancel' }).click();
      await expect(dialog(guest.page)).toHaveCount(0);
      expect(await guest.page.evaluate(() => (window as any).meeting.self.roomState)).toBe('joined');

      const hostEnd = await openDialog(host.page);
      await expect(hostEnd).toBeVisible();
      await hostEnd.click();
      for (const { page } of [host, guest]) {
        await expect(endedScreen(page)).toHaveText(ENDED_TEXT.ended);
        expect(await roomLeftState(page)).toBe('ended');
      }
      const session = await (await backend(request)).call('GET', `/meetings/${meetingId}/active-session`);
      expect(session.status).toBe('ENDED');
      expect([...host.errors, ...guest.errors]).toEqual([]);
    });

    test('an open leave dialog follows a live preset change: End meeting for all appears and goes', async ({
      browser,
      request,
    }) => {
      const meetingId = await newMeeting(request);
      const guest = await open(browser, request, meetingId, 'guest', 'group_call_participant', mode);
      const { call } = await backend(request);
      const setPreset = (preset: Role) =>
        call('PATCH', `/meetings/${meetingId}/participants/${guest.id}`, { preset_name: preset });
      const end = await openDialog(guest.page);
      await expect(end).toHaveCount(0);
      await setPreset('group_call_host');
      await expect(end).toBeVisible();
      await setPreset('group_call_participant');
      await expect(end).toHaveCount(0);
      expect(guest.errors).toEqual([]);
    });

    test("the kit's Leave shows the left text and the session goes on; a REST kick shows the kicked text", async ({
      browser,
      request,
    }) => {
      const meetingId = await newMeeting(request);
      const stay = await open(browser, request, meetingId, 'stay', 'group_call_host', mode);
      const leaver = await open(browser, request, meetingId, 'leaver', 'group_call_participant', mode);
      const kicked = await open(browser, request, meetingId, 'kicked', 'group_call_participant', mode);

      await openDialog(leaver.page);
      await dialog(leaver.page).getByRole('button', { name: 'Leave' }).click();
      await expect(endedScreen(leaver.page)).toHaveText(ENDED_TEXT.left);
      expect(await roomLeftState(leaver.page)).toBe('left');

      await (
        await backend(request)
      ).call('POST', `/meetings/${meetingId}/active-session/kick`, {
        participant_ids: [kicked.id],
      });
      await expect(endedScreen(kicked.page)).toHaveText(ENDED_TEXT.kicked);
      expect(await roomLeftState(kicked.page)).toBe('kicked');

      // The one who stayed is still in the session, its ended screen hidden.
      await expect(stay.page.locator('#ended')).toBeHidden();
      expect(await stay.page.evaluate(() => (window as any).meeting.self.roomState)).toBe('joined');
      expect([...stay.errors, ...leaver.errors, ...kicked.errors]).toEqual([]);
    });
  });
}

test('<rtk-meeting> runs on our meeting: the host ends it from the kit and every page reaches its ended screen', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const host = await open(browser, request, meetingId, 'host', 'group_call_host', 'rtk-meeting');
  const guest = await open(browser, request, meetingId, 'guest', 'group_call_participant', 'rtk-meeting');
  await expect(leaveButton(guest.page)).toBeVisible();
  const guestEnd = await openDialog(guest.page);
  await expect(guestEnd).toHaveCount(0);
  await dialog(guest.page).getByRole('button', { name: 'Cancel' }).click();

  const hostEnd = await openDialog(host.page);
  await hostEnd.click();
  for (const { page } of [host, guest]) {
    await expect(endedScreen(page)).toHaveText(ENDED_TEXT.ended);
    expect(await roomLeftState(page)).toBe('ended');
  }
  expect([...host.errors, ...guest.errors]).toEqual([]);
});

test("<rtk-meeting>: the kit's Leave reaches the left screen, a REST kick the kicked screen", async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const stay = await open(browser, request, meetingId, 'stay', 'group_call_host', 'rtk-meeting');
  const leaver = await open(browser, request, meetingId, 'leaver', 'group_call_participant', 'rtk-meeting');
  const kicked = await open(browser, request, meetingId, 'kicked', 'group_call_participant', 'rtk-meeting');
  await openDialog(leaver.page);
  await dialog(leaver.page).getByRole('button', { name: 'Leave' }).click();
  await expect(endedScreen(leaver.page)).toHaveText(ENDED_TEXT.left);
  await (
    await backend(request)
  ).call('POST', `/meetings/${meetingId}/active-session/kick`, {
    participant_ids: [kicked.id],
  });
  await expect(endedScreen(kicked.page)).toHaveText(ENDED_TEXT.kicked);
  await expect(stay.page.locator('rtk-ended-screen')).toHaveCount(0);
  await expect(leaveButton(stay.page)).toBeVisible();
  expect([...stay.errors, ...leaver.errors, ...kicked.errors]).toEqual([]);
});
