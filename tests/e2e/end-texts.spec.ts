// The bindings' texts under hostile and awkward input — an end message and a participant name carrying HTML
// and <script>, a right-to-left message, a 500-character message, the REST API's end and NO_HOST — in each binding
// (React, Angular, the Web Component), plus the banner's live region.
// README "Framework bindings": "During a countdown every participant sees a banner with the seconds left, who started
// it and the message ... Its sentence is in a `role="status"` region, spoken once, the ticking seconds outside it. The
// ended screens say who ended the session ("Ada ended the session for everyone."; "The meeting's organiser …" for the
// REST API), why, and the host's message."
import { test, expect, type Page } from '@playwright/test';
import { backend, join, newMeeting } from './support';

type Panel = 'react' | 'angular' | 'element';
const PANELS: Panel[] = ['react', 'angular', 'element'];

test.use({ viewport: { width: 1440, height: 1100 } });

const panel = (page: Page, name: Panel) => page.locator(`article[data-panel=${name}]`);
const pill = (page: Page, name: Panel) => page.getByTestId(`${name}-state`);
const banner = (page: Page, name: Panel) =>
  panel(page, name).locator('.endsession-ending, session-ending-banner [part=banner]');
const endedScreen = (page: Page, name: Panel) =>
  panel(page, name).getByRole('status').filter({ hasText: 'The meeting ended.' });

const HOSTILE = `<script>window.pwned = 'script'</script><img src=x onerror="window.pwned='img'"><b>bold</b> & "q"`;
const RTL = 'شكراً للجميع، نلتقي الأسبوع القادم. ‏(Thanks!)';

async function openDemo(page: Page, request: Parameters<typeof newMeeting>[0], grace = 30) {
  const meetingId = await newMeeting(request);
  await page.goto(`/?meeting=${meetingId}&grace=${grace}`);
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  return meetingId;
}

/** No element the message could have smuggled in, and no script of it ran. */
async function expectInert(page: Page) {
  expect(await page.evaluate(() => (window as any).pwned)).toBeUndefined();
  for (const name of PANELS) {
    await expect(panel(page, name).locator('img[src=x], b:text("bold")')).toHaveCount(0);
  }
  const shadowHits = await page.evaluate(() => {
    let hits = 0;
    const walk = (root: Document | ShadowRoot) => {
      hits += root.querySelectorAll('img[src="x"]').length;
      for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
    };
    walk(document);
    return hits;
  });
  expect(shadowHits, 'no <img> from the message in any shadow root').toBe(0);
}

test('a REST countdown with an HTML message: every binding shows it as text, names the organiser, then ends', async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  const meetingId = await openDemo(page, request);
  const api = await backend(request);
  // README: "as extra body fields of REST kick-all"
  await api.call('POST', `/meetings/${meetingId}/active-session/kick-all`, {
    graceSeconds: 6,
    message: HOSTILE,
  });
  for (const name of PANELS) {
    await expect(banner(page, name)).toContainText(
      "The meeting's organiser is ending the meeting for everyone",
    );
    await expect(banner(page, name)).toContainText(HOSTILE);
    // "Its sentence is in a role="status" region ... the ticking seconds outside it."
    const status = banner(page, name).getByRole('status');
    await expect(status).toHaveCount(1);
    await expect(status).toContainText('is ending the meeting for everyone');
    await expect(status.locator('time')).toHaveCount(0);
  }
  await expectInert(page);
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended', { timeout: 30_000 });
    await expect(endedScreen(page, name)).toContainText(
      "The meeting's organiser ended the session for everyone.",
    );
    await expect(endedScreen(page, name)).toContainText("Message from the meeting's organiser");
    await expect(endedScreen(page, name)).toContainText(HOSTILE);
  }
  await expectInert(page);
  // The backend pane lists the delivery, verified, with the message as text.
  const row = page.locator('#deliveries li[data-event="meeting.ended"]').first();
  await expect(row).toHaveAttribute('data-verified', 'true', { timeout: 20_000 });
  await expect(row).toContainText(HOSTILE);
  await expectInert(page);
});

test('a right-to-left message and a 500-character one are shown whole in every binding', async ({
  page,
  request,
}) => {
  const meetingId = await openDemo(page, request);
  const api = await backend(request);
  const long = ('Long message ' + 'x'.repeat(40) + ' ').repeat(20).slice(0, 499) + 'Ω';
  expect([...long].length).toBe(500);
  await api.call('POST', `/meetings/${meetingId}/active-session/kick-all`, {
    graceSeconds: 60,
    message: RTL,
  });
  for (const name of PANELS) await expect(banner(page, name)).toContainText(RTL);
  await api.call('POST', `/meetings/${meetingId}/active-session/cancel-end`);
  for (const name of PANELS)
    await expect(banner(page, name)).toContainText("The meeting's organiser cancelled the end.");
  await api.call('POST', `/meetings/${meetingId}/active-session/kick-all`, { message: long });
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended');
    await expect(endedScreen(page, name)).toContainText(long);
  }
});

