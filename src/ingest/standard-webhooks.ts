// Verification of Standard Webhooks requests (`webhook-id`, `webhook-timestamp`,
// `webhook-signature`): signature over id, timestamp and raw body, then a replay window. Pure: the
// caller passes "now".

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface StandardWebhookHeaders {
  readonly id?: string | undefined;
  readonly timestamp?: string | undefined;
  readonly signature?: string | undefined;
}

export type StandardWebhookVerdict =
  | { readonly ok: true; readonly id: string; readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'invalid_signature' | 'stale_timestamp' };

const SECRET_PREFIX = 'whsec_';
/** Standard alphabet, padding optional: 4-character groups, then 2 or 3 characters more at most. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const UNIX_SECONDS = /^[0-9]+$/;

/**
 * The key bytes of a Standard Webhooks secret: `whsec_` and base64, or the base64 alone. Null when
 * the base64 is malformed or decodes to no bytes. Node's decoder skips characters it does not know
 * instead of failing, so the text is checked first, and must be the encoding the bytes have (a
 * last character with stray low bits would otherwise be a second spelling of the same key).
 */
export function parseStandardWebhooksSecret(secret: string): Buffer | null {
  const text = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(text)) return null;
  const key = Buffer.from(text, 'base64');
  if (key.length === 0) return null;
  if (key.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) return null;
  return key;
}

const INVALID: StandardWebhookVerdict = { ok: false, reason: 'invalid_signature' };

/**
 * Whether the request was signed with any of `keys`: the signed content is `${id}.${timestamp}.`
 * followed by the body bytes exactly as received, and `signature` is a space-separated list whose
 * `v1,<base64>` entries are candidates (other versions are skipped, as the standard asks). Every
 * key is compared with every candidate, without stopping at a match, in constant time.
 *
 * The signature is checked before the timestamp, so only a request that was really signed can be
 * told it is stale: a forger learns nothing from the answer. A timestamp exactly
 * `toleranceSeconds` away from `nowSeconds`, either way, is still accepted.
 */
export function verifyStandardWebhook(
  keys: readonly Buffer[],
  headers: StandardWebhookHeaders,
  body: Buffer,
  nowSeconds: number,
  toleranceSeconds: number,
): StandardWebhookVerdict {
  const { id, timestamp, signature } = headers;
  if (id === undefined || id === '' || timestamp === undefined || signature === undefined) return INVALID;
  if (!UNIX_SECONDS.test(timestamp)) return INVALID;

  const candidates: Buffer[] = [];
  for (const entry of signature.split(' ')) {
    if (entry.startsWith('v1,')) candidates.push(Buffer.from(entry.slice(3), 'utf8'));
  }
  if (candidates.length === 0) return INVALID;

  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body]);
  let matched = false;
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha256', key).update(signed).digest('base64'), 'utf8');
    for (const candidate of candidates) {
      // A length differs only for text that is not a SHA-256 signature at all, so it leaks nothing.
      const equal = candidate.length === expected.length && timingSafeEqual(candidate, expected);
      matched = equal || matched;
    }
  }
  if (!matched) return INVALID;

  // Digits only, so a number; one too long to be exact is also far outside any tolerance. Written
  // as "not within" so that a NaN clock or tolerance fails closed.
  const seconds = Number(timestamp);
  if (!(Math.abs(nowSeconds - seconds) <= toleranceSeconds)) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true, id, timestamp: seconds };
}
