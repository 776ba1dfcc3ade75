// verifySignature (the contract step 2: hex HMAC-SHA256 of the raw body bytes, either case) and
// verifyMetaSignature (`sha256=<hex>`), each against a list of secrets so that one can be rotated.
// Expected values are computed here with node:crypto, independently of src/.

import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyMetaSignature, verifySignature } from '../../src/ingest/signature.js';

const SECRET = 'test-secret';
const SECRETS = [SECRET];
const BODY = Buffer.from(
  '{"message_id":"m1","from":"+919876543210","to":"+14155550100","ts":"2025-01-15T10:00:00Z","text":"Hello"}',
);

function hmacHex(secret: string, body: Buffer | Uint8Array): string {
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
    ['surrounding spaces', `  ${GOOD} `],
    ['a surrounding tab and newline', `\t${GOOD}\n`],
  ])('%s', (_name, header) => {
    expect(verifySignature(SECRETS, BODY, header)).toBe(true);
  });

  it('an empty body signed as such', () => {
    const empty = Buffer.alloc(0);
    expect(verifySignature(SECRETS, empty, hmacHex(SECRET, empty))).toBe(true);
  });
});

describe('verifySignature rejects', () => {
  it.each<[string, string | undefined]>([
    ['missing (undefined)', undefined],
    ['empty', ''],
    ['whitespace only', '   '],
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
    expect(verifySignature(SECRETS, BODY, header)).toBe(false);
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
    expect(verifySignature(SECRETS, changed, GOOD)).toBe(false);
    expect(verifySignature(SECRETS, changed, hmacHex(SECRET, changed))).toBe(true);
  });

  it('signs bytes that are not UTF-8 as bytes, not as decoded text', () => {
    // 0xff is not UTF-8: a check that decoded first would see U+FFFD and compute another HMAC.
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    expect(verifySignature(SECRETS, raw, hmacHex(SECRET, raw))).toBe(true);
    const decoded = Buffer.from(raw.toString('utf8'), 'utf8');
    expect(verifySignature(SECRETS, raw, hmacHex(SECRET, decoded))).toBe(false);
  });

  it('uses the secret as given (a different secret of the same length fails)', () => {
    expect(verifySignature(['test-secreT'], BODY, GOOD)).toBe(false);
  });
});

// Rotation: during a change of secret both are configured, and a body signed with either passes.
const ROTATION: [string, string[], boolean][] = [
  ['the only secret', [SECRET], true],
  ['the first of two', [SECRET, 'next-secret'], true],
  ['the second of two (the old one, still accepted)', ['next-secret', SECRET], true],
  ['the last of three', ['a', 'b', SECRET], true],
  ['a secret listed twice', [SECRET, SECRET], true],
  ['none of two', ['next-secret', 'older-secret'], false],
  ['none of one', ['test-secret '], false],
  ['an empty list', [], false],
];

describe.each([
  ['verifySignature', verifySignature, GOOD],
  ['verifyMetaSignature', verifyMetaSignature, `sha256=${GOOD}`],
])('%s with several secrets (rotation)', (_name, verify, header) => {
  it.each(ROTATION)('signed with %s: %s', (_label, secrets, expected) => {
    expect(verify(secrets, BODY, header)).toBe(expected);
  });

  it('accepts a body signed with the empty secret only when it is listed', () => {
    const signed = header.replace(GOOD, hmacHex('', BODY));
    expect(verify(['x', ''], BODY, signed)).toBe(true);
    expect(verify(['x'], BODY, signed)).toBe(false);
  });
});

describe('verifyMetaSignature accepts', () => {
  it.each([
    ['lowercase hex', `sha256=${GOOD}`],
    ['uppercase hex', `sha256=${GOOD.toUpperCase()}`],
    ['mixed-case hex', `sha256=${GOOD.slice(0, 10).toUpperCase()}${GOOD.slice(10)}`],
    ['surrounding whitespace', ` sha256=${GOOD}\t`],
  ])('%s', (_name, header) => {
    expect(verifyMetaSignature(SECRETS, BODY, header)).toBe(true);
  });
});

describe('verifyMetaSignature rejects', () => {
  it.each<[string, string | undefined]>([
    ['missing (undefined)', undefined],
    ['empty', ''],
    ['the prefix alone', 'sha256='],
    ['bare hex without the prefix', GOOD],
    ['an uppercase prefix', `SHA256=${GOOD}`],
    ['a sha1= prefix', `sha1=${GOOD}`],
    ['the SHA-1 signature Meta also sends', `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}`],
    ['a space after the prefix', `sha256= ${GOOD}`],
    ['a colon instead of =', `sha256:${GOOD}`],
    ['signed with another secret', `sha256=${hmacHex('other-secret', BODY)}`],
    ['one hex digit changed', `sha256=${flipFirst(GOOD)}`],
    ['truncated by one digit', `sha256=${GOOD.slice(0, 63)}`],
    ['one digit too long', `sha256=${GOOD}0`],
    ['base64 of the digest', `sha256=${createHmac('sha256', SECRET).update(BODY).digest('base64')}`],
    ['the prefix twice', `sha256=sha256=${GOOD}`],
  ])('%s', (_name, header) => {
    expect(verifyMetaSignature(SECRETS, BODY, header)).toBe(false);
  });

  it('a body changed by one byte', () => {
    expect(verifyMetaSignature(SECRETS, Buffer.from(`${BODY.toString('utf8')} `), `sha256=${GOOD}`)).toBe(false);
  });
});

describe('signatures are only valid when made with a listed secret (properties)', () => {
  const secrets = fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 4 });
  const body = fc.uint8Array({ maxLength: 300 });
  // Hex of the right length (so the check reaches the HMAC comparison), or any text at all.
  const hexDigest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'));
  const anyHeader = fc.oneof(hexDigest, fc.string({ unit: 'binary' }), fc.constant(undefined));

  /** What a correct check answers: whether some listed secret gives exactly this digest. */
  function oracle(list: readonly string[], raw: Uint8Array, hex: string | undefined): boolean {
    return hex !== undefined && list.some((secret) => hmacHex(secret, raw) === hex.trim().toLowerCase());
  }

  it('random headers verify exactly when they are the HMAC under a listed secret', () => {
    fc.assert(
      fc.property(secrets, body, anyHeader, (list, raw, header) => {
        const bytes = Buffer.from(raw);
        expect(verifySignature(list, bytes, header)).toBe(oracle(list, raw, header));
        const meta = header === undefined ? undefined : `sha256=${header}`;
        expect(verifyMetaSignature(list, bytes, meta)).toBe(oracle(list, raw, header));
      }),
    );
  });

  it('a signature made with a listed secret verifies; one made with an unlisted secret does not', () => {
    fc.assert(
      fc.property(secrets, body, fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(), (list, raw, other, pick) => {
        const bytes = Buffer.from(raw);
        const listed = list[pick % Math.max(list.length, 1)];
        if (listed !== undefined) {
          expect(verifySignature(list, bytes, hmacHex(listed, raw))).toBe(true);
          expect(verifyMetaSignature(list, bytes, `sha256=${hmacHex(listed, raw)}`)).toBe(true);
        }
        // Two secrets can be one HMAC key: both are UTF-8 encoded, and a short key is padded with
        // zero bytes, so "k" and "k\u0000" sign alike. Only a really different key must fail.
        const forged = hmacHex(other, raw);
        if (!list.some((secret) => hmacHex(secret, raw) === forged)) {
          expect(verifySignature(list, bytes, forged)).toBe(false);
          expect(verifyMetaSignature(list, bytes, `sha256=${forged}`)).toBe(false);
        }
      }),
    );
  });
});
