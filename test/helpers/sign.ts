// Computes X-Signature values independently of src/, with node:crypto only.

import { createHmac } from 'node:crypto';

export function hmacHex(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** `X-Hub-Signature-256` as Meta sends it: `sha256=` and the hex HMAC-SHA256 of the raw body under the app secret. */
export function metaSignature(appSecret: string, body: string | Buffer): string {
  return `sha256=${hmacHex(appSecret, body)}`;
}

/** A Standard Webhooks secret (`whsec_` and base64) holding these key bytes. */
export function whsecSecret(key: string | Buffer): string {
  return `whsec_${Buffer.from(key).toString('base64')}`;
}

/** The key bytes of a Standard Webhooks secret: the base64 after `whsec_`, decoded. */
export function standardWebhooksKey(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) throw new Error(`not a whsec_ secret: ${secret}`);
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/**
 * One `v1,<base64>` entry of a `webhook-signature` header: HMAC-SHA256 keyed with the decoded
 * secret over `<id>.<timestamp>.` followed by the raw body bytes.
 */
export function standardWebhooksSignature(secret: string, id: string, timestamp: string | number, body: string | Buffer): string {
  const mac = createHmac('sha256', standardWebhooksKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The whole set of Standard Webhooks headers for one delivery signed with `secret`. */
export function standardWebhooksHeaders(
  secret: string,
  body: string | Buffer,
  id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
  timestamp: string | number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': standardWebhooksSignature(secret, id, timestamp, body),
  };
}
