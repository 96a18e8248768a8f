// The demo page (www/index.html) in Chromium against the real server: three panels (React, Angular, Web
// Component), each its own participant and connection, and the backend pane calling the REST API. Every test opens
// the demo on a fresh meeting (`/?meeting=…`). Screenshots of each state are saved as test artifacts.
import { test, expect, type Locator, type Page } from '@playwright/test';
import { newMeeting, walkDialogByKeyboard } from './support';

type Panel = 'react' | 'angular' | 'element';
const PANELS: Panel[] = ['react', 'angular', 'element'];
const NAMES: Record<Panel, string> = { react: 'React', angular: 'Angular', element: 'Web Component' };

test.use({ viewport: { width: 1440, height: 1000 } });

const shot = (page: Page, name: string) =>
  page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });

const panel = (page: Page, name: Panel) => page.locator(`article[data-panel=${name}]`);
const pill = (page: Page, name: Panel) => page.getByTestId(`${name}-state`);
const endButton = (page: Page, name: Panel) =>
  panel(page, name).getByRole('button', { name: 'End meeting for all' });
const toggle = (page: Page, name: Panel) => page.getByTestId(`grant-${name}`);

/** The ended screen of a panel (React's <MeetingEndedScreen>, the Angular panel's, <meeting-ended-screen>). */
const endedScreen = (page: Page, name: Panel): Locator => panel(page, name).getByRole('status');

/** Opens the demo on a new meeting and waits for the default roles: React a host, the other two participants. */
async function openDemo(page: Page, request: Parameters<typeof newMeeting>[0]) {
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}`);
  await expect(page.getByTestId('meeting-id')).toHaveText(meetingId);
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  await expect(pill(page, 'angular')).toHaveAttribute('data-state', 'no-permission');
  await expect(pill(page, 'element')).toHaveAttribute('data-state', 'no-permission');
  await expect(endButton(page, 'react')).toBeEnabled();
  await expect(endButton(page, 'angular')).toBeDisabled();
  await expect(endButton(page, 'element')).toBeDisabled();
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  return meetingId;
}

/** Grants the end permission from the backend pane (a no-op for the host) and waits for the panel to follow. */
async function grant(page: Page, name: Panel) {
  if ((await toggle(page, name).getAttribute('aria-checked')) !== 'true') await toggle(page, name).click();
  await expect(toggle(page, name)).toHaveAttribute('aria-checked', 'true');
  await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed');
  await expect(endButton(page, name)).toBeEnabled();
}

async function expectAllEnded(page: Page) {
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended');
    await expect(endedScreen(page, name)).toBeVisible();
    await expect(endedScreen(page, name)).toContainText('The meeting ended.');
    await expect(panel(page, name).getByRole('button', { name: 'Join again' })).toBeVisible();
    await expect(endButton(page, name)).toHaveCount(0);
  }
}

for (const name of PANELS) {
  test(`ending from the ${NAMES[name]} panel shows every panel its ended screen`, async ({
    page,
    request,
  }) => {
    await openDemo(page, request);
    await shot(page, 'joined');
    await grant(page, name);
    await endButton(page, name).click();
    const dialog = panel(page, name).getByRole('dialog');
    await expect(dialog).toBeVisible();
    await expect(dialog).toHaveAccessibleName('End the meeting for everyone?');
    await shot(page, 'confirm');
    await dialog.getByRole('button', { name: 'End now' }).click();
    await expectAllEnded(page);
    await shot(page, 'ended');
  });
}

test('a revoke in the backend pane disables that panel’s button within a second, without a reload', async ({
  page,
  request,
}) => {
  await openDemo(page, request);
  let loads = 0;
  page.on('load', () => loads++);
  for (const name of PANELS) {
    await grant(page, name);
    await toggle(page, name).click(); // revoke
    await expect(endButton(page, name)).toBeDisabled({ timeout: 1000 });
    await expect(pill(page, name)).toHaveAttribute('data-state', 'no-permission');
    await expect(panel(page, name)).toContainText('Your role cannot end the meeting for everyone.');
    await expect(toggle(page, name)).toHaveAttribute('aria-checked', 'false');
  }
  await shot(page, 'all-revoked');
  await toggle(page, 'angular').click(); // grant again: it follows the other way too
  await expect(endButton(page, 'angular')).toBeEnabled({ timeout: 1000 });
  await shot(page, 'angular-granted');
  expect(loads).toBe(0);
});

for (const name of PANELS) {
  test(`the ${NAMES[name]} panel's confirmation dialog works with the keyboard alone`, async ({
    page,
    request,
  }) => {
    await openDemo(page, request);
    await grant(page, name);
    // Start the Tab order at the panel's title, as a reader of the panel would.
    await panel(page, name).locator('h2').first().click();
    await page.keyboard.press('Tab');
    await expect(endButton(page, name)).toBeFocused();
    await page.keyboard.press('Enter');
    const dialog = panel(page, name).getByRole('dialog');
    await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await shot(page, 'dialog');
    // Focus trapped in the dialog; Esc cancels: nothing ended, the focus is back on the button.
    const { cancel } = await walkDialogByKeyboard(page, dialog);
    await expect(pill(page, name)).toHaveAttribute('data-state', 'allowed');
    await expect(endButton(page, name)).toBeFocused();
    await shot(page, 'cancelled');
    // Enter opens it again, Tab to "End now", Enter ends the session for everyone.
    await page.keyboard.press('Enter');
    await expect(cancel).toBeFocused();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expectAllEnded(page);
    await shot(page, 'ended');
  });
}

test('the backend pane ends the session via the API, closes and reopens the meeting, and rejoins', async ({
  page,
  request,
}) => {
  await openDemo(page, request);
  const session = await page.getByTestId('react-session').textContent();
  await page.getByTestId('end-api').click();
  await expectAllEnded(page);
  // Every panel says why and who: the app's backend (the API) ended it for everyone.
  for (const name of PANELS)
    await expect(endedScreen(page, name)).toContainText(
      "The meeting's organiser ended the session for everyone.",
    );
  await shot(page, 'ended-via-api');

  await page.getByTestId('set-inactive').click();
  await expect(page.getByTestId('meeting-status')).toHaveText('INACTIVE');
  await page.getByTestId('rejoin-all').click();
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'rejected');
    await expect(endedScreen(page, name)).toContainText('You could not join.');
    await expect(endedScreen(page, name)).toContainText('The meeting is closed'); // the server's why (4030)
  }
  await shot(page, 'inactive-rejected');

  await page.getByTestId('set-active').click();
  await expect(page.getByTestId('meeting-status')).toHaveText('ACTIVE');
  await page.getByTestId('rejoin-all').click();
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  await expect(pill(page, 'angular')).toHaveAttribute('data-state', 'no-permission');
  await expect(pill(page, 'element')).toHaveAttribute('data-state', 'no-permission');
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  await expect(page.getByTestId('react-session')).not.toHaveText(session!);
  await shot(page, 'rejoined');
});
