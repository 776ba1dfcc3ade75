// verifySignature (SPEC A.2 step 2): hex HMAC-SHA256 of the raw body bytes, either case.
// Expected values are computed here with node:crypto, independently of src/.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/ingest/signature.js';

const SECRET = 'test-secret';
const BODY = Buffer.from(
  '{"message_id":"m1","from":"+919876543210","to":"+14155550100","ts":"2025-01-15T10:00:00Z","text":"Hello"}',
);

function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

const GOOD = hmacHex(SECRET, BODY);

/** `hex` with its first character changed to another hex digit. */
function flipFirst(hex: string): string {
  return (hex.startsWith('0') ? '1' : '0') + hex.slice(1);
}

describe('verifySignature accepts', () => {
  it.each([
    ['lowercase hex', GOOD],
    ['uppercase hex', GOOD.toUpperCase()],
    ['mixed-case hex', GOOD.slice(0, 32).toUpperCase() + GOOD.slice(32)],
  ])('%s', (_name, header) => {
    expect(verifySignature(SECRET, BODY, header)).toBe(true);
  });

  it('an empty body signed as such', () => {
    const empty = Buffer.alloc(0);
    expect(verifySignature(SECRET, empty, hmacHex(SECRET, empty))).toBe(true);
  });
});

describe('verifySignature rejects', () => {
  it.each<[string, string | undefined]>([
    ['missing (undefined)', undefined],
    ['empty', ''],
    ['signed with another secret', hmacHex('other-secret', BODY)],
    ['one hex digit changed', flipFirst(GOOD)],
    ['truncated by one digit', GOOD.slice(0, 63)],
    ['truncated to half', GOOD.slice(0, 32)],
    ['one digit too long', `${GOOD}0`],
    ['doubled', GOOD + GOOD],
    ['a non-hex character', `g${GOOD.slice(1)}`],
    ['hex of the wrong length padded with non-hex', `${GOOD.slice(0, 62)}zz`],
    ['a sha256= prefix', `sha256=${GOOD}`],
    ['base64 of the digest', createHmac('sha256', SECRET).update(BODY).digest('base64')],
    ['spaces inside', `${GOOD.slice(0, 32)} ${GOOD.slice(32)}`],
    ['the HMAC of an empty body', hmacHex(SECRET, Buffer.alloc(0))],
  ])('%s', (_name, header) => {
    expect(verifySignature(SECRET, BODY, header)).toBe(false);
  });
});

describe('verifySignature works on the raw bytes', () => {
  it.each([
    ['one extra space', Buffer.from(`${BODY.toString('utf8')} `)],
    ['a trailing newline', Buffer.from(`${BODY.toString('utf8')}\n`)],
    ['a space after a colon', Buffer.from(BODY.toString('utf8').replace('"m1"', ' "m1"'))],
    ['keys re-ordered', Buffer.from(JSON.stringify({ from: '+919876543210', message_id: 'm1' }))],
  ])('a body differing by %s fails against the original signature', (_name, changed) => {
    expect(changed.equals(BODY)).toBe(false);
    expect(verifySignature(SECRET, changed, GOOD)).toBe(false);
    expect(verifySignature(SECRET, changed, hmacHex(SECRET, changed))).toBe(true);
  });

  it('signs bytes that are not UTF-8 as bytes, not as decoded text', () => {
    // 0xff is not UTF-8: a check that decoded first would see U+FFFD and compute another HMAC.
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    expect(verifySignature(SECRET, raw, hmacHex(SECRET, raw))).toBe(true);
    const decoded = Buffer.from(raw.toString('utf8'), 'utf8');
    expect(verifySignature(SECRET, raw, hmacHex(SECRET, decoded))).toBe(false);
  });

  it('uses the secret as given (a different secret of the same length fails)', () => {
    expect(verifySignature('test-secreT', BODY, GOOD)).toBe(false);
  });
});
