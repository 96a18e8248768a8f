/**
 * `endsession/webhooks`: check that a webhook really comes from your endsession-server (or from RealtimeKit, which
 * signs the same way) before acting on it. Node only: it uses `node:crypto`.
 *
 * Every delivery carries `rtk-signature`, the base64 RSA-SHA256 (PKCS#1 v1.5) signature of the raw request body,
 * made with the key whose public half the server serves at `/.well-known/webhooks.json` (`data.publicKey`, PEM).
 * Fetch that key once and keep it; deduplicate deliveries by their `rtk-uuid` header (a retry repeats it).
 *
 * @example
 * import { verifyWebhook } from 'endsession/webhooks';
 * const { data } = await (await fetch(`${serverUrl}/.well-known/webhooks.json`)).json();
 * app.post('/hooks', express.raw({ type: 'application/json' }), (req, res) => {
 *   if (!verifyWebhook(req.body, req.get('rtk-signature'), data.publicKey)) return res.sendStatus(401);
 *   const event = JSON.parse(req.body); // { event: 'meeting.ended', meeting: {...}, reason: 'HOST_ENDED_MEETING' }
 *   res.sendStatus(200);
 * });
 *
 * @module
 */
import { verify } from 'node:crypto';

/**
 * True if `signature` (the `rtk-signature` header) is the server's signature of exactly these body bytes.
 *
 * @param rawBody - the request body as received, before any JSON parsing: a `Buffer`/`Uint8Array`, or a string
 *   (taken as UTF-8). A body parsed and serialized again is not the same bytes and will not verify.
 * @param signature - the `rtk-signature` header; a missing or malformed one gives false.
 * @param publicKeyPem - `data.publicKey` of `/.well-known/webhooks.json` (`-----BEGIN PUBLIC KEY-----`).
 * @throws if `publicKeyPem` is not a public key: a configuration error, not a bad delivery.
 */
export function verifyWebhook(
  rawBody: Uint8Array | string,
  signature: string | null | undefined,
  publicKeyPem: string,
): boolean {
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature.trim())) return false;
  const body = typeof rawBody === 'string' ? new TextEncoder().encode(rawBody) : rawBody;
  const bytes = Uint8Array.from(atob(signature.trim()), (c) => c.charCodeAt(0));
  return verify('RSA-SHA256', body, publicKeyPem, bytes);
}
