// Issue 13, the bindings: the End dialogs of every demo panel (React's <EndMeetingButton>, the Angular panel over
// `endsession/angular`, <end-meeting-button>) offer "End now" and "End in N s", a message and "Lock the meeting";
// every panel shows the countdown (<SessionEndingBanner>, the Angular panel's banner over `injectSessionEnding`,
// <session-ending-banner>) with Cancel for hosts, and its ended screen says who ended the session and their message.
// The demo runs against the real server; its countdown is shortened with `?grace=N` (www/js/demo.js).
import { test, expect, type Page } from '@playwright/test';
import { backend, join, newMeeting } from './support';

type Panel = 'react' | 'angular' | 'element';
const PANELS: Panel[] = ['react', 'angular', 'element'];
/** The participant each panel seats (www/js/demo.js). */
const NAME: Record<Panel, string> = { react: 'Ada', angular: 'Ben', element: 'Cleo' };
/** The demo's countdown in these tests: long enough to see and cancel on a loaded machine, short enough to wait. */
const GRACE = 8;

test.use({ viewport: { width: 1440, height: 1100 } });

const shot = (page: Page, name: string) =>
  page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
const panel = (page: Page, name: Panel) => page.locator(`article[data-panel=${name}]`);
const pill = (page: Page, name: Panel) => page.getByTestId(`${name}-state`);
const endButton = (page: Page, name: Panel) =>
  panel(page, name).getByRole('button', { name: 'End meeting for all' });
/** The panel's countdown banner (React's and the Angular panel's `.endsession-ending`, the element's `banner` part). */
const banner = (page: Page, name: Panel) =>
  panel(page, name).locator('.endsession-ending, session-ending-banner [part=banner]');
const bannerState = (page: Page, name: Panel) =>
  panel(page, name).locator('.endsession-ending, session-ending-banner');
const cancelEnd = (page: Page, name: Panel) =>
  panel(page, name).getByRole('button', { name: 'Cancel the end' });

