// `endsession/webhooks` against signatures made by node:crypto itself (run `npm run build` first).
// Imports by package name, so it goes through package.json `exports` to dist/webhooks.js.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { verifyWebhook } from 'endsession/webhooks';

const pair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const { publicKey, privateKey } = pair();
const body = Buffer.from(
  JSON.stringify({
    event: 'meeting.ended',
    meeting: { id: 'm', sessionId: 's' },
    reason: 'HOST_ENDED_MEETING',
  }),
);
const signature = sign('sha256', body, privateKey).toString('base64');

test('a signature of the raw body verifies, as a Buffer or as a string', () => {
  assert.equal(verifyWebhook(body, signature, publicKey), true);
  assert.equal(verifyWebhook(new Uint8Array(body), signature, publicKey), true);
  assert.equal(verifyWebhook(body.toString('utf8'), signature, publicKey), true);
});

test('a tampered body does not verify', () => {
  const tampered = Buffer.from(body.toString().replace('HOST_ENDED_MEETING', 'ALL_PARTICIPANTS_LEFT'));
  assert.equal(verifyWebhook(tampered, signature, publicKey), false);
  assert.equal(verifyWebhook(Buffer.concat([body, Buffer.from(' ')]), signature, publicKey), false);
});

test('another key, or a missing or malformed signature, does not verify', () => {
  assert.equal(verifyWebhook(body, signature, pair().publicKey), false);
  assert.equal(verifyWebhook(body, undefined, publicKey), false);
  assert.equal(verifyWebhook(body, '', publicKey), false);
  assert.equal(verifyWebhook(body, 'not base64!', publicKey), false);
  assert.equal(verifyWebhook(body, signature.slice(8), publicKey), false);
});

test('a key that is not a public key is an error, not a false', () => {
  assert.throws(() => verifyWebhook(body, signature, 'not a key'));
});
