// The package as `npm pack` ships it (dist/ built by `npm run build` first): publint (strict) and
// @arethetypeswrong/cli (profile esm-only) find nothing, and a strict TypeScript consumer of every export
// (tests/packaging/types/consumer.tsx) type-checks with `moduleResolution` `bundler` and `node16`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name) => join(root, 'node_modules/.bin', name);
let work;
let tarball;
let consumer;

before(() => {
  assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` first');
  work = mkdtempSync(join(tmpdir(), 'endsession-package-'));
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
  );
  tarball = join(work, packed.filename);
  // The consumer app: the tarball unpacked as node_modules/endsession, its peers from this workspace.
  consumer = join(work, 'consumer');
  cpSync(join(root, 'tests/packaging/types'), consumer, { recursive: true });
  const modules = join(consumer, 'node_modules');
  mkdirSync(join(modules, 'endsession'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', join(modules, 'endsession'), '--strip-components=1']);
  for (const dep of ['react', '@types/react', '@angular/core', 'rxjs', 'tslib', '@types/node']) {
    if (!existsSync(join(root, 'node_modules', dep))) continue;
    mkdirSync(dirname(join(modules, dep)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(modules, dep));
  }
});

after(() => rmSync(work, { recursive: true, force: true }));

test('publint (strict) finds nothing in the packed package', async () => {
  // The unpacked tarball is exactly what ships, so publint reads its files as they are (`pack: false`).
  const { messages, pkg } = await publint({
    pkgDir: join(consumer, 'node_modules/endsession'),
    strict: true,
    level: 'suggestion',
    pack: false,
  });
  assert.deepEqual(
    messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`),
    [],
  );
});

test('@arethetypeswrong/cli (profile esm-only) finds no problem in the packed package', () => {
  const result = spawnSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'json'], {
    encoding: 'utf8',
  });
  // The JSON lists the problems of every resolution; the profile ignores node10 and require() from CommonJS.
  const ignored = new Set(['node10', 'node16-cjs']);
  const problems = JSON.parse(result.stdout).analysis.problems.filter((p) => !ignored.has(p.resolutionKind));
  assert.deepEqual(problems, []);
  assert.equal(result.status, 0, result.stderr);
});

for (const resolution of ['bundler', 'node16']) {
  test(`a strict TypeScript consumer type-checks against every export (moduleResolution ${resolution})`, () => {
    const result = spawnSync(bin('tsc'), ['-p', `tsconfig.${resolution}.json`], {
      cwd: consumer,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  });
}

test("endsession/react starts with 'use client' in the packed files (a Server Component may import it)", () => {
  const dist = join(consumer, 'node_modules/endsession/dist');
  assert.match(readFileSync(join(dist, 'react/index.js'), 'utf8'), /^'use client';\n/);
  // The other entries run anywhere, on the server too: no directive there.
  for (const entry of ['index.js', 'end-state/index.js', 'element/index.js', 'angular/index.js']) {
    assert.doesNotMatch(readFileSync(join(dist, entry), 'utf8'), /^['"]use client['"]/, entry);
  }
});
