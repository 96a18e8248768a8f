/**
 * The one error class: {@link ClientError}.
 *
 * @module
 */

import type { ClientErrorCode as WasmClientErrorCode, WasmClientError } from './wasm/endsession.js';

/**
 * Codes of {@link ClientError}, always strings as in RealtimeKit:
 * - `'1201'` no `kick_participant` permission; `'1205'` not in the room (RealtimeKit's codes and messages);
 * - `'4000'`–`'4290'` from the server: `'4010'` bad token, `'4030'` meeting INACTIVE, `'4040'` no such meeting…;
 * - `'4900'` could not connect, `'4901'` connection lost before the answer, `'4902'` left before the answer;
 * - `'4220'` `kickAll`'s end options of the wrong type (checked here) or past the server's bounds (the server's code);
 * - `'4903'` a RealtimeKit meeting's `kickAll`: no `roomLeft` `ended` within `timeoutMs` (see `KickAllOptions`);
 * - `'4904'` a RealtimeKit meeting's `kickAll` given end options (`message`, `lock: true`, `graceSeconds` > 0):
 *   RealtimeKit has none of them, and ending without what was asked (no lock, no countdown) would be worse than not
 *   ending; nothing is sent;
 * - for a RealtimeKit meeting, any other code RealtimeKit's own `ClientError` carries, as it is.
 *
 * All but `'4903'` and `'4904'` are the wasm module's (Rust's) list, through its `.d.ts`.
 */
export type ClientErrorCode = WasmClientErrorCode | '4903' | '4904';

/**
 * What `join()` and `kickAll()` reject with.
 *
 * @example
 * try {
 *   await kickAll(meeting);
 * } catch (e) {
 *   if (e instanceof ClientError && e.code === '1201') showNotAllowed();
 * }
 */
export class ClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

/** A rejection of the wasm module: a plain `{code, message}` object (not an `Error`) with a string code. */
function isWasmClientError(error: unknown): error is WasmClientError {
  return (
    typeof error === 'object' &&
    error !== null &&
    !(error instanceof Error) &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  );
}

/** Turns the wasm module's `{code, message}` rejections into `ClientError`s; rethrows anything else as is. */
export function rethrow(error: unknown): never {
  throw isWasmClientError(error) ? new ClientError(error.code, error.message) : error;
}
