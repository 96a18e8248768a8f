// Makes docs/demo.png, the README's picture of the demo: the demo page of a running `endsession-server --dev`, in
// headless Chromium (Playwright), once every panel has joined. Not a test (it would rewrite the file on every run).
// Usage: node docs/screenshot.mjs [http://127.0.0.1:8787/]
import { chromium } from '@playwright/test';
import { fileURLToPath } from 'node:url';

const url = process.argv[2] ?? 'http://127.0.0.1:8787/';
const out = fileURLToPath(new URL('demo.png', import.meta.url));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1 });
  await page.goto(url);
  // The default roles: the React panel's Ada is a host, the other two are participants.
  const ready = { react: 'allowed', angular: 'no-permission', element: 'no-permission' };
  for (const [panel, state] of Object.entries(ready)) {
    await page.locator(`[data-testid=${panel}-state][data-state=${state}]`).waitFor({ timeout: 15_000 });
  }
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