/** Opens the demo on a new meeting with the countdown `grace`; waits for the three panels in the room. */
async function openDemo(page: Page, request: Parameters<typeof newMeeting>[0], grace = GRACE) {
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}&grace=${grace}`);
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  return meetingId;
}

async function grant(page: Page, name: Panel) {
  const toggle = page.getByTestId(`grant-${name}`);
  if ((await toggle.getAttribute('aria-checked')) !== 'true') await toggle.click();
  await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed');
}

/** Opens `name`'s End dialog, types `message` (if any), ticks the lock (if asked), presses `action`. */
async function end(
  page: Page,
  name: Panel,
  action: 'End now' | RegExp,
  { message, lock }: { message?: string; lock?: boolean } = {},
) {
  await endButton(page, name).click();
  const dialog = panel(page, name).getByRole('dialog');
  await expect(dialog).toBeVisible();
  if (message !== undefined) await dialog.getByLabel('Message to everyone (optional)').fill(message);
  if (lock) await dialog.getByRole('checkbox', { name: 'Lock the meeting' }).check();
  await shot(page, `dialog-${name}`);
  await dialog.getByRole('button', { name: action }).click();
  await expect(dialog).toBeHidden();
}

/** The number of seconds `name`'s banner shows left. */
async function secondsShown(page: Page, name: Panel): Promise<number> {
  const text = await banner(page, name).locator('time').textContent();
  return Number(/(\d+)/.exec(text!)![1]);
}

for (const who of PANELS) {
  test(`ending with a message from the ${who} panel: every panel shows the message and who ended it`, async ({
    page,
    request,
  }) => {
    await openDemo(page, request);
    await grant(page, who);
    const message = `Thanks, everyone: notes follow by mail. (${who})`;
    await end(page, who, 'End now', { message });
    for (const name of PANELS) {
      await expect(pill(page, name)).toHaveAttribute('data-state', 'ended');
      const screen = panel(page, name).getByRole('status').filter({ hasText: 'The meeting ended.' });
      await expect(screen).toContainText(`${NAME[who]} ended the session for everyone.`);
      await expect(screen).toContainText(`Message from ${NAME[who]}`);
      await expect(screen).toContainText(message);
    }
  });
}

test('the message field takes at most 500 characters, as the server does', async ({ page, request }) => {
  await openDemo(page, request);
  for (const name of PANELS) {
    await grant(page, name);
    await endButton(page, name).click();
    const field = panel(page, name).getByRole('dialog').getByLabel('Message to everyone (optional)');
    await field.fill('y'.repeat(490));
    await field.press('End');
    await page.keyboard.insertText('z'.repeat(20)); // typed (pasted) past the limit: cut at 500
    await expect(field).toHaveValue('y'.repeat(490) + 'z'.repeat(10));
    await page.keyboard.press('Escape');
  }
});

test('"Lock the meeting" ends the session and closes the meeting: Join again is refused', async ({
  page,
  request,
}) => {
  const meetingId = await openDemo(page, request);
  await end(page, 'react', 'End now', { lock: true });
  for (const name of PANELS) await expect(pill(page, name)).toHaveAttribute('data-state', 'ended');
  const meeting = await (await backend(request)).call('GET', `/meetings/${meetingId}`);
  expect(meeting.status).toBe('INACTIVE');
  await panel(page, 'angular').getByRole('button', { name: 'Join again' }).click();
  await expect(pill(page, 'angular')).toHaveAttribute('data-state', 'rejected');
  await expect(panel(page, 'angular').getByRole('status')).toContainText('The meeting is closed');
});

test('"End in N s": every panel counts down, Cancel in any panel stops it for all, a countdown left alone ends the session', async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  await openDemo(page, request);
  const message = 'Wrapping up: five more minutes next time.';

  // The host (React) starts a countdown; the two participants cannot cancel it.
  await end(page, 'react', new RegExp(`^End in ${GRACE} s$`), { message });
  for (const name of PANELS) {
    await expect(bannerState(page, name)).toHaveAttribute(
      name === 'element' ? 'state' : 'data-state',
      'ending',
    );
    await expect(banner(page, name)).toContainText(/Ada is ending the meeting for everyone in \d+ s\./);
    await expect(banner(page, name)).toContainText('Message from Ada');
    await expect(banner(page, name)).toContainText(message);
    await expect(banner(page, name).locator('time')).toHaveText(/^Ends in \d+ s$/);
    await expect(endButton(page, name)).toBeDisabled();
  }
  await expect(cancelEnd(page, 'react')).toBeVisible();
  await expect(cancelEnd(page, 'angular')).toHaveCount(0);
  await expect(cancelEnd(page, 'element')).toHaveCount(0);
  await shot(page, 'countdown');
  // It ticks.
  const first = await secondsShown(page, 'element');
  await expect.poll(() => secondsShown(page, 'element'), { timeout: 5000 }).toBeLessThan(first);

  await cancelEnd(page, 'react').click();
  for (const name of PANELS) {
    await expect(banner(page, name)).toContainText('Ada cancelled the end. The meeting goes on.');
    await expect(banner(page, name).locator('time')).not.toBeVisible();
    await expect(cancelEnd(page, name)).toHaveCount(0);
  }
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  await shot(page, 'cancelled');

  // Every binding's Cancel: each panel a host, a countdown started in one, cancelled in another.
  await grant(page, 'angular');
  await grant(page, 'element');
  for (const [starts, cancels] of [
    ['angular', 'element'],
    ['element', 'angular'],
    ['react', 'angular'],
  ] as [Panel, Panel][]) {
    await end(page, starts, new RegExp(`^End in ${GRACE} s$`));
    for (const name of PANELS)
      await expect(banner(page, name)).toContainText(`${NAME[starts]} is ending the meeting for everyone`);
    await expect(cancelEnd(page, cancels)).toBeVisible();
    await cancelEnd(page, cancels).click();
    for (const name of PANELS) {
      await expect(banner(page, name)).toContainText(`${NAME[cancels]} cancelled the end.`);
      await expect(cancelEnd(page, name)).toHaveCount(0);
      await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed');
    }
  }

  // Left alone, the countdown ends the session for everyone, with who and the message on every ended screen.
  await end(page, 'element', new RegExp(`^End in ${GRACE} s$`), { message });
  for (const name of PANELS)
    await expect(banner(page, name)).toContainText('Cleo is ending the meeting for everyone');
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended', { timeout: (GRACE + 10) * 1000 });
    const screen = panel(page, name).getByRole('status').filter({ hasText: 'The meeting ended.' });
    await expect(screen).toContainText('Cleo ended the session for everyone.');
    await expect(screen).toContainText(message);
  }
  await shot(page, 'ended-after-countdown');
});

// A RealtimeKit meeting takes no end options: its End dialog offers "End now" only (the element is given a
// RealtimeKit-shaped meeting the page drives, as element.spec.ts does).
test('for a RealtimeKit meeting the End dialog offers "End now" only, and no banner shows', async ({
  page,
}) => {
  await page.goto('/blank.html');
  await page.setContent(`<!doctype html><html lang="en"><body>
    <session-ending-banner></session-ending-banner>
    <end-meeting-button grace-seconds="5"></end-meeting-button>
    <script type="module">
      import '/pkg/element/index.js';
      const emitter = () => ({ on() {}, off() {} });
      const self = { ...emitter(), roomState: 'joined', permissions: { ...emitter(), kickParticipant: true } };
      window.kicked = [];
      const meeting = { self, participants: { kickAll: async (...args) => window.kicked.push(args) } };
      document.querySelector('end-meeting-button').meeting = meeting;
      document.querySelector('session-ending-banner').meeting = meeting;
    </script></body></html>`);
  const button = page.locator('end-meeting-button');
  await expect(button).toHaveAttribute('state', 'allowed');
  await button.getByRole('button', { name: 'End meeting for all' }).click();
  const dialog = button.getByRole('dialog');
  await expect(dialog.getByRole('button', { name: 'End now' })).toBeVisible();
  await expect(dialog.getByRole('button', { name: /End in/ })).toHaveCount(0);
  await expect(dialog.getByRole('textbox')).toHaveCount(0);
  await expect(dialog.getByRole('checkbox')).toHaveCount(0);
  await expect(page.locator('session-ending-banner')).toHaveAttribute('state', 'idle');
  await expect(page.locator('session-ending-banner').getByRole('button')).toHaveCount(0);
});

// The single participant page (www/participant.html) has no end options in its own dialog; an end started through
// the API (`kickAll(meeting, options)`) shows there too: <session-ending-banner> and who ended it with the message.
test('the participant page shows the countdown, its Cancel, who ended the session and the message', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const ann = await join(browser, meetingId, 'Ann', 'group_call_host');
  const bob = await join(browser, meetingId, 'Bob', 'group_call_participant');
  await expect(ann.getByTestId('participant-count')).toHaveText('2');
  const start = (message: string, graceSeconds: number) =>
    ann.evaluate(
      ([message, graceSeconds]) =>
        (window as any).endsession.kickAll((window as any).meeting, { message, graceSeconds }),
      [message, graceSeconds] as const,
    );

  await start('Five minutes left.', 60);
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('ending-banner')).toHaveAttribute('state', 'ending');
    await expect(page.getByTestId('ending-banner').getByRole('status')).toContainText(
      'Ann is ending the meeting for everyone in',
    );
    await expect(page.getByTestId('ending-banner')).toContainText('Five minutes left.');
    await expect(page.getByTestId('end-button')).toBeDisabled();
  }
  await expect(bob.getByTestId('ending-banner').getByRole('button')).toHaveCount(0);
  await ann.getByTestId('ending-banner').getByRole('button', { name: 'Cancel the end' }).click();
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('ending-banner')).toHaveAttribute('state', 'cancelled');
    await expect(page.getByTestId('ending-banner')).toContainText('Ann cancelled the end.');
  }
  await expect(ann.getByTestId('end-button')).toBeEnabled();

  await start('Thanks, all.', 0);
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('ended-screen')).toContainText('Ann ended the session for everyone.');
    await expect(page.getByTestId('ended-screen')).toContainText('Message from Ann');
    await expect(page.getByTestId('ended-screen')).toContainText('Thanks, all.');
  }
});
