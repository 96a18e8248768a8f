import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// One real endsession-server (release build, --dev, fresh SQLite file) for the whole run.
const port = Number(process.env.ENDSESSION_E2E_PORT ?? 8799);
const target = process.env.CARGO_TARGET_DIR ?? 'target';
const data = mkdtempSync(join(tmpdir(), 'endsession-e2e-'));

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `${target}/release/endsession-server --dev --listen 127.0.0.1:${port} --data ${data}`,
    url: `http://127.0.0.1:${port}/dev/config.json`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'pipe',
  },
});
