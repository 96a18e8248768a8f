// The lockfile is complete for every platform: each optional dependency that any locked package declares (the
// per-platform binaries of esbuild, rollup, rolldown, lightningcss, msgpackr-extract, …) has its own entry. With one
// missing, `npm ci` on another platform (or `npm install` here) calls the lockfile out of sync and rewrites it, so a
// fresh checkout is dirty after scripts/setup.sh. Regenerate with `npm install` against the full registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

/** Node's lookup: `dep` from the package at `from` is in its own node_modules or in one of its ancestors'. */
function resolves(from, dep) {
  let base = from;
  for (;;) {
    if (lock.packages[`${base ? `${base}/` : ''}node_modules/${dep}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

test('every optional (per-platform) dependency of a locked package has its own lockfile entry', () => {
  const missing = [];
  for (const [path, meta] of Object.entries(lock.packages)) {
    for (const dep of Object.keys(meta.optionalDependencies ?? {})) {
      if (!resolves(path, dep)) missing.push(`${path || '(root)'} → ${dep}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the lockfile locks exactly the dependencies package.json declares', () => {
  const root = lock.packages[''];
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    assert.deepEqual(root[field] ?? {}, pkg[field] ?? {}, field);
  }
  for (const name of Object.keys(pkg.devDependencies)) {
    assert.equal(lock.packages[`node_modules/${name}`]?.version, pkg.devDependencies[name], name);
  }
});
