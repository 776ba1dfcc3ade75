// HMAC-SHA256 verification of POST /webhook bodies (SPEC A.2, step 2).

import { createHmac, timingSafeEqual } from 'node:crypto';

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * True when `header` is the hex HMAC-SHA256 of the raw body bytes, in either case.
 * The check runs on the bytes exactly as received, before any parsing: a body that is
 * re-serialised or decoded first would let whitespace or encoding tricks change what was signed.
 * The comparison is on decoded digests of equal length, in constant time.
 */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const candidate = header.trim();
  if (!HEX_SHA256.test(candidate)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(candidate, 'hex'));
}