test('NO_HOST: the last host revoked, every binding counts down "No host is left" and says why it ended', async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  const meetingId = await newMeeting(request);
  const api = await backend(request);
  // README: "`end_when_no_host_after_secs` ... read when a session starts": set before the panels join.
  await api.call('PATCH', `/meetings/${meetingId}`, { end_when_no_host_after_secs: 5 });
  await page.goto(`/?meeting=${meetingId}&grace=30`);
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
  for (const name of PANELS) await expect(panel(page, name)).toContainText('3 in the room');
  // Revoke the only host (React's Ada).
  await page.getByTestId('grant-react').click();
  // README: "the end state `ending` until the end" — for everyone, the revoked host included.
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'ending');
  for (const name of PANELS) {
    await expect(banner(page, name)).toContainText('No host is left: the meeting ends for everyone in');
    await expect(panel(page, name).getByRole('button', { name: 'Cancel the end' })).toHaveCount(0);
  }
  for (const name of PANELS) {
    await expect(pill(page, name)).toHaveAttribute('data-state', 'ended', { timeout: 30_000 });
    await expect(endedScreen(page, name)).toContainText('The session ended because no host was left in it.');
  }
  const row = page.locator('#deliveries li[data-event="meeting.ended"]').first();
  await expect(row).toHaveAttribute('data-verified', 'true', { timeout: 20_000 });
  await expect(row).toContainText('NO_HOST');
});

test('a host whose name is HTML: the banner and the ended screen show the name as text', async ({
  browser,
  request,
}) => {
  const meetingId = await newMeeting(request);
  const name = `<img src=x onerror="window.pwned='name'">Mallory`;
  const ann = await join(browser, meetingId, encodeURIComponent(name), 'group_call_host');
  const bob = await join(browser, meetingId, 'Bob', 'group_call_participant');
  await expect(ann.getByTestId('participant-count')).toHaveText('2');
  await ann.evaluate(
    (message) => (window as any).endsession.kickAll((window as any).meeting, { message, graceSeconds: 60 }),
    HOSTILE,
  );
  await expect(bob.getByTestId('ending-banner').getByRole('status')).toContainText(
    `${name} is ending the meeting for everyone in`,
  );
  await expect(bob.getByTestId('ending-banner')).toContainText(HOSTILE);
  await ann.evaluate(() => (window as any).endsession.kickAll((window as any).meeting, { message: 'now' }));
  await expect(bob.getByTestId('ended-screen')).toContainText(`${name} ended the session for everyone.`);
  for (const page of [ann, bob]) {
    expect(await page.evaluate(() => (window as any).pwned)).toBeUndefined();
    expect(
      await page.evaluate(() => {
        let hits = 0;
        const walk = (root: Document | ShadowRoot) => {
          hits += root.querySelectorAll('img[src="x"]').length;
          for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
        };
        walk(document);
        return hits;
      }),
    ).toBe(0);
  }
});

// README: "Every participant gets `sessionEnding` (also one who joins during the countdown, by the time `join()`
// resolves)" and "During a countdown every participant sees a banner": panels that join mid-countdown (the page
// reloaded) show it at once, in every binding, with the time left of the running countdown (not a fresh one).
test('panels joining during a countdown (page reloaded) show its banner at once, and their host can cancel it', async ({
  page,
  request,
}) => {
  const meetingId = await openDemo(page, request);
  const api = await backend(request);
  await api.call('POST', `/meetings/${meetingId}/active-session/kick-all`, {
    graceSeconds: 120,
    message: 'Joined late?',
  });
  for (const name of PANELS) await expect(banner(page, name)).toContainText('Joined late?');
  await page.waitForTimeout(2500); // the countdown runs on: the late joiners must see less than 120 s
  await page.reload();
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'ending');
  for (const name of PANELS) {
    await expect(banner(page, name)).toContainText(
      "The meeting's organiser is ending the meeting for everyone",
    );
    await expect(banner(page, name)).toContainText('Joined late?');
    const seconds = Number(/(\d+)/.exec((await banner(page, name).locator('time').textContent())!)![1]);
    expect(seconds, `${name}: the running countdown's time left`).toBeLessThanOrEqual(118);
  }
  await panel(page, 'react').getByRole('button', { name: 'Cancel the end' }).click();
  for (const name of PANELS) await expect(banner(page, name)).toContainText('Ada cancelled the end.');
  await expect(pill(page, 'react')).toHaveAttribute('data-state', 'allowed');
});

