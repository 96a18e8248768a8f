// What each crate costs in the wasm: the code bytes of every function, grouped by the crate its name starts with.
// Reads a module built with names kept (`wasm-opt -Oz -g`: the same code as the shipped one, plus a name section).
// Usage: node bench/size-crates.mjs MODULE.wasm [GZIP_BYTES_OF_THE_SHIPPED_MODULE]
// Hand-written (~80 lines) rather than twiggy: twiggy is a cargo install of ~2 minutes and prints per function, not
// per crate; a wasm module's sections and name section are a short, stable format.
import { readFileSync } from 'node:fs';

const bytes = readFileSync(process.argv[2]);
let at = 8; // magic and version
const u32 = () => {
  let result = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[at++];
    result += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return result;
  }
};
const name = () => {
  const length = u32();
  const text = bytes.toString('utf8', at, at + length);
  at += length;
  return text;
};

let imported = 0;
const bodies = []; // code bytes per defined function
const names = new Map(); // function index → name
let data = 0;
let other = 0;
while (at < bytes.length) {
  const id = bytes[at++];
  const size = u32();
  const end = at + size;
  if (id === 2) {
    for (let n = u32(); n > 0; n--) {
      name();
      name();
      const kind = bytes[at++];
      if (kind === 0) (u32(), imported++);
      else if (kind === 1) (at++, bytes[at++] & 1 ? (u32(), u32()) : u32());
      else if (kind === 2) bytes[at++] & 1 ? (u32(), u32()) : u32();
      else if (kind === 3) at += 2;
      else (u32(), u32());
    }
  } else if (id === 10) {
    for (let n = u32(); n > 0; n--) {
      const length = u32();
      bodies.push(length);
      at += length;
    }
  } else if (id === 11) {
    data += size;
  } else if (id === 0 && name() === 'name') {
    while (at < end) {
      const kind = bytes[at++];
      const length = u32();
      const next = at + length;
      if (kind === 1) for (let n = u32(); n > 0; n--) names.set(u32(), name());
      at = next;
    }
  } else if (id !== 0) {
    other += size;
  }
  at = end;
}

// The crate of a function: the first path segment of its name, `<X as Trait>::f` and `<X>::f` counted to X, a
// `drop_in_place<X>` to X. Generic code is named where it is defined, so a few rows are approximations: closures run
// through `core::ops::function::FnOnce::call_once` belong to whoever made them (mostly this crate's driver).
const crateOf = (name) => {
  if (!name) return '(unnamed)';
  // The nightly that builds the payload (scripts/build.sh) names crates with their disambiguator, `core[79aa…]::`,
  // and drops as `core::ptr::drop_glue::<X>`.
  const fn = name
    .replace(/\[[0-9a-f]+\]/g, '')
    .replace(/^core::ptr::drop_glue::</, 'core::ptr::drop_in_place<');
  if (/externref shim$/.test(fn)) return 'endsession (exports)';
  if (/^__wbg|^__wbindgen|^__externref/.test(fn)) return 'wasm_bindgen';
  if (/^__rustc|^__rdl|^__rg/.test(fn)) return 'alloc';
  if (/^core::ops::function::Fn(Once|Mut)?::call/.test(fn)) return '(closures, any crate)';
  if (/^js_sys::futures::/.test(fn)) return 'js_sys::futures (wasm-bindgen-futures)';
  const dropped = fn.match(/^core::ptr::drop_in_place<(.*)>(::h[0-9a-f]+)?$/);
  const path = (dropped ? dropped[1] : fn)
    .replace(/^[<&]+(mut )?/, '')
    .replace(/^(alloc::(rc|boxed|vec)::\w+<|core::option::Option<)+/, '');
  const crate = path.match(/^[A-Za-z_][A-Za-z0-9_]*/)?.[0];
  if (/^([iu](8|16|32|64|128|size)|f32|f64|bool|char|str|[A-Z])$/.test(crate ?? '')) return 'core';
  if (crate === 'hashbrown') return 'hashbrown (serde_wasm_bindgen)';
  if (!crate || !fn.includes('::'))
    return /^[a-z]+[A-Z]|^[a-z_]+$/.test(fn) ? 'endsession (exports)' : '(other)';
  return crate;
};

const crates = new Map();
bodies.forEach((length, i) => {
  const crate = crateOf(names.get(imported + i));
  crates.set(crate, (crates.get(crate) ?? 0) + length);
});
const code = bodies.reduce((a, b) => a + b, 0);
const rows = [...crates].sort((a, b) => b[1] - a[1]);
// gzip -9 of the shipped module, when given: each row's share of it, in proportion to its raw bytes (an estimate:
// gzip does not split by function).
const gz = Number(process.argv[3] ?? 0);
const total = code + data + other;
const row = (label, n) =>
  console.log(
    `${label.padEnd(34)} ${String(n).padStart(9)} ${String(gz ? Math.round((gz * n) / total) : '').padStart(9)}`,
  );
console.log(`${'wasm by crate (code bytes)'.padEnd(34)} ${'raw'.padStart(9)} ${'~gzip -9'.padStart(9)}`);
for (const [crate, n] of rows) if (n >= 200) row(crate, n);
row(
  '(crates under 200 B)',
  rows.filter(([, n]) => n < 200).reduce((a, [, n]) => a + n, 0),
);
row('data (strings, tables)', data);
row('other sections', other);
