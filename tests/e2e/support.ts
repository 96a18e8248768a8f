// Shared steps of the end-to-end specs: the REST API as a backend calls it, and participants in their own pages.
import {
  test,
  expect,
  type APIRequestContext,
  type Browser,
  type Locator,
  type Page,
} from '@playwright/test';
import { execFileSync } from 'node:child_process';

export type Role = 'group_call_host' | 'group_call_participant';

export interface DevConfig {
  accountId: string;
  appId: string;
  meetingId: string;
  apiToken: string;
}

export async function devConfig(request: APIRequestContext): Promise<DevConfig> {
  return (await request.get('/dev/config.json')).json();
}

/** Raw REST calls with the dev account the server seeded; fails the test on a non-2xx answer. */
export async function backend(request: APIRequestContext) {
  const config = await devConfig(request);
  const base = `/client/v4/accounts/${config.accountId}/realtime/kit/${config.appId}`;
  const headers = { authorization: `Bearer ${config.apiToken}` };
  return {
    async call(method: 'POST' | 'PATCH' | 'GET', path: string, data?: object) {
      const response = await request.fetch(base + path, { method, headers, data: data ?? {} });
      expect(response.status(), `${method} ${path}`).toBeLessThan(300);
      return (await response.json()).data;
    },
  };
}

/**
 * Runs one call of the official `cloudflare` Python SDK (tests/e2e/sdk_call.py, in the project's .venv) against the
 * server, as an app's backend would, and returns the SDK's response model as JSON.
 */
export function sdk(config: DevConfig, baseURL: string, method: string, args: Record<string, unknown>): any {
  const out = execFileSync(
    '.venv/bin/python',
    [
      'tests/e2e/sdk_call.py',
      method,
      JSON.stringify({ ...args, account_id: config.accountId, app_id: config.appId }),
    ],
    {
      env: { ...process.env, API_TOKEN: config.apiToken, BASE_URL: `${baseURL}/client/v4` },
      encoding: 'utf8',
    },
  );
  return JSON.parse(out);
}

/** Each test gets its own meeting, so tests cannot see each other's participants. */
export async function newMeeting(request: APIRequestContext): Promise<string> {
  const meeting = await (await backend(request)).call('POST', '/meetings', { title: test.info().title });
  return meeting.id;
}

/** Opens a participant page in its own browser context (its own connection) and waits for `expected`. */
export async function join(
  browser: Browser,
  meetingId: string,
  name: string,
  preset: Role,
  expected = 'joined',
): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/participant.html?meeting=${meetingId}&name=${name}&preset=${preset}`);
  await expect(page.getByTestId('state')).toHaveText(expected);
  return page;
}

/**
 * The keyboard walk of an open confirmation dialog: focus starts on Cancel, Tab goes to "End now", Tab and
 * Shift+Tab go round the dialog's controls (its end options, "End in N s") and never out of it, Esc closes it.
 * Returns the dialog's Cancel and "End now" buttons.
 */
export async function walkDialogByKeyboard(page: Page, dialog: Locator) {
  const cancel = dialog.getByRole('button', { name: 'Cancel' });
  const confirm = dialog.getByRole('button', { name: 'End now' });
  const focused = dialog.locator(':focus');
  await expect(cancel).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(confirm).toBeFocused();
  // Round the dialog forwards: back to Cancel within a few steps, the focus in the dialog at every step.
  let steps = 0;
  for (; steps < 8; steps++) {
    await page.keyboard.press('Tab');
    await expect(focused).toHaveCount(1);
    if (await cancel.evaluate((e) => e === (e.getRootNode() as Document | ShadowRoot).activeElement)) break;
  }
  await expect(cancel, 'Tab goes round the dialog back to Cancel').toBeFocused();
  // And backwards: Shift+Tab from Cancel stays in the dialog too.
  await page.keyboard.press('Shift+Tab');
  await expect(focused).toHaveCount(1);
  await expect(cancel).not.toBeFocused();
  await page.keyboard.press('Tab');
  await expect(cancel).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  return { cancel, confirm };
}
