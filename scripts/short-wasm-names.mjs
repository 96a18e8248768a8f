// Gives the wasm module's imports and exports short names, in the module and in its wasm-bindgen glue alike:
// `__wbg_addEventListener_f2d27251d333a631` becomes `c`, the import module `./endsession_bg.js` becomes `a`. The
// names are a private contract between the two files (nothing else loads the module), and their hash suffixes
// cannot be compressed: 1.6 KB of the payload's gzip -9 (bench/size). `memory` keeps its name.
// Usage: node scripts/short-wasm-names.mjs MODULE.wasm GLUE.js   (both rewritten in place, and the exports' names in
// GLUE.d.ts's `InitOutput` and in MODULE.wasm.d.ts; run once per build)
// Hand-written: wasm-bindgen has no option for it, and binaryen's --minify-imports-and-exports renames only the
// imports of Emscripten's `env` module. The import and export sections are a short, stable format (wasm spec §5.5).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
const MODULE = './endsession_bg.js';
const bytes = readFileSync(wasmPath);
let glue = readFileSync(gluePath, 'utf8');
if (!glue.includes(JSON.stringify(MODULE)))
  throw new Error(`${gluePath}: no "${MODULE}" imports (renamed already?)`);

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
  return bytes.toString('utf8', (at += length) - length, at);
};
const leb = (n) => {
  const out = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n);
  return Buffer.from(out);
};
const encoded = (text) => {
  const utf8 = Buffer.from(text, 'utf8');
  return Buffer.concat([leb(utf8.length), utf8]);
};
// Skips an import's description (function, table, memory, global, tag) and returns its bytes.
const description = () => {
  const start = at;
  const kind = bytes[at++];
  const limits = () => (bytes[at++] & 1 ? (u32(), u32()) : u32());
  if (kind === 0) u32();
  else if (kind === 1) (at++, limits());
  else if (kind === 2) limits();
  else if (kind === 3) at += 2;
  else (at++, u32());
  return bytes.subarray(start, at);
};

// a, b, ..., Z, aa, ba, ...: valid JavaScript identifiers, and none is `memory`.
const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const short = (i) => {
  let text = '';
  do {
    text += letters[i % letters.length];
    i = Math.floor(i / letters.length);
  } while (i);
  return text;
};

const imports = new Map();
const exports = new Map();
const sections = [bytes.subarray(0, 8)];
while (at < bytes.length) {
  const start = at;
  const id = bytes[at++];
  const end = u32() + at;
  if (id !== 2 && id !== 7) {
    sections.push(bytes.subarray(start, end));
    at = end;
    continue;
  }
  const count = u32();
  const body = [leb(count)];
  for (let n = 0; n < count; n++) {
    if (id === 2) {
      const module = name();
      const field = name();
      if (module !== MODULE) throw new Error(`unexpected import module ${module}`);
      imports.set(field, short(imports.size));
      body.push(encoded('a'), encoded(imports.get(field)), description());
    } else {
      const field = name();
      if (field !== 'memory') exports.set(field, short(exports.size));
      const kindAndIndex = bytes.subarray(at, (at++, u32(), at));
      body.push(encoded(exports.get(field) ?? field), kindAndIndex);
    }
  }
  const content = Buffer.concat(body);
  sections.push(Buffer.from([id]), leb(content.length), content);
  at = end;
}

// Import names appear in the glue as the keys of its imports object, export names as `exports.name` (minified:
// `_.name`). Both are whole words; every import must be found, exports may be unused by the glue (`__abort_handler`).
const replace = (pattern, to, required) => {
  const before = glue;
  glue = glue.replace(pattern, to);
  if (required && glue === before) throw new Error(`${gluePath}: ${pattern} not found`);
};
for (const [from, to] of imports) replace(new RegExp(`(?<![\\w$])${from}(?=:)`, 'g'), to, true);
for (const [from, to] of exports) replace(new RegExp(`(?<=\\.)${from}(?![\\w$])`, 'g'), to, false);
replace(JSON.stringify(MODULE), '"a"', true);

writeFileSync(wasmPath, Buffer.concat(sections));
writeFileSync(gluePath, glue);
// The declarations of the exports: `readonly name:` (InitOutput) and `export const name:`.
for (const path of [gluePath.replace(/\.js$/, '.d.ts'), `${wasmPath}.d.ts`].filter(existsSync)) {
  let text = readFileSync(path, 'utf8');
  for (const [from, to] of exports)
    text = text.replace(new RegExp(`(?<=(readonly|const) )${from}(?=:)`, 'g'), to);
  writeFileSync(path, text);
}
