/**
 * Loads the wasm module, once: shared by `initMeeting()` and the end state of meetings that are not ours.
 *
 * @module
 */
import init from './wasm/endsession.js';

let loading: Promise<unknown> | undefined;
let loaded = false;

/** True once the module is loaded: its functions may be called synchronously. */
export function wasmLoaded(): boolean {
  return loaded;
}

/**
 * Loads the wasm module once; a failed load is retried by the next call.
 *
 * In browsers the module is fetched from `new URL('./wasm/endsession_bg.wasm', import.meta.url)`, written out
 * literally so that Vite and webpack 5 emit it as an asset. Under Node (a `file:` URL) it is read with `fs`,
 * imported dynamically through a variable so that bundlers leave it alone.
 */
export function loadWasm(): Promise<unknown> {
  return (loading ??= (async () => {
    const url = new URL('./wasm/endsession_bg.wasm', import.meta.url);
    if (url.protocol !== 'file:') return init({ module_or_path: url });
    const fs = 'node:fs/promises';
    const { readFile } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ fs)) as {
      readFile(path: URL): Promise<Uint8Array<ArrayBuffer>>;
    };
    return init({ module_or_path: await readFile(url) });
  })().then(
    (module) => ((loaded = true), module),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  ));
}
