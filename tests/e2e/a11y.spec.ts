// WCAG 2.1 AA with axe-core (injected by @axe-core/playwright) in Chromium against the real server: the demo page in
// each state a user sees (joined, the confirmation dialog open, ended), and a page with each custom element in each
// of its states with its default colours. A failure lists each violation with its rule, target and summary.
import { test, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { backend, newMeeting } from './support';

const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** The page's WCAG 2.1 A and AA violations, one line per failing node. */
async function violations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(WCAG_AA).analyze();
  return violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ')}`),
  );
}

test.use({ viewport: { width: 1440, height: 1000 } });

test('the demo page has no WCAG 2.1 AA violation when joined, with the dialog open, and ended', async ({
  page,
  request,
}) => {
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}`);
  const react = page.locator('article[data-panel=react]');
  await expect(page.getByTestId('react-state')).toHaveAttribute('data-state', 'allowed');
  await expect(page.getByTestId('element-state')).toHaveAttribute('data-state', 'no-permission');
  await expect(page.getByTestId('angular-state')).toHaveAttribute('data-state', 'no-permission');
  expect.soft(await violations(page), 'joined').toEqual([]);

  await react.getByRole('button', { name: 'End meeting for all' }).click();
  const dialog = react.getByRole('dialog');
  await expect(dialog).toBeVisible();
  expect.soft(await violations(page), 'dialog open').toEqual([]);

  await dialog.getByRole('button', { name: 'End now' }).click();
  for (const name of ['react', 'angular', 'element']) {
    await expect(page.getByTestId(`${name}-state`)).toHaveAttribute('data-state', 'ended');
  }
  expect.soft(await violations(page), 'ended').toEqual([]);
});

test('the demo page has no WCAG 2.1 AA violation with the end options, a countdown, after a cancel, and ended with a message', async ({
  page,
  request,
}) => {
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}&grace=60`);
  const react = page.locator('article[data-panel=react]');
  await expect(page.getByTestId('react-state')).toHaveAttribute('data-state', 'allowed');
  await react.getByRole('button', { name: 'End meeting for all' }).click();
  const dialog = react.getByRole('dialog');
  await dialog.getByLabel('Message to everyone (optional)').fill('Wrapping up: thanks, all.');
  await dialog.getByRole('checkbox', { name: 'Lock the meeting' }).focus();
  expect.soft(await violations(page), 'dialog with the end options').toEqual([]);

  await dialog.getByRole('button', { name: 'End in 60 s' }).click();
  for (const name of ['react', 'angular', 'element'])
    await expect(page.locator(`article[data-panel=${name}]`).getByRole('status')).toContainText(
      'Ada is ending the meeting for everyone',
    );
  await expect(react.getByRole('button', { name: 'Cancel the end' })).toBeVisible();
  expect.soft(await violations(page), 'countdown').toEqual([]);

  await react.getByRole('button', { name: 'Cancel the end' }).click();
  for (const name of ['react', 'angular', 'element'])
    await expect(page.locator(`article[data-panel=${name}]`).getByRole('status')).toContainText(
      'Ada cancelled the end.',
    );
  expect.soft(await violations(page), 'cancelled').toEqual([]);

  await react.getByRole('button', { name: 'End meeting for all' }).click();
  await dialog.getByLabel('Message to everyone (optional)').fill('See you next week.');
  await dialog.getByRole('button', { name: 'End now' }).click();
  for (const name of ['react', 'angular', 'element'])
    await expect(page.locator(`article[data-panel=${name}]`).getByRole('status')).toContainText(
      'See you next week.',
    );
  expect.soft(await violations(page), 'ended with a message').toEqual([]);
});

