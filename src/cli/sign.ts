// Signing a body the way each sender does, for `webhook-inbox send`: the headers that
// src/ingest/signature.ts and src/ingest/standard-webhooks.ts verify.

import { createHmac, randomUUID } from 'node:crypto';

export type Scheme = 'spec' | 'whatsapp' | 'standard';
export const SCHEMES: readonly Scheme[] = ['spec', 'whatsapp', 'standard'];

/** The service's own form: `X-Signature`, the hex HMAC-SHA256 of the body bytes. */
export function specHeaders(secret: string, body: Buffer): Record<string, string> {
  return { 'x-signature': createHmac('sha256', secret).update(body).digest('hex') };
}

/** Meta's form: `X-Hub-Signature-256`, `sha256=` and the hex HMAC-SHA256 of the body under the app secret. */
export function whatsappHeaders(appSecret: string, body: Buffer): Record<string, string> {
  return { 'x-hub-signature-256': `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}` };
}

/**
 * Standard Webhooks: a delivery id, the time in Unix seconds, and `v1,` with the base64
 * HMAC-SHA256, under the key bytes of the whsec_ secret, of `<id>.<timestamp>.<body>`.
 */
export function standardHeaders(
  key: Buffer,
  body: Buffer,
  id = `msg_${randomUUID()}`,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds), 'webhook-signature': `v1,${signature}` };
}
