// parseMessage / parseJsonObject / validateMessage: what a valid webhook body
// is, and a Pydantic-style issue for every failing field at once.

import { describe, expect, it } from 'vitest';
import type { Parsed, ValidationIssue } from '../../src/ingest/issues.js';
import { parseJsonObject, parseMessage, validateMessage } from '../../src/ingest/message.js';

const VALID = {
  message_id: 'm1',
  from: '+919876543210',
  to: '+14155550100',
  ts: '2025-01-15T10:00:00Z',
  text: 'Hello',
} as const;

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** VALID with `changes` applied; a change to undefined removes the field. */
function withFields(changes: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...VALID };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete body[key];
    else body[key] = value;
  }
  return body;
}

/** Every issue has the Pydantic shape: loc an array of strings/numbers, msg and type non-empty strings. */
function expectWellFormed(issues: readonly ValidationIssue[]): void {
  expect(issues.length).toBeGreaterThan(0);
  for (const issue of issues) {
    expect(Array.isArray(issue.loc)).toBe(true);
    expect(issue.loc.length).toBeGreaterThan(0);
    for (const part of issue.loc) expect(['string', 'number']).toContain(typeof part);
    expect(issue.loc[0]).toBe('body');
    expect(typeof issue.msg).toBe('string');
    expect(issue.msg).not.toBe('');
    expect(typeof issue.type).toBe('string');
    expect(issue.type).not.toBe('');
  }
}

/** The issues of a failed parse, checked for shape; fails the test when the parse succeeded. */
function issuesOf<T>(result: Parsed<T>): ValidationIssue[] {
  if (result.ok) throw new Error(`expected a validation failure, got ${JSON.stringify(result.value)}`);
  expectWellFormed(result.issues);
  return result.issues;
}

function locs<T>(result: Parsed<T>): (string | number)[][] {
  return issuesOf(result).map((issue) => [...issue.loc]);
}

describe('parseMessage: a valid body', () => {
  it('gives the message, with ts kept as sent and its instant key', () => {
    expect(parseMessage(json(VALID))).toEqual({
      ok: true,
      value: {
        messageId: 'm1',
        from: '+919876543210',
        to: '+14155550100',
        ts: '2025-01-15T10:00:00Z',
        tsKey: '2025-01-15T10:00:00',
        text: 'Hello',
      },
    });
  });

  it('keeps a fractional ts exactly as sent', () => {
    const result = parseMessage(json(withFields({ ts: '2025-01-15T10:00:00.500Z' })));
    expect(result.ok && result.value.ts).toBe('2025-01-15T10:00:00.500Z');
    expect(result.ok && result.value.tsKey).toBe('2025-01-15T10:00:00.5');
  });

  it('ignores unknown extra fields', () => {
    const result = parseMessage(json({ ...VALID, extra: { nested: [1, 2] }, priority: 5, text2: 42, From: 'x' }));
    expect(result.ok).toBe(true);
    expect(result.ok && result.value).toEqual({
      messageId: 'm1',
      from: '+919876543210',
      to: '+14155550100',
      ts: '2025-01-15T10:00:00Z',
      tsKey: '2025-01-15T10:00:00',
      text: 'Hello',
    });
  });

  it('accepts any JSON whitespace around and inside the object', () => {
    const raw = Buffer.from(`\n  {\n  "message_id" : "m1", "from":"+1","to":"+2","ts":"2025-01-15T10:00:00Z"}\r\n\t`);
    expect(parseMessage(raw).ok).toBe(true);
  });

  it('decodes non-ASCII UTF-8 text', () => {
    const result = parseMessage(json(withFields({ text: 'नमस्ते 👋 Привет' })));
    expect(result.ok && result.value.text).toBe('नमस्ते 👋 Привет');
  });
});

