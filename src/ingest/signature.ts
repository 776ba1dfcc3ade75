// HMAC-SHA256 verification of webhook bodies: the core form's `X-Signature` and Meta's
// `X-Hub-Signature-256`, each against every secret currently configured (rotation).

import { createHmac, timingSafeEqual } from 'node:crypto';

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const META_SHA256 = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * True when `digest` is the HMAC-SHA256 of `body` under any of `secrets`. Every secret is tried,
 * even after a match, so the time taken says nothing about which secret matched or how many were
 * tried before it; each comparison is in constant time on digests of equal length.
 */
function signedByAny(secrets: readonly string[], body: Buffer, digest: Buffer): boolean {
  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(body).digest();
    // The comparison comes first, so `||` never skips it once `matched` is true.
    matched = timingSafeEqual(expected, digest) || matched;
  }
  return matched;
}

/**
 * True when `header` (the core form's `X-Signature`) is the hex HMAC-SHA256 of the raw body bytes, in either
 * case and with surrounding whitespace ignored, under any of `secrets`; false for an empty list.
 * The check runs on the bytes exactly as received, before any parsing: a body that is
 * re-serialised or decoded first would let whitespace or encoding tricks change what was signed.
 */
export function verifySignature(secrets: readonly string[], body: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const candidate = header.trim();
  if (!HEX_SHA256.test(candidate)) return false;
  return signedByAny(secrets, body, Buffer.from(candidate, 'hex'));
}

/**
 * True when `header` (Meta's `X-Hub-Signature-256`) is `sha256=` followed by the hex
 * HMAC-SHA256 of the raw body bytes under any of `secrets` (Meta signs with the app secret). The
 * prefix is required, lowercase as Meta sends it; the hex may be in either case.
 */
export function verifyMetaSignature(secrets: readonly string[], body: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const hex = META_SHA256.exec(header.trim())?.[1];
  if (hex === undefined) return false;
  return signedByAny(secrets, body, Buffer.from(hex, 'hex'));
}