// README: "The End dialogs offer **End now** and **End in N s** ..., an optional message ... and **Lock the meeting**":
// all three at once from each binding's dialog — the countdown carries the message and the lock to its end
// ("At `endsAt` the server ends the session (`HOST_ENDED_MEETING`, `endedBy` who started it, its message and lock)").
for (const who of PANELS) {
  test(`"End in N s" with a message and "Lock the meeting" from the ${who} panel: ends at endsAt, locked`, async ({
    page,
    request,
  }) => {
    test.setTimeout(60_000);
    const meetingId = await openDemo(page, request, 3);
    const grant = page.getByTestId(`grant-${who}`);
    if ((await grant.getAttribute('aria-checked')) !== 'true') await grant.click();
    await expect(pill(page, who)).toHaveAttribute('data-state', 'allowed');
    await panel(page, who).getByRole('button', { name: 'End meeting for all' }).click();
    const dialog = panel(page, who).getByRole('dialog');
    await dialog.getByLabel('Message to everyone (optional)').fill(`Locked by ${who}`);
    await dialog.getByRole('checkbox', { name: 'Lock the meeting' }).check();
    await dialog.getByRole('button', { name: /^End in 3 s$/ }).click();
    for (const name of PANELS) await expect(banner(page, name)).toContainText(`Locked by ${who}`);
    const api = await backend(request);
    expect((await api.call('GET', `/meetings/${meetingId}`)).status, 'not locked before the end').toBe(
      'ACTIVE',
    );
    for (const name of PANELS) {
      await expect(pill(page, name)).toHaveAttribute('data-state', 'ended', { timeout: 20_000 });
      await expect(endedScreen(page, name)).toContainText(`Locked by ${who}`);
    }
    expect((await api.call('GET', `/meetings/${meetingId}`)).status).toBe('INACTIVE');
  });
}

// README: "a **Cancel the end** button for those with `kick_participant`" and the bindings "follow live permission
// changes without a reload": a participant made a host DURING the countdown gets Cancel, and one whose permission
// is taken away loses it.
test('permission given and taken during a countdown: Cancel follows it live in every binding', async ({
  page,
  request,
}) => {
  const meetingId = await openDemo(page, request);
  const api = await backend(request);
  await api.call('POST', `/meetings/${meetingId}/active-session/kick-all`, { graceSeconds: 120 });
  for (const name of PANELS) await expect(banner(page, name)).toContainText('is ending the meeting');
  await expect(panel(page, 'angular').getByRole('button', { name: 'Cancel the end' })).toHaveCount(0);
  for (const name of ['angular', 'element'] as Panel[]) {
    await page.getByTestId(`grant-${name}`).click();
    await expect(panel(page, name).getByRole('button', { name: 'Cancel the end' })).toBeVisible();
  }
  await page.getByTestId('grant-react').click(); // React's Ada loses the permission
  await expect(panel(page, 'react').getByRole('button', { name: 'Cancel the end' })).toHaveCount(0);
  await panel(page, 'element').getByRole('button', { name: 'Cancel the end' }).click();
  for (const name of PANELS) await expect(banner(page, name)).toContainText('Cleo cancelled the end.');
});

// README: "Its sentence is in a `role="status"` region, spoken once, the ticking seconds outside it": the live
// region's text must not change while the countdown ticks (a changed live region is spoken again).
test('the banner’s live region does not change while the countdown ticks, in every binding', async ({
  page,
  request,
}) => {
  const meetingId = await openDemo(page, request);
  const api = await backend(request);
  await api.call('POST', `/meetings/${meetingId}/active-session/kick-all`, {
    graceSeconds: 60,
    message: 'tick',
  });
  const status = (name: Panel) => banner(page, name).getByRole('status');
  for (const name of PANELS) await expect(status(name)).toContainText('is ending the meeting for everyone');
  const before = await Promise.all(PANELS.map((name) => status(name).textContent()));
  const ticks = await Promise.all(PANELS.map((name) => banner(page, name).locator('time').textContent()));
  // Wait until every panel's ticking line changed at least once, then compare the live regions.
  for (const [i, name] of PANELS.entries())
    await expect(banner(page, name).locator('time')).not.toHaveText(ticks[i]!, { timeout: 5000 });
  const after = await Promise.all(PANELS.map((name) => status(name).textContent()));
  expect(after, `live regions before: ${JSON.stringify(before)}`).toEqual(before);
});