test('each custom element has no WCAG 2.1 AA violation in its default colours, in every state', async ({
  page,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const api = await backend(request);
  const who = async (preset: string) =>
    (
      await api.call('POST', `/meetings/${meetingId}/participants`, {
        name: preset,
        preset_name: preset,
        custom_participant_id: `${preset}-${Date.now()}`,
      })
    ).token as string;
  const [host, guest] = [await who('group_call_host'), await who('group_call_participant')];
  await page.goto('/blank.html');
  // Both elements on a plain white page, as they come: no --endsession-* property set.
  await page.setContent(`<!doctype html><html lang="en"><head><title>endsession elements</title></head>
    <body style="font-family: sans-serif; margin: 0">
    <main>
    <section style="padding: 2rem; background: #fff; color: #111">
      <h1>Elements</h1>
      <end-meeting-button data-testid="host-button"></end-meeting-button>
      <end-meeting-button data-testid="guest-button"></end-meeting-button>
      <session-ending-banner data-testid="host-banner"></session-ending-banner>
      <session-ending-banner data-testid="guest-banner"></session-ending-banner>
      <meeting-ended-screen><button>Join again</button></meeting-ended-screen>
    </section>
    </main>
    <script type="module">
      import { initMeeting } from '/pkg/index.js';
      import '/pkg/element/index.js';
      const open = async (token) => {
        const meeting = await initMeeting({ authToken: token, baseURI: location.origin });
        await meeting.join();
        return meeting;
      };
      const [host, guest] = await Promise.all([open(${JSON.stringify(host)}), open(${JSON.stringify(guest)})]);
      document.querySelector('[data-testid=host-button]').meeting = host;
      document.querySelector('[data-testid=guest-button]').meeting = guest;
      document.querySelector('[data-testid=host-banner]').meeting = host;
      document.querySelector('[data-testid=guest-banner]').meeting = guest;
      document.querySelector('meeting-ended-screen').meeting = host;
      window.host = host;
      window.endsession = await import('/pkg/index.js');
    </script></body></html>`);
  const hostButton = page.getByTestId('host-button');
  await expect(hostButton).toHaveAttribute('state', 'allowed');
  await expect(page.getByTestId('guest-button')).toHaveAttribute('state', 'no-permission');
  expect.soft(await violations(page), 'allowed and no-permission').toEqual([]);

  // The error text as the button shows it when kickAll fails (styled by its data-error attribute).
  await hostButton.evaluate((el) => {
    const reason = el.shadowRoot!.querySelector('[part=reason]')!;
    reason.setAttribute('data-error', '');
    reason.textContent = 'Could not end the meeting.';
  });
  expect.soft(await violations(page), 'error text').toEqual([]);
  await hostButton.evaluate((el) => {
    const reason = el.shadowRoot!.querySelector('[part=reason]')!;
    reason.removeAttribute('data-error');
    reason.textContent = '';
  });

  // Still themeable: the existing custom property sets the fill.
  const fill = () =>
    hostButton
      .getByRole('button', { name: 'End meeting for all' })
      .evaluate((b) => getComputedStyle(b).backgroundColor);
  expect(await fill()).toBe('rgb(209, 52, 56)'); // the default, #d13438
  await hostButton.evaluate((el) => el.style.setProperty('--endsession-danger', 'rgb(120, 20, 30)'));
  expect(await fill()).toBe('rgb(120, 20, 30)');
  await hostButton.evaluate((el) => el.style.removeProperty('--endsession-danger'));

  // The countdown banner: counting down with a message (Cancel for the host only), then cancelled.
  await page.evaluate(() => {
    const w = window as any;
    return w.endsession.kickAll(w.host, { graceSeconds: 60, message: 'Wrapping up: thanks, all.' });
  });
  for (const id of ['host-banner', 'guest-banner'])
    await expect(page.getByTestId(id)).toHaveAttribute('state', 'ending');
  await expect(page.getByTestId('host-banner').getByRole('button', { name: 'Cancel the end' })).toBeVisible();
  await expect(page.getByTestId('guest-banner').getByRole('button')).toHaveCount(0);
  expect.soft(await violations(page), 'countdown').toEqual([]);
  await page.getByTestId('host-banner').getByRole('button', { name: 'Cancel the end' }).click();
  for (const id of ['host-banner', 'guest-banner'])
    await expect(page.getByTestId(id)).toHaveAttribute('state', 'cancelled');
  expect.soft(await violations(page), 'cancelled').toEqual([]);

  await expect(hostButton).toHaveAttribute('state', 'allowed');
  await hostButton.getByRole('button', { name: 'End meeting for all' }).click();
  await expect(hostButton.getByRole('dialog')).toBeVisible();
  await expect(hostButton.getByRole('dialog').getByRole('button', { name: 'End in 30 s' })).toBeVisible();
  expect.soft(await violations(page), 'dialog open').toEqual([]);

  await hostButton.getByRole('dialog').getByRole('button', { name: 'End now' }).click();
  await expect(page.locator('meeting-ended-screen').getByRole('status')).toBeVisible();
  expect.soft(await violations(page), 'ended').toEqual([]);
});

test('the single participant page has no WCAG 2.1 AA violation when joined, with the dialog open, and ended', async ({
  page,
  request,
}) => {
  const meetingId = await newMeeting(request);
  await page.goto(`/participant.html?meeting=${meetingId}&name=Ann&preset=group_call_host`);
  await expect(page.getByTestId('state')).toHaveText('joined');
  await expect(page.getByTestId('end-button')).toBeEnabled();
  expect.soft(await violations(page), 'joined').toEqual([]);
  await page.getByTestId('end-button').click();
  await expect(page.getByRole('dialog')).toBeVisible();
  expect.soft(await violations(page), 'dialog open').toEqual([]);
  await page.getByTestId('confirm-end').click();
  await expect(page.getByTestId('ended-screen')).toBeVisible();
  expect.soft(await violations(page), 'ended').toEqual([]);
});
