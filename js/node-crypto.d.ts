// The one `node:crypto` function `webhooks.ts` uses. The package compiles without @types/node (its other entry
// points run in browsers), so this declares just that much.
declare module 'node:crypto' {
  export function verify(algorithm: string, data: Uint8Array, key: string, signature: Uint8Array): boolean;
}