describe('parseMessage: a body that is not a JSON object', () => {
  it.each<[string, Buffer]>([
    ['empty body', Buffer.alloc(0)],
    ['invalid UTF-8 byte', Buffer.concat([Buffer.from('{"message_id":"m'), Buffer.from([0xff]), Buffer.from('"}')])],
    ['overlong UTF-8 encoding', Buffer.from([0x7b, 0xc0, 0xaf, 0x7d])],
    ['UTF-8-encoded surrogate', Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
    ['truncated UTF-8 sequence', Buffer.from([0x7b, 0x22, 0xe2, 0x82, 0x22, 0x7d])],
    ['UTF-16 encoded JSON', Buffer.from(JSON.stringify(VALID), 'utf16le')],
    ['invalid JSON', Buffer.from('{"message_id": "m1",')],
    ['not JSON at all', Buffer.from('hello')],
    ['whitespace only', Buffer.from('   \n')],
    ['trailing garbage', Buffer.from(`${JSON.stringify(VALID)}x`)],
    ['two objects', Buffer.from(`${JSON.stringify(VALID)}${JSON.stringify(VALID)}`)],
    ['form encoding', Buffer.from('message_id=m1&from=%2B1')],
    ['top-level array', json([VALID])],
    ['top-level empty array', Buffer.from('[]')],
    ['top-level string', Buffer.from('"hello"')],
    ['top-level null', Buffer.from('null')],
    ['top-level number', Buffer.from('42')],
    ['top-level true', Buffer.from('true')],
  ])('%s is one issue at ["body"]', (_name, body) => {
    expect(locs(parseMessage(body))).toEqual([['body']]);
    expect(locs(parseJsonObject(body))).toEqual([['body']]);
  });
});

describe('parseJsonObject', () => {
  it('returns the parsed object, extra fields included', () => {
    expect(parseJsonObject(Buffer.from('{"a":1,"b":[true,null]}'))).toEqual({ ok: true, value: { a: 1, b: [true, null] } });
  });

  it('returns an empty object for {}', () => {
    expect(parseJsonObject(Buffer.from('{}'))).toEqual({ ok: true, value: {} });
  });
});

describe('validateMessage: message_id', () => {
  it.each<[string, unknown]>([
    ['missing', undefined],
    ['null', null],
    ['a number', 1],
    ['a boolean', true],
    ['an array', ['m1']],
    ['an object', { id: 'm1' }],
    ['empty', ''],
    ['513 characters', 'a'.repeat(513)],
    ['513 emoji', '😀'.repeat(513)],
    ['a NUL character', 'm\u00001'],
    ['only a NUL character', '\u0000'],
  ])('%s is one issue at ["body","message_id"]', (_name, value) => {
    expect(locs(validateMessage(withFields({ message_id: value })))).toEqual([['body', 'message_id']]);
  });

  it('names the NUL character and the length limit in the issue', () => {
    expect(issuesOf(validateMessage(withFields({ message_id: 'a\u0000b' })))).toEqual([
      { loc: ['body', 'message_id'], type: 'string_nul', msg: 'String should not contain the NUL character (U+0000)' },
    ]);
    expect(issuesOf(validateMessage(withFields({ message_id: 'a'.repeat(513) })))[0]?.type).toBe('string_too_long');
  });

  it.each(['x', ' ', 'a'.repeat(500), 'a'.repeat(512), '😀'.repeat(512), 'm-1/2?3', 'सन्देश', 'm\u00011'])(
    '%j is accepted',
    (id) => {
      const result = validateMessage(withFields({ message_id: id }));
      expect(result.ok && result.value.messageId).toBe(id);
    },
  );
});

describe.each(['from', 'to'])('validateMessage: %s', (name) => {
  it.each<[string, unknown]>([
    ['missing', undefined],
    ['null', null],
    ['a number', 919876543210],
    ['an array', ['+1']],
    ['empty', ''],
    ['a plus alone', '+'],
    ['no plus', '919876543210'],
    ['16 digits', '+1234567890123456'],
    ['two plus signs', '++1234'],
    ['00 instead of +', '00919876543210'],
    ['a space inside', '+91 9876543210'],
    ['a leading space', ' +919876543210'],
    ['a trailing space', '+919876543210 '],
    ['a trailing newline', '+919876543210\n'],
    ['a dash', '+1-415-555-0100'],
    ['a letter', '+1415555010O'],
    ['Arabic-Indic digits', '+٩١٩٨٧٦٥٤٣٢١٠'],
    ['Devanagari digits', '+९१९८७६५४३२'],
    ['fullwidth digits', '+１２３'],
    ['a minus sign', '-919876543210'],
  ])(`%s is one issue at ["body","${name}"]`, (_label, value) => {
    expect(locs(validateMessage(withFields({ [name]: value })))).toEqual([['body', name]]);
  });

  it.each(['+1', '+12', '+919876543210', '+123456789012345', '+000000000000000'])('%j (1 to 15 digits) is accepted', (phone) => {
    const result = validateMessage(withFields({ [name]: phone }));
    expect(result.ok).toBe(true);
    expect(result.ok && (name === 'from' ? result.value.from : result.value.to)).toBe(phone);
  });
});

describe('validateMessage: ts', () => {
  it.each<[string, unknown]>([
    ['missing', undefined],
    ['null', null],
    ['epoch seconds as a number', 1736935200],
    ['empty', ''],
    ['Feb 30', '2024-02-30T10:00:00Z'],
    ['Feb 29 in a non-leap year', '2023-02-29T10:00:00Z'],
    ['an offset', '2025-01-15T10:00:00+05:30'],
    ['no Z', '2025-01-15T10:00:00'],
    ['a space separator', '2025-01-15 10:00:00Z'],
    ['date only', '2025-01-15'],
    ['hour 24', '2025-01-15T24:00:00Z'],
    ['a fraction of 65 digits', `2025-01-15T10:00:00.${'1'.repeat(65)}Z`],
  ])('%s is one issue at ["body","ts"]', (_name, value) => {
    expect(locs(validateMessage(withFields({ ts: value })))).toEqual([['body', 'ts']]);
  });

  it.each([
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00'],
    ['2025-01-15T10:00:00.123456789Z', '2025-01-15T10:00:00.123456789'],
    [`2025-01-15T10:00:00.${'1'.repeat(64)}Z`, `2025-01-15T10:00:00.${'1'.repeat(64)}`],
  ])('%s is accepted with key %s', (ts, key) => {
    const result = validateMessage(withFields({ ts }));
    expect(result.ok && result.value.tsKey).toBe(key);
  });
});

/** A string of `n` copies of `unit`. */
function repeat(unit: string, n: number): string {
  return unit.repeat(n);
}

describe('validateMessage: text', () => {
  it.each<[string, unknown, string | null]>([
    ['null', null, null],
    ['absent', undefined, null],
    ['empty', '', ''],
    ['exactly 4096 ASCII code points', repeat('a', 4096), repeat('a', 4096)],
    ['exactly 4096 emoji (8192 UTF-16 units)', repeat('😀', 4096), repeat('😀', 4096)],
    ['4095 emoji and one letter', `${repeat('😀', 4095)}a`, `${repeat('😀', 4095)}a`],
    ['exactly 4096 Devanagari code points', repeat('न', 4096), repeat('न', 4096)],
  ])('%s is accepted', (_name, value, expected) => {
    const result = validateMessage(withFields({ text: value }));
    expect(result.ok).toBe(true);
    expect(result.ok && result.value.text).toBe(expected);
  });

  it('4096 emoji really are 8192 UTF-16 units (the case above is not trivially short)', () => {
    expect(repeat('😀', 4096).length).toBe(8192);
  });

  it.each<[string, unknown]>([
    ['a number', 42],
    ['zero', 0],
    ['a boolean', false],
    ['an array', ['Hello']],
    ['an object', { body: 'Hello' }],
    ['4097 ASCII code points', repeat('a', 4097)],
    ['4097 emoji', repeat('😀', 4097)],
    ['4096 emoji and one letter', `${repeat('😀', 4096)}a`],
    ['a NUL character', 'before\u0000after'],
    ['only a NUL character', '\u0000'],
  ])('%s is one issue at ["body","text"]', (_name, value) => {
    expect(locs(validateMessage(withFields({ text: value })))).toEqual([['body', 'text']]);
  });

  it('names the NUL character in the issue; other control characters are text like any other', () => {
    expect(issuesOf(validateMessage(withFields({ text: 'a\u0000' })))).toEqual([
      { loc: ['body', 'text'], type: 'string_nul', msg: 'String should not contain the NUL character (U+0000)' },
    ]);
    const controls = 'tab\tnew\nline\u0001\u001f\u007f';
    const result = validateMessage(withFields({ text: controls }));
    expect(result.ok && result.value.text).toBe(controls);
  });

  it('refuses a NUL character sent as the JSON escape \\u0000, the only way it can arrive', () => {
    const body = Buffer.from('{"message_id":"m1","from":"+1","to":"+2","ts":"2025-01-15T10:00:00Z","text":"a\\u0000b"}');
    expect(locs(parseMessage(body))).toEqual([['body', 'text']]);
  });
});

describe('validateMessage names every failing field at once', () => {
  it('an empty object: every required field, and no text issue', () => {
    const found = locs(validateMessage({}));
    expect(found).toHaveLength(4);
    expect(found).toEqual(
      expect.arrayContaining([
        ['body', 'message_id'],
        ['body', 'from'],
        ['body', 'to'],
        ['body', 'ts'],
      ]),
    );
  });

  it('every field wrong in a different way', () => {
    const body = { message_id: '', from: '919876543210', to: 14155550100, ts: '2025-02-30T10:00:00Z', text: 7 };
    const found = locs(parseMessage(json(body)));
    expect(found).toHaveLength(5);
    expect(found).toEqual(
      expect.arrayContaining([
        ['body', 'message_id'],
        ['body', 'from'],
        ['body', 'to'],
        ['body', 'ts'],
        ['body', 'text'],
      ]),
    );
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['from and ts', { from: '+', ts: 'yesterday' }, ['from', 'ts']],
    ['to and text', { to: null, text: repeat('x', 4097) }, ['to', 'text']],
    ['message_id and from', { message_id: undefined, from: '+1234567890123456' }, ['message_id', 'from']],
  ])('%s', (_name, changes, fields) => {
    const found = locs(validateMessage(withFields(changes)));
    expect(found).toHaveLength(fields.length);
    expect(found).toEqual(expect.arrayContaining(fields.map((f) => ['body', f])));
  });
});
