// What each crate costs in the wasm: the code bytes of every function, grouped by the crate its name starts with.
// Reads a module built with names kept (`wasm-opt -Oz -g`: the same code as the shipped one, plus a name section).
// Usage: node bench/size-crates.mjs MODULE.wasm
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
      else u32(), u32();
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

// The crate of a function: the first path segment of its name, inside `<…>` and `<X as Trait>` taken as X. Generic
// code is named after where it is defined (`core::ops::function::FnOnce::call_once` may run any crate's closure).
const crateOf = (fn) => {
  if (!fn) return '(unnamed)';
  if (/externref shim|^__wbg|^__wbindgen|^__externref/.test(fn)) return 'wasm_bindgen';
  if (fn.startsWith('__rustc') || fn.startsWith('__rdl') || fn.startsWith('__rg')) return 'alloc';
  const path = fn.replace(/^<+/, '').replace(/^&(mut )?/, '');
  const crate = path.match(/^[A-Za-z_][A-Za-z0-9_]*/)?.[0] ?? '(other)';
  return fn.includes('::') ? crate : `(${crate.length > 24 ? 'export' : crate})`;
};

const crates = new Map();
bodies.forEach((length, i) => {
  const crate = crateOf(names.get(imported + i));
  crates.set(crate, (crates.get(crate) ?? 0) + length);
});
const code = bodies.reduce((a, b) => a + b, 0);
const rows = [...crates].sort((a, b) => b[1] - a[1]);
const row = (label, n) => console.log(`${label.padEnd(34)} ${String(n).padStart(9)} ${(((100 * n) / (code + data + other)) | 0).toString().padStart(7)}%`);
console.log(`${'crate (code bytes, before gzip)'.padEnd(34)} ${'raw'.padStart(9)} ${'share'.padStart(8)}`);
for (const [crate, n] of rows) if (n >= 200) row(crate, n);
row('(crates under 200 B)', rows.filter(([, n]) => n < 200).reduce((a, [, n]) => a + n, 0));
row('data (strings, tables)', data);
row('other sections', other);
