// readWhatsAppEnvelope: what a Meta WhatsApp Cloud API webhook body turns into (messages,
// delivery statuses, dead letters, ignored change fields), from documented payload shapes
// (test/fixtures/whatsapp/) and from items changed one rule at a time.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codePointLength, type Parsed } from '../../src/ingest/issues.js';
import { parseJsonObject } from '../../src/ingest/message.js';
import {
  type DeadLetter,
  type DeliveryStatus,
  type EnvelopeContents,
  readWhatsAppEnvelope,
  type WhatsAppMessage,
} from '../../src/ingest/whatsapp.js';

type Json = Record<string, unknown>;

const WABA = 'whatsapp_business_account';
const BUSINESS_DIGITS = '15550783881';

/** The raw bytes of a fixture, read the way the webhook route will: bytes, parseJsonObject, envelope. */
function fixture(name: string): { body: Json; contents: EnvelopeContents } {
  const raw = readFileSync(new URL(`../fixtures/whatsapp/${name}`, import.meta.url));
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) throw new Error(`fixture ${name} is not a JSON object`);
  return { body: parsed.value, contents: contentsOf(readWhatsAppEnvelope(parsed.value)) };
}

function contentsOf(result: Parsed<EnvelopeContents>): EnvelopeContents {
  if (!result.ok) throw new Error(`expected an envelope, got issues ${JSON.stringify(result.issues)}`);
  return result.value;
}

/** `base` with `changes` applied; a change to undefined removes the field. */
function withFields(base: Json, changes: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

const TEXT_MESSAGE: Json = {
  from: '919876543210',
  id: 'wamid.unit-1',
  timestamp: '1736935200',
  type: 'text',
  text: { body: 'Hello' },
};

const READ_STATUS: Json = {
  id: 'wamid.out-1',
  status: 'read',
  timestamp: '1736935200',
  recipient_id: '919876543210',
};

function message(changes: Json = {}): Json {
  return withFields(TEXT_MESSAGE, changes);
}

function status(changes: Json = {}): Json {
  return withFields(READ_STATUS, changes);
}

/** A `field: "messages"` change whose value carries the business number and `value`'s lists. */
function messagesChange(
  value: Json,
  metadata: unknown = { display_phone_number: BUSINESS_DIGITS, phone_number_id: '1065' },
): Json {
  return { field: 'messages', value: withFields({ messaging_product: 'whatsapp', metadata }, value) };
}

function envelope(...changes: unknown[]): Json {
  return { object: WABA, entry: [{ id: '1022', changes }] };
}

function read(body: Json): EnvelopeContents {
  return contentsOf(readWhatsAppEnvelope(body));
}

/** The one message, or the one dead letter, that a single message item becomes. */
function readMessageItem(item: unknown, metadata?: unknown): WhatsAppMessage | DeadLetter {
  const change = metadata === undefined ? messagesChange({ messages: [item] }) : messagesChange({ messages: [item] }, metadata);
  const contents = read(envelope(change));
  expect(contents.messages.length + contents.deadLetters.length).toBe(1);
  const out = contents.messages[0] ?? contents.deadLetters[0];
  if (out === undefined) throw new Error('the item vanished');
  return out;
}

function readStatusItem(item: unknown): DeliveryStatus | DeadLetter {
  const contents = read(envelope(messagesChange({ statuses: [item] })));
  expect(contents.statuses.length + contents.deadLetters.length).toBe(1);
  const out = contents.statuses[0] ?? contents.deadLetters[0];
  if (out === undefined) throw new Error('the item vanished');
  return out;
}

/** The part of a parsed JSON value at `path`, or undefined when there is none. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let here = value;
  for (const step of path) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = Object.hasOwn(here, step) ? (here as Record<string | number, unknown>)[step] : undefined;
  }
  return here;
}

function isDeadLetter(value: WhatsAppMessage | DeliveryStatus | DeadLetter): value is DeadLetter {
  return 'reason' in value;
}

/** The dead letter a single item became; fails the test when it was read instead. */
function deadLetterOf(value: WhatsAppMessage | DeliveryStatus | DeadLetter): DeadLetter {
  if (!isDeadLetter(value)) throw new Error(`expected a dead letter, got ${JSON.stringify(value)}`);
  return value;
}

function messageOf(value: WhatsAppMessage | DeadLetter): WhatsAppMessage {
  if (isDeadLetter(value)) throw new Error(`expected a message, got dead letter: ${value.reason}`);
  return value;
}

function statusOf(value: DeliveryStatus | DeadLetter): DeliveryStatus {
  if (isDeadLetter(value)) throw new Error(`expected a status, got dead letter: ${value.reason}`);
  return value;
}

describe('fixtures written from Meta’s documented payloads', () => {
  it('a text message', () => {
    expect(fixture('text.json').contents).toEqual({
      messages: [
        {
          messageId: 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggQTFCMkMzRDRFNUY2QTdCOEM5RDBFMUYyQTNCNEM1RDYA',
          from: '+919876543210',
          to: '+15550783881',
          ts: '2025-01-15T10:00:00Z',
          tsKey: '2025-01-15T10:00:00',
          text: 'Hello! Is my order on its way? 📦',
          type: 'text',
          origin: {
            source: 'whatsapp',
            raw: expect.stringContaining('"Hello! Is my order on its way? 📦"'),
            contactName: 'Asha Rao',
            replyTo: null,
            phoneNumberId: '106540352242922',
          },
        },
      ],
      statuses: [],
      deadLetters: [],
      ignoredFields: [],
    });
  });

  it.each([
    ['image-with-caption.json', 'image', 'The box arrived like this', '2025-01-15T10:01:00Z'],
    ['document-without-caption.json', 'document', null, '2025-01-15T10:02:00Z'],
    [
      'system-user-changed-number.json',
      'system',
      'Maya changed their phone number to a new number 16505559876',
      '2025-01-15T10:03:00Z',
    ],
  ])('%s: a %s message with text %j', (name, type, text, ts) => {
    const { contents } = fixture(name);
    expect(contents.deadLetters).toEqual([]);
    expect(contents.statuses).toEqual([]);
    expect(contents.messages).toHaveLength(1);
    expect(contents.messages[0]).toMatchObject({ type, text, ts, to: '+15550783881' });
  });

  it('delivery statuses: sent, delivered, read, and failed with its errors', () => {
    const { contents } = fixture('statuses.json');
    const sentTo = 'wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSM0E5QjhDN0Q2RTVGNEEzQjJDAA==';
    const failedErrors = [
      {
        code: 131026,
        title: 'Message undeliverable',
        message: 'Message undeliverable',
        error_data: { details: 'Unable to deliver the message to the recipient.' },
      },
    ];
    expect(contents.statuses).toEqual([
      {
        messageId: sentTo,
        status: 'sent',
        ts: '2025-01-15T10:03:20Z',
        tsKey: '2025-01-15T10:03:20',
        recipientId: '919876543210',
        errors: null,
      },
      {
        messageId: sentTo,
        status: 'delivered',
        ts: '2025-01-15T10:03:22Z',
        tsKey: '2025-01-15T10:03:22',
        recipientId: '919876543210',
        errors: null,
      },
      {
        messageId: sentTo,
        status: 'read',
        ts: '2025-01-15T10:04:30Z',
        tsKey: '2025-01-15T10:04:30',
        recipientId: '919876543210',
        errors: null,
      },
      {
        messageId: 'wamid.HBgLMTY1MDU1NTAxOTkVAgARGBI0RjNFMkQxQzBCOUE4Rjc2RTUA',
        status: 'failed',
        ts: '2025-01-15T10:05:00Z',
        tsKey: '2025-01-15T10:05:00',
        recipientId: '16505550199',
        errors: JSON.stringify(failedErrors),
      },
    ]);
    expect(JSON.parse(contents.statuses[3]?.errors ?? 'null')).toEqual(failedErrors);
    expect(contents.messages).toEqual([]);
    expect(contents.deadLetters).toEqual([]);
  });

  it('several entries, changes and items: all read in order, other fields listed', () => {
    const { contents } = fixture('several-entries.json');
    expect(contents.messages.map((m) => [m.messageId, m.type, m.from, m.to, m.ts, m.text])).toEqual([
      ['wamid.multi-1', 'text', '+919876543210', '+15550783881', '2025-01-15T10:13:20Z', 'First'],
      ['wamid.multi-2', 'audio', '+4915112345678', '+15550783881', '2025-01-15T10:13:21Z', null],
      ['wamid.multi-3', 'location', '+447700900123', '+15550100200', '2025-01-15T10:15:00Z', null],
      ['wamid.multi-4', 'reaction', '+447700900123', '+15550100200', '2025-01-15T10:15:05Z', null],
      ['wamid.multi-5', 'video', '+447700900123', '+15550100200', '2025-01-15T10:15:10Z', 'Short clip'],
    ]);
    expect(contents.statuses.map((s) => [s.messageId, s.status, s.ts])).toEqual([
      ['wamid.multi-out-1', 'delivered', '2025-01-15T10:13:22Z'],
      ['wamid.multi-out-2', 'sent', '2025-01-15T10:14:50Z'],
      ['wamid.multi-out-2', 'read', '2025-01-15T10:15:20Z'],
    ]);
    expect(contents.ignoredFields).toEqual(['message_template_status_update', 'account_update']);
    expect(contents.deadLetters).toEqual([]);
  });

  it('unreadable items become dead letters, kept whole, and their siblings are still read', () => {
    const { body, contents } = fixture('mixed-unreadable.json');
    expect(contents.messages.map((m) => [m.messageId, m.type, m.text])).toEqual([
      ['wamid.mixed-ok-1', 'text', 'This one is fine'],
      ['wamid.mixed-ok-2', 'sticker', null],
      ['wamid.mixed-ok-3', 'unsupported', null],
    ]);
    expect(contents.statuses.map((s) => [s.messageId, s.status])).toEqual([['wamid.mixed-out-2', 'delivered']]);
    expect(contents.deadLetters.map((d) => [d.kind, d.reason, d.itemId])).toEqual([
      ['message', 'from: expected 1 to 15 digits', 'wamid.mixed-bad-from'],
      ['message', 'id: field required', null],
      ['message', 'message: expected an object, got a string', null],
      ['status', 'status: expected one of sent, delivered, read, failed, got "deleted"', 'wamid.mixed-out-1'],
      ['status', 'status: expected an object, got a number', null],
      ['entry', 'entry: expected an object, got a string', null],
      ['entry', 'changes: field required', '204417733920155'],
      ['change', 'field: field required', null],
      ['change', 'value.messages: expected an array, got an object', null],
    ]);
    // Each dead letter holds its item exactly as it was in the body.
    const firstValue = ['entry', 0, 'changes', 0, 'value'];
    const expectedItems = [
      at(body, ...firstValue, 'messages', 1),
      at(body, ...firstValue, 'messages', 2),
      at(body, ...firstValue, 'messages', 3),
      at(body, ...firstValue, 'statuses', 0),
      at(body, ...firstValue, 'statuses', 2),
      at(body, 'entry', 1),
      at(body, 'entry', 2),
      at(body, 'entry', 3, 'changes', 0),
      at(body, 'entry', 3, 'changes', 1),
    ];
    expect(expectedItems).not.toContain(undefined);
    expect(contents.deadLetters.map((d) => JSON.parse(d.item))).toEqual(expectedItems);
    expect(contents.ignoredFields).toEqual([]);
  });
});

describe('a body that is not a WhatsApp Business Account envelope is refused', () => {
  it.each<[string, Json, [string, string][]]>([
    [
      'an empty object',
      {},
      [
        ['object', 'missing'],
        ['entry', 'missing'],
      ],
    ],
    ['object missing', { entry: [] }, [['object', 'missing']]],
    ['another object', { object: 'page', entry: [] }, [['object', 'literal_error']]],
    ['the object in another case', { object: 'WhatsApp_Business_Account', entry: [] }, [['object', 'literal_error']]],
    ['object a number', { object: 1, entry: [] }, [['object', 'literal_error']]],
    ['object null', { object: null, entry: [] }, [['object', 'literal_error']]],
    ['entry missing', { object: WABA }, [['entry', 'missing']]],
    ['entry null', { object: WABA, entry: null }, [['entry', 'list_type']]],
    ['entry an object', { object: WABA, entry: { id: '1', changes: [] } }, [['entry', 'list_type']]],
    ['entry a string', { object: WABA, entry: '[]' }, [['entry', 'list_type']]],
    [
      'both wrong',
      { object: 'instagram', entry: 5 },
      [
        ['object', 'literal_error'],
        ['entry', 'list_type'],
      ],
    ],
    [
      'a core-form message body',
      { message_id: 'm1', from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z' },
      [
        ['object', 'missing'],
        ['entry', 'missing'],
      ],
    ],
  ])('%s', (_name, body, expected) => {
    const result = readWhatsAppEnvelope(body);
    if (result.ok) throw new Error('expected issues');
    expect(result.issues.map((i) => [i.loc, i.type])).toEqual(expected.map(([field, type]) => [['body', field], type]));
    for (const issue of result.issues) expect(issue.msg).not.toBe('');
  });

  it('says which literal it wanted', () => {
    expect(readWhatsAppEnvelope({ object: 'page', entry: [] })).toEqual({
      ok: false,
      issues: [{ loc: ['body', 'object'], type: 'literal_error', msg: "Input should be 'whatsapp_business_account'" }],
    });
  });

  it('an envelope with no entries is read as nothing', () => {
    expect(read({ object: WABA, entry: [] })).toEqual({ messages: [], statuses: [], deadLetters: [], ignoredFields: [] });
  });
});

describe('entries', () => {
  it.each<[string, unknown, string, string | null]>([
    ['a string', 'entry', 'entry: expected an object, got a string', null],
    ['null', null, 'entry: expected an object, got null', null],
    ['a number', 7, 'entry: expected an object, got a number', null],
    ['an array', [{ changes: [] }], 'entry: expected an object, got an array', null],
    ['without changes', { id: '1022' }, 'changes: field required', '1022'],
    [
      'with changes an object',
      { id: '1022', changes: { field: 'messages' } },
      'changes: expected an array, got an object',
      '1022',
    ],
    ['with changes null', { changes: null }, 'changes: expected an array, got null', null],
    ['with a numeric id', { id: 1022 }, 'changes: field required', null],
  ])('an entry that is %s is a dead letter, and the next entry is still read', (_name, entry, reason, itemId) => {
    const good = { id: '2044', changes: [messagesChange({ messages: [message()] })] };
    const contents = read({ object: WABA, entry: [entry, good] });
    expect(contents.deadLetters).toEqual([{ kind: 'entry', reason, item: JSON.stringify(entry), itemId }]);
    expect(contents.messages.map((m) => m.messageId)).toEqual(['wamid.unit-1']);
  });

  it('an entry with no changes holds nothing', () => {
    expect(read({ object: WABA, entry: [{ id: '1', changes: [] }] })).toEqual({
      messages: [],
      statuses: [],
      deadLetters: [],
      ignoredFields: [],
    });
  });
});

describe('changes', () => {
  it.each<[string, unknown, string]>([
    ['a string', 'messages', 'change: expected an object, got a string'],
    ['null', null, 'change: expected an object, got null'],
    ['an array', [], 'change: expected an object, got an array'],
    ['without a field', { value: { messages: [message()] } }, 'field: field required'],
    ['with a numeric field', { field: 1, value: {} }, 'field: expected a string, got a number'],
    ['with an empty field', { field: '', value: {} }, 'field: expected at least 1 character'],
    ['about messages without a value', { field: 'messages' }, 'value: field required'],
    [
      'about messages with a value that is an array',
      { field: 'messages', value: [message()] },
      'value: expected an object, got an array',
    ],
    ['about messages with a value that is null', { field: 'messages', value: null }, 'value: expected an object, got null'],
    [
      'with value.messages an object',
      messagesChange({ messages: message() }),
      'value.messages: expected an array, got an object',
    ],
    ['with value.messages null', messagesChange({ messages: null }), 'value.messages: expected an array, got null'],
    ['with value.statuses a string', messagesChange({ statuses: 'read' }), 'value.statuses: expected an array, got a string'],
    [
      'with both lists wrong',
      messagesChange({ messages: {}, statuses: 1 }),
      'value.messages: expected an array, got an object; value.statuses: expected an array, got a number',
    ],
    [
      'with good messages but statuses wrong (kept whole, not split)',
      messagesChange({ messages: [message()], statuses: {} }),
      'value.statuses: expected an array, got an object',
    ],
  ])('a change that is %s is a dead letter, and the next change is still read', (_name, change, reason) => {
    const contents = read(envelope(change, messagesChange({ statuses: [status()] })));
    expect(contents.deadLetters).toEqual([{ kind: 'change', reason, item: JSON.stringify(change), itemId: null }]);
    expect(contents.messages).toEqual([]);
    expect(contents.statuses.map((s) => s.messageId)).toEqual(['wamid.out-1']);
  });

  it('changes about other fields are listed, in order, whatever their value, and not read', () => {
    const contents = read(
      envelope(
        { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } },
        { field: 'message_template_status_update' },
        { field: 'Messages', value: { messages: [message()] } },
        { field: 'statuses', value: 'not even an object' },
        messagesChange({ messages: [message()] }),
      ),
    );
    expect(contents.ignoredFields).toEqual(['account_update', 'message_template_status_update', 'Messages', 'statuses']);
    expect(contents.messages).toHaveLength(1);
    expect(contents.deadLetters).toEqual([]);
  });

  it('a messages change with neither messages nor statuses holds nothing', () => {
    expect(read(envelope(messagesChange({})))).toEqual({ messages: [], statuses: [], deadLetters: [], ignoredFields: [] });
  });

  it('the change id, when it has a storable one, is the dead letter’s itemId', () => {
    const contents = read(envelope({ id: 'change-7' }));
    expect(contents.deadLetters[0]?.itemId).toBe('change-7');
  });
});

describe('a message', () => {
  it('is mapped field by field, keeping the item as its raw', () => {
    expect(readMessageItem(message())).toEqual({
      messageId: 'wamid.unit-1',
      from: '+919876543210',
      to: '+15550783881',
      ts: '2025-01-15T10:00:00Z',
      tsKey: '2025-01-15T10:00:00',
      text: 'Hello',
      type: 'text',
      origin: {
        source: 'whatsapp',
        raw: JSON.stringify(message()),
        contactName: null,
        replyTo: null,
        phoneNumberId: expect.any(String),
      },
    });
  });

  it.each<[string, unknown, string]>([
    ['a string', 'hello', 'message: expected an object, got a string'],
    ['null', null, 'message: expected an object, got null'],
    ['an array', [message()], 'message: expected an object, got an array'],
    ['a boolean', true, 'message: expected an object, got a boolean'],
  ])('that is %s is a dead letter', (_name, item, reason) => {
    expect(readMessageItem(item)).toEqual({ kind: 'message', reason, item: JSON.stringify(item), itemId: null });
  });

  it.each<[string, unknown, string]>([
    ['missing', undefined, 'from: field required'],
    ['a number', 919876543210, 'from: expected a string of 1 to 15 digits, got a number'],
    ['null', null, 'from: expected a string of 1 to 15 digits, got null'],
    ['empty', '', 'from: expected 1 to 15 digits'],
    ['with a plus', '+919876543210', 'from: expected 1 to 15 digits'],
    ['16 digits', '1234567890123456', 'from: expected 1 to 15 digits'],
    ['with spaces', '91 98765 43210', 'from: expected 1 to 15 digits'],
    ['with a trailing newline', '919876543210\n', 'from: expected 1 to 15 digits'],
    ['in Arabic-Indic digits', '٩١٩٨٧٦٥٤٣٢١٠', 'from: expected 1 to 15 digits'],
    ['in fullwidth digits', '１２３', 'from: expected 1 to 15 digits'],
  ])('with from %s is a dead letter', (_name, from, reason) => {
    const item = message({ from });
    expect(readMessageItem(item)).toEqual({ kind: 'message', reason, item: JSON.stringify(item), itemId: 'wamid.unit-1' });
  });

  it.each(['1', '44', '919876543210', '123456789012345', '000000000000000'])(
    'with from %j has from "+" and those digits',
    (from) => {
      expect(messageOf(readMessageItem(message({ from }))).from).toBe(`+${from}`);
    },
  );
});

// Ids follow the core-form message_id rules for messages and statuses alike: both are stored and indexed.
describe.each([
  ['message', message, readMessageItem],
  ['status', status, readStatusItem],
] as const)('the id of a %s', (kind, build, readItem) => {
  it.each<[string, unknown, string]>([
    ['missing', undefined, 'id: field required'],
    ['a number', 12, 'id: expected a string, got a number'],
    ['null', null, 'id: expected a string, got null'],
    ['empty', '', 'id: expected at least 1 character'],
    ['513 characters', 'w'.repeat(513), 'id: expected at most 512 characters'],
    ['513 emoji', '😀'.repeat(513), 'id: expected at most 512 characters'],
    ['with a NUL character', 'wamid.\u0000', 'id: contains the NUL character (U+0000)'],
    ['with an unpaired surrogate', 'wamid.\ud800', 'id: contains an unpaired UTF-16 surrogate'],
  ])('%s is a dead letter without an itemId', (_name, id, reason) => {
    const item = build({ id });
    expect(readItem(item)).toEqual({ kind, reason, item: JSON.stringify(item), itemId: null });
  });

  it.each(['x', 'w'.repeat(512), '😀'.repeat(512), 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA'])(
    '%j is accepted',
    (id) => {
      const out = readItem(build({ id }));
      expect(isDeadLetter(out)).toBe(false);
      expect('messageId' in out && out.messageId).toBe(id);
    },
  );
});

describe.each([
  ['message', message, readMessageItem],
  ['status', status, readStatusItem],
] as const)('the timestamp of a %s', (kind, build, readItem) => {
  it.each<[string, unknown, string]>([
    ['0 (a string)', '0', '1970-01-01T00:00:00Z'],
    ['0 (a number)', 0, '1970-01-01T00:00:00Z'],
    ['Meta’s documented example', '1504902988', '2017-09-08T20:36:28Z'],
    ['the same as a number', 1504902988, '2017-09-08T20:36:28Z'],
    ['with leading zeros', '0001504902988', '2017-09-08T20:36:28Z'],
    ['a leap day', '1709164800', '2024-02-29T00:00:00Z'],
    ['the last second of 9999', '253402300799', '9999-12-31T23:59:59Z'],
    ['the last second of 9999, a number', 253402300799, '9999-12-31T23:59:59Z'],
  ])('%s becomes %s', (_name, timestamp, ts) => {
    const out = readItem(build({ timestamp }));
    expect(out).toMatchObject({ ts, tsKey: ts.slice(0, 19) });
  });

  it.each<[string, unknown, string]>([
    ['missing', undefined, 'timestamp: field required'],
    ['empty', '', 'timestamp: expected Unix seconds, digits only'],
    ['negative, a string', '-1', 'timestamp: expected Unix seconds, digits only'],
    ['negative, a number', -1, 'timestamp: expected Unix seconds, a whole number not below 0'],
    ['fractional, a string', '1504902988.5', 'timestamp: expected Unix seconds, digits only'],
    ['fractional, a number', 1504902988.5, 'timestamp: expected Unix seconds, a whole number not below 0'],
    ['exponent notation', '1.5e9', 'timestamp: expected Unix seconds, digits only'],
    ['with a leading space', ' 1504902988', 'timestamp: expected Unix seconds, digits only'],
    ['in milliseconds past year 9999', '1736935200000000', 'timestamp: expected a time no later than 9999-12-31T23:59:59Z'],
    ['one second into year 10000', '253402300800', 'timestamp: expected a time no later than 9999-12-31T23:59:59Z'],
    ['a huge number', 1e300, 'timestamp: expected a time no later than 9999-12-31T23:59:59Z'],
    ['400 digits', '9'.repeat(400), 'timestamp: expected a time no later than 9999-12-31T23:59:59Z'],
    ['an ISO date', '2025-01-15T10:00:00Z', 'timestamp: expected Unix seconds, digits only'],
    ['null', null, 'timestamp: expected Unix seconds as a string or number, got null'],
    ['a boolean', true, 'timestamp: expected Unix seconds as a string or number, got a boolean'],
    ['an array', ['1504902988'], 'timestamp: expected Unix seconds as a string or number, got an array'],
  ])('%s is a dead letter', (_name, timestamp, reason) => {
    const item = build({ timestamp });
    expect(deadLetterOf(readItem(item))).toEqual({ kind, reason, item: JSON.stringify(item), itemId: build().id });
  });
});

describe('the business number a message was sent to (value.metadata.display_phone_number)', () => {
  it.each([
    ['15550783881', '+15550783881'],
    ['+15550783881', '+15550783881'],
    ['+1 555 078 3881', '+15550783881'],
    ['+1 (555) 078-3881', '+15550783881'],
    ['1.555.078.3881', '+15550783881'],
    ['(+44) 20 7946 0958', '+442079460958'],
    ['7', '+7'],
    ['123456789012345', '+123456789012345'],
  ])('%j gives to %j', (display, to) => {
    expect(messageOf(readMessageItem(message(), { display_phone_number: display })).to).toBe(to);
  });

  const where = 'to (value.metadata.display_phone_number)';
  it.each<[string, unknown, string]>([
    ['metadata missing', undefined, `${where}: value.metadata is missing`],
    ['metadata a string', BUSINESS_DIGITS, `${where}: value.metadata should be an object, got a string`],
    ['metadata null', null, `${where}: value.metadata should be an object, got null`],
    ['display_phone_number missing', { phone_number_id: '1065' }, `${where}: field required`],
    ['display_phone_number a number', { display_phone_number: 15550783881 }, `${where}: expected a string, got a number`],
    ['display_phone_number empty', { display_phone_number: '' }, `${where}: expected 1 to 15 digits, got ""`],
    ['a plus alone', { display_phone_number: '+' }, `${where}: expected 1 to 15 digits, got "+"`],
    ['two plus signs', { display_phone_number: '++1555' }, `${where}: expected 1 to 15 digits, got "++1555"`],
    ['16 digits', { display_phone_number: '1234567890123456' }, `${where}: expected 1 to 15 digits, got "1234567890123456"`],
    ['a letter', { display_phone_number: '1555O783881' }, `${where}: expected 1 to 15 digits, got "1555O783881"`],
    ['a slash', { display_phone_number: '1555/0783881' }, `${where}: expected 1 to 15 digits, got "1555/0783881"`],
    ['a plus in the middle', { display_phone_number: '1+5550783881' }, `${where}: expected 1 to 15 digits, got "1+5550783881"`],
  ])('%s: every message of the change is a dead letter; statuses are still read', (_name, metadata, reason) => {
    const items = [message(), message({ id: 'wamid.unit-2' })];
    const change =
      metadata === undefined
        ? { field: 'messages', value: { messages: items, statuses: [status()] } }
        : messagesChange({ messages: items, statuses: [status()] }, metadata);
    const contents = read(envelope(change));
    expect(contents.messages).toEqual([]);
    expect(contents.deadLetters).toEqual(
      items.map((item) => ({ kind: 'message', reason, item: JSON.stringify(item), itemId: item.id })),
    );
    expect(contents.statuses).toHaveLength(1);
  });

  it('quotes a long bad number cut short, so a reason stays readable', () => {
    const reason = deadLetterOf(readMessageItem(message(), { display_phone_number: 'x'.repeat(1000) })).reason;
    expect(reason).toBe(`${where}: expected 1 to 15 digits, got "${'x'.repeat(40)}"…`);
  });
});

describe('the type and text of a message', () => {
  it.each<[string, Json, string | null]>([
    ['text', { type: 'text', text: { body: 'Hi there' } }, 'Hi there'],
    ['text with an empty body', { type: 'text', text: { body: '' } }, ''],
    ['text with extra fields', { type: 'text', text: { body: 'Hi', preview_url: true } }, 'Hi'],
    ['image with a caption', { type: 'image', text: undefined, image: { id: '1', caption: 'A cat' } }, 'A cat'],
    ['video with a caption', { type: 'video', text: undefined, video: { id: '1', caption: 'A clip' } }, 'A clip'],
    ['document with a caption', { type: 'document', text: undefined, document: { id: '1', caption: 'Invoice' } }, 'Invoice'],
    ['sticker with a caption', { type: 'sticker', text: undefined, sticker: { id: '1', caption: 'Ha' } }, 'Ha'],
    ['image without a caption', { type: 'image', text: undefined, image: { id: '1' } }, null],
    ['document without a caption', { type: 'document', text: undefined, document: { id: '1', filename: 'a.pdf' } }, null],
    ['image with a numeric caption', { type: 'image', text: undefined, image: { caption: 5 } }, null],
    ['image without its media object', { type: 'image', text: undefined }, null],
    ['image whose media object is a string', { type: 'image', text: undefined, image: 'A cat' }, null],
    ['image with the caption of another media object', { type: 'image', text: undefined, video: { caption: 'A clip' } }, null],
    [
      'system',
      { type: 'system', text: undefined, system: { body: 'Maya changed their number', type: 'user_changed_number' } },
      'Maya changed their number',
    ],
    ['system without a body', { type: 'system', text: undefined, system: { type: 'customer_identity_changed' } }, null],
    ['audio', { type: 'audio', text: undefined, audio: { id: '1', voice: true } }, null],
    ['audio with a stray text field', { type: 'audio', text: { body: 'ignored' } }, null],
    ['location', { type: 'location', text: undefined, location: { latitude: 1, longitude: 2, name: 'Here' } }, null],
    ['contacts', { type: 'contacts', text: undefined, contacts: [{ name: { formatted_name: 'A' } }] }, null],
    [
      'interactive',
      { type: 'interactive', text: undefined, interactive: { type: 'button_reply', button_reply: { title: 'Yes' } } },
      null,
    ],
    ['button', { type: 'button', text: undefined, button: { text: 'Stop promotions', payload: 'STOP' } }, null],
    ['reaction', { type: 'reaction', text: undefined, reaction: { message_id: 'wamid.x', emoji: '👍' } }, null],
    ['order', { type: 'order', text: undefined, order: { catalog_id: '1', text: 'Two please' } }, null],
    ['unsupported', { type: 'unsupported', text: undefined, errors: [{ code: 131051 }] }, null],
    ['a type Meta has not invented yet', { type: 'hologram', text: undefined, hologram: { caption: 'x' } }, null],
  ])('%s', (_name, changes, text) => {
    const out = messageOf(readMessageItem(message(changes)));
    expect(out.text).toBe(text);
    expect(out.type).toBe(changes.type);
  });

  it.each<[string, Json, string]>([
    ['type missing', { type: undefined }, 'type: field required'],
    ['type empty', { type: '' }, 'type: expected at least 1 character'],
    ['type a number', { type: 1 }, 'type: expected a string, got a number'],
    ['type with a NUL character', { type: 'te\u0000xt' }, 'type: contains the NUL character (U+0000)'],
    ['text without its text object', { text: undefined }, 'text: field required for a text message'],
    ['text whose text is a string', { text: 'Hello' }, 'text: expected an object, got a string'],
    ['text without a body', { text: {} }, 'text.body: field required'],
    ['text with a null body', { text: { body: null } }, 'text.body: expected a string, got null'],
    ['text of 4097 characters', { text: { body: 'a'.repeat(4097) } }, 'text.body: expected at most 4096 characters'],
    ['text of 4097 emoji', { text: { body: '😀'.repeat(4097) } }, 'text.body: expected at most 4096 characters'],
    ['text with a NUL character', { text: { body: 'a\u0000b' } }, 'text.body: contains the NUL character (U+0000)'],
    ['text with an unpaired surrogate', { text: { body: 'a\udc00b' } }, 'text.body: contains an unpaired UTF-16 surrogate'],
    [
      'a caption of 4097 characters',
      { type: 'image', image: { caption: 'a'.repeat(4097) } },
      'image.caption: expected at most 4096 characters',
    ],
    [
      'a caption with a NUL character',
      { type: 'video', video: { caption: '\u0000' } },
      'video.caption: contains the NUL character (U+0000)',
    ],
    [
      'a system body with a NUL character',
      { type: 'system', system: { body: '\u0000' } },
      'system.body: contains the NUL character (U+0000)',
    ],
  ])('%s is a dead letter', (_name, changes, reason) => {
    const item = message(changes);
    expect(readMessageItem(item)).toEqual({ kind: 'message', reason, item: JSON.stringify(item), itemId: 'wamid.unit-1' });
  });

  it.each([
    ['4096 characters', 'a'.repeat(4096)],
    ['4096 emoji', '😀'.repeat(4096)],
    ['non-ASCII text', 'नमस्ते 👋 Привет'],
  ])('text of %s is accepted', (_name, body) => {
    expect(messageOf(readMessageItem(message({ text: { body } }))).text).toBe(body);
  });

  it('names every problem of one item, in field order', () => {
    const item = message({ id: undefined, from: '+1', timestamp: 'soon', type: 'text', text: { body: 5 } });
    expect(deadLetterOf(readMessageItem(item)).reason).toBe(
      'id: field required; from: expected 1 to 15 digits; timestamp: expected Unix seconds, digits only; text.body: expected a string, got a number',
    );
  });
});

describe('a delivery status', () => {
  it.each(['sent', 'delivered', 'read', 'failed'])('%s is read', (name) => {
    expect(readStatusItem(status({ status: name }))).toEqual({
      messageId: 'wamid.out-1',
      status: name,
      ts: '2025-01-15T10:00:00Z',
      tsKey: '2025-01-15T10:00:00',
      recipientId: '919876543210',
      errors: null,
    });
  });

  it.each<[string, unknown, string]>([
    ['missing', undefined, 'status: field required'],
    ['a number', 2, 'status: expected a string, got a number'],
    ['null', null, 'status: expected a string, got null'],
    ['empty', '', 'status: expected one of sent, delivered, read, failed, got ""'],
    ['deleted', 'deleted', 'status: expected one of sent, delivered, read, failed, got "deleted"'],
    ['warning', 'warning', 'status: expected one of sent, delivered, read, failed, got "warning"'],
    ['in capitals', 'READ', 'status: expected one of sent, delivered, read, failed, got "READ"'],
    ['with a NUL character', 'read\u0000', 'status: expected one of sent, delivered, read, failed, got "read\\u0000"'],
  ])('with status %s is a dead letter', (_name, value, reason) => {
    const item = status({ status: value });
    expect(readStatusItem(item)).toEqual({ kind: 'status', reason, item: JSON.stringify(item), itemId: 'wamid.out-1' });
  });

  it.each<[string, unknown, string]>([
    ['a string', 'read', 'status: expected an object, got a string'],
    ['a number', 42, 'status: expected an object, got a number'],
    ['null', null, 'status: expected an object, got null'],
    ['an array', [status()], 'status: expected an object, got an array'],
  ])('that is %s is a dead letter', (_name, item, reason) => {
    expect(readStatusItem(item)).toEqual({ kind: 'status', reason, item: JSON.stringify(item), itemId: null });
  });

  it.each<[string, unknown, string | null]>([
    ['a string', '16505550199', '16505550199'],
    ['missing', undefined, null],
    ['null', null, null],
    ['a group id', '120363041234567890@g.us', '120363041234567890@g.us'],
  ])('with recipient_id %s', (_name, recipient, expected) => {
    expect(statusOf(readStatusItem(status({ recipient_id: recipient }))).recipientId).toBe(expected);
  });

  it.each<[string, unknown, string]>([
    ['a number', 16505550199, 'recipient_id: expected a string, got a number'],
    ['an object', { wa_id: '1' }, 'recipient_id: expected a string, got an object'],
    ['a string with a NUL character', '1\u00002', 'recipient_id: contains the NUL character (U+0000)'],
  ])('with recipient_id %s is a dead letter', (_name, recipient, reason) => {
    expect(deadLetterOf(readStatusItem(status({ recipient_id: recipient }))).reason).toBe(reason);
  });

  it.each<[string, unknown, string | null]>([
    [
      'an array of errors',
      [{ code: 131047, title: 'Re-engagement message' }],
      '[{"code":131047,"title":"Re-engagement message"}]',
    ],
    ['an empty array', [], '[]'],
    ['errors with characters no store holds raw', [{ title: 'a\u0000\ud800' }], '[{"title":"a\\u0000\\ud800"}]'],
    ['missing', undefined, null],
    ['an object', { code: 1 }, null],
    ['a string', 'failed', null],
    ['null', null, null],
  ])('with errors %s', (_name, errors, expected) => {
    expect(statusOf(readStatusItem(status({ status: 'failed', errors }))).errors).toBe(expected);
  });
});

describe('order and independence', () => {
  it('keeps item order, and each bad item sits alone in the dead letters', () => {
    const contents = read(
      envelope(
        messagesChange({
          messages: [message({ id: 'a' }), message({ id: 'b', from: 'x' }), message({ id: 'c' }), 5, message({ id: 'd' })],
          statuses: [status({ id: 's1', status: 'sent' }), status({ id: 's2', status: 'x' }), status({ id: 's3' })],
        }),
        messagesChange({ messages: [message({ id: 'e' })] }),
      ),
    );
    expect(contents.messages.map((m) => m.messageId)).toEqual(['a', 'c', 'd', 'e']);
    expect(contents.statuses.map((s) => s.messageId)).toEqual(['s1', 's3']);
    expect(contents.deadLetters.map((d) => [d.kind, d.itemId])).toEqual([
      ['message', 'b'],
      ['message', null],
      ['status', 's2'],
    ]);
  });

  it('keeps duplicates: the store, not the reader, decides what is new', () => {
    const contents = read(envelope(messagesChange({ messages: [message(), message()] })));
    expect(contents.messages).toHaveLength(2);
  });

  it('reads own fields only', () => {
    const item = Object.create({ from: '919876543210' }) as Json;
    Object.assign(item, { id: 'wamid.proto', timestamp: '1', type: 'audio' });
    expect(deadLetterOf(readMessageItem(item)).reason).toBe('from: field required');
  });
});

// Nesting deeper than JSON.stringify can follow: JSON.parse builds it, the reader must keep it.

/** JSON text of `depth` arrays or objects around "leaf", written out: the deepest cannot be stringified. */
function nestedText(shape: 'array' | 'object', depth: number, leaf = '"leaf"'): string {
  return shape === 'array'
    ? `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

function nested(shape: 'array' | 'object', depth: number): unknown {
  return JSON.parse(nestedText(shape, depth));
}

const CUT = '"[cut: nested deeper than 64 levels]"';
const CUT_REASON = '; item cut: nested deeper than 64 levels';

describe('items nested too deep to keep whole', () => {
  it.each([5_000, 100_000])('a message whose text nests %i deep is a dead letter, cut at 64 levels, saying so', (depth) => {
    const letter = deadLetterOf(readMessageItem(message({ text: nested('array', depth) })));
    expect(letter.reason).toBe(`text: expected an object, got an array${CUT_REASON}`);
    expect(letter.itemId).toBe('wamid.unit-1');
    // The item is the first level; its text keeps 63 more.
    const { text: _text, ...fields } = TEXT_MESSAGE;
    expect(letter.item).toBe(`${JSON.stringify(fields).slice(0, -1)},"text":${nestedText('array', 63, CUT)}}`);
    expect(JSON.stringify(JSON.parse(letter.item))).toBe(letter.item);
  });

  it('an item nesting exactly 64 levels is kept whole, with its reason as it was', () => {
    const item = message({ text: nested('array', 63) });
    expect(deadLetterOf(readMessageItem(item))).toEqual({
      kind: 'message',
      reason: 'text: expected an object, got an array',
      item: JSON.stringify(item),
      itemId: 'wamid.unit-1',
    });
    const deeper = deadLetterOf(readMessageItem(message({ text: nested('array', 64) })));
    expect(deeper.reason).toBe(`text: expected an object, got an array${CUT_REASON}`);
  });

  it('a message item that is itself a 5,000-deep array is a dead letter of 64 levels', () => {
    expect(deadLetterOf(readMessageItem(nested('array', 5_000)))).toEqual({
      kind: 'message',
      reason: `message: expected an object, got an array${CUT_REASON}`,
      item: nestedText('array', 64, CUT),
      itemId: null,
    });
  });

  it('a message nesting 64 levels in fields the reader ignores is kept whole, raw included', () => {
    const item = message({ context: nested('object', 63) });
    expect(messageOf(readMessageItem(item)).origin?.raw).toBe(JSON.stringify(item));
  });

  it('a message nesting deeper, even where the reader does not look, is a dead letter: its item cannot be kept whole', () => {
    const letter = deadLetterOf(readMessageItem(message({ context: nested('object', 100_000) })));
    expect(letter.reason).toBe(`message: the item cannot be kept whole, nested deeper than 64 levels${CUT_REASON}`);
    expect(letter.itemId).toBe('wamid.unit-1');
  });

  it('a status whose errors nest 5,000 deep is kept, with its errors cut at 64 levels', () => {
    // Its id, state and time are readable, and they are what a user looks for.
    const read = statusOf(readStatusItem(status({ status: 'failed', errors: nested('array', 5_000) })));
    expect(read).toMatchObject({ messageId: 'wamid.out-1', status: 'failed', recipientId: '919876543210' });
    expect(read.errors).toBe(nestedText('array', 64, CUT));
  });

  it('errors nesting exactly 64 levels are kept whole', () => {
    const errors = nested('array', 64);
    expect(statusOf(readStatusItem(status({ errors }))).errors).toBe(JSON.stringify(errors));
  });

  it('a deep status that is unreadable anyway is a dead letter, cut, saying so', () => {
    const letter = deadLetterOf(readStatusItem(status({ status: 'deleted', errors: nested('object', 100_000) })));
    expect(letter.reason).toBe(`status: expected one of sent, delivered, read, failed, got "deleted"${CUT_REASON}`);
    expect(letter.itemId).toBe('wamid.out-1');
  });

  it('entries and changes nested deep become dead letters, cut, beside a message that is still read', () => {
    const contents = read({
      object: WABA,
      entry: [
        nested('array', 100_000),
        { id: 'deep-entry', extra: nested('object', 5_000) },
        {
          id: '1022',
          deep: nested('array', 100_000),
          changes: [
            { id: 'deep-change', field: nested('object', 100_000) },
            {
              id: 'deep-list',
              field: 'messages',
              value: { metadata: { display_phone_number: BUSINESS_DIGITS }, messages: nested('object', 70) },
            },
            { ...messagesChange({ messages: [message()], deep: nested('array', 100_000) }), deep: nested('object', 100_000) },
          ],
        },
      ],
    });
    expect(contents.messages.map((m) => m.messageId)).toEqual(['wamid.unit-1']);
    expect(contents.deadLetters.map((d) => [d.kind, d.reason, d.itemId])).toEqual([
      ['entry', `entry: expected an object, got an array${CUT_REASON}`, null],
      ['entry', `changes: field required${CUT_REASON}`, 'deep-entry'],
      ['change', `field: expected a string, got an object${CUT_REASON}`, 'deep-change'],
      ['change', `value.messages: expected an array, got an object${CUT_REASON}`, 'deep-list'],
    ]);
    for (const letter of contents.deadLetters) expect(JSON.stringify(JSON.parse(letter.item))).toBe(letter.item);
  });
});

// Random structures: the reader never throws, and every item is accounted for exactly once.

/** Reasons and ids are stored: they must be text every store can hold. */
function expectStorable(contents: EnvelopeContents): void {
  for (const letter of contents.deadLetters) {
    for (const text of [letter.reason, letter.item]) {
      expect(codePointLength(text)).toBeGreaterThanOrEqual(0);
      expect(text.includes('\u0000')).toBe(false);
    }
    expect(letter.reason).not.toBe('');
    expect(() => JSON.parse(letter.item)).not.toThrow();
    if (letter.itemId !== null) expect(codePointLength(letter.itemId)).toBeGreaterThan(0);
  }
}

describe('properties', () => {
  const anyJson = fc.jsonValue({ stringUnit: 'binary', maxDepth: 6 });

  it('never throws on any JSON object, and refuses or reads it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), anyJson), (body) => {
        const result = readWhatsAppEnvelope(body);
        if (result.ok) expectStorable(result.value);
        else expect(result.issues.length).toBeGreaterThan(0);
      }),
    );
  });

  it('never throws on any JSON under entry, changes, value or the item lists', () => {
    const shaped = fc.oneof(
      anyJson.map((entry) => ({ object: WABA, entry })),
      fc.array(anyJson).map((entry) => ({ object: WABA, entry })),
      fc.array(anyJson).map((changes) => ({ object: WABA, entry: [{ changes }] })),
      anyJson.map((value) => envelope({ field: 'messages', value })),
      fc
        .tuple(anyJson, fc.array(anyJson), fc.array(anyJson))
        .map(([metadata, messages, statuses]) => envelope({ field: 'messages', value: { metadata, messages, statuses } })),
      fc
        .array(
          fc.dictionary(
            fc.constantFrom('id', 'from', 'timestamp', 'type', 'text', 'image', 'system', 'status', 'recipient_id', 'errors'),
            anyJson,
          ),
        )
        .map((items) => envelope(messagesChange({ messages: items, statuses: items }))),
    );
    fc.assert(
      fc.property(shaped, (body) => {
        const result = readWhatsAppEnvelope(body);
        expect(result.ok).toBe(Array.isArray(body.entry));
        if (result.ok) expectStorable(result.value);
      }),
    );
  });

  it('never throws on values nested up to 100,000 deep anywhere, and keeps every dead letter shallow', () => {
    const deep = fc
      .tuple(
        fc.constantFrom<'array' | 'object'>('array', 'object'),
        fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 65, max: 100_000 })),
      )
      .map(([shape, depth]) => nested(shape, depth));
    const shaped = fc.oneof(
      deep.map((entry) => ({ object: WABA, entry: [entry] })),
      deep.map((extra) => ({ object: WABA, entry: [{ id: 'e', extra, changes: [] }] })),
      deep.map((change) => envelope(change)),
      deep.map((field) => envelope({ field })),
      deep.map((value) => envelope({ field: 'messages', value })),
      deep.map((messages) => envelope(messagesChange({ messages }))),
      deep.map((item) => envelope(messagesChange({ messages: [item, message()], statuses: [item] }))),
      deep.map((text) => envelope(messagesChange({ messages: [message({ text }), message({ id: 'b' })] }))),
      deep.map((errors) => envelope(messagesChange({ statuses: [status({ errors }), status({ errors, status: 'x' })] }))),
    );
    fc.assert(
      fc.property(shaped, (body) => {
        const contents = contentsOf(readWhatsAppEnvelope(body));
        expectStorable(contents);
        for (const text of [...contents.deadLetters.map((d) => d.item), ...contents.statuses.map((s) => s.errors)]) {
          if (text !== null) expect(JSON.stringify(JSON.parse(text))).toBe(text);
        }
      }),
      { numRuns: 60 },
    );
  });

  // A model of an envelope: what each part is, so the expected outcome is known.
  type Item = { readonly kind: 'valid' | 'broken'; readonly value: Json } | { readonly kind: 'junk'; readonly value: unknown };
  type Change =
    | { readonly kind: 'messages'; readonly metadataOk: boolean; readonly messages: Item[]; readonly statuses: Item[] }
    | { readonly kind: 'other'; readonly field: string }
    | { readonly kind: 'bad'; readonly value: unknown };
  type Entry = { readonly kind: 'ok'; readonly changes: Change[] } | { readonly kind: 'bad'; readonly value: unknown };

  const notObject = anyJson.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v));
  const seconds = fc.integer({ min: 0, max: 253_402_300_799 });
  const timestamp = fc.oneof(seconds, seconds.map(String));
  const validMessage: fc.Arbitrary<Json> = fc
    .record({
      from: fc.stringMatching(/^[0-9]{1,15}$/),
      timestamp,
      type: fc.constantFrom('text', 'image', 'audio', 'system', 'location', 'interactive'),
      body: fc.string({ maxLength: 30 }),
    })
    .map(({ body, ...rest }) => ({ ...rest, text: { body }, image: { caption: body }, system: { body } }));
  const validStatus: fc.Arbitrary<Json> = fc.record({
    status: fc.constantFrom('sent', 'delivered', 'read', 'failed'),
    timestamp,
    recipient_id: fc.stringMatching(/^[0-9]{1,15}$/),
  });
  const messageBreakers: Json[] = [
    { from: 'abc' },
    { timestamp: -1 },
    { type: '' },
    { timestamp: '1.5' },
    { text: 'x', type: 'text' },
  ];
  const statusBreakers: Json[] = [{ status: 'deleted' }, { timestamp: -1 }, { timestamp: '1.5' }, { recipient_id: 5 }];

  /** Valid items, valid items with one rule broken (certainly unreadable), and any JSON at all. */
  function items(valid: fc.Arbitrary<Json>, breakers: Json[]): fc.Arbitrary<Item[]> {
    const broken = fc.tuple(valid, fc.constantFrom(...breakers)).map(([item, change]) => withFields(item, change));
    return fc.array(
      fc.oneof(
        valid.map((value) => ({ kind: 'valid' as const, value })),
        broken.map((value) => ({ kind: 'broken' as const, value })),
        anyJson.map((value) => ({ kind: 'junk' as const, value })),
      ),
      { maxLength: 4 },
    );
  }
  const change: fc.Arbitrary<Change> = fc.oneof(
    fc.record({
      kind: fc.constant('messages' as const),
      metadataOk: fc.boolean(),
      messages: items(validMessage, messageBreakers),
      statuses: items(validStatus, statusBreakers),
    }),
    fc.record({ kind: fc.constant('other' as const), field: fc.string({ minLength: 1 }).filter((f) => f !== 'messages') }),
    fc.record({
      kind: fc.constant('bad' as const),
      value: fc.oneof(
        notObject,
        fc.constant({ value: { messages: [] } }),
        fc.constant({ field: 'messages', value: 'x' }),
        fc.constant({ field: 'messages', value: { messages: {} } }),
      ),
    }),
  );
  const entry: fc.Arbitrary<Entry> = fc.oneof(
    fc.record({ kind: fc.constant('ok' as const), changes: fc.array(change, { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('bad' as const), value: fc.oneof(notObject, fc.constant({ id: 'no-changes' })) }),
  );

  it('every item comes out exactly once: as a message, a status or a dead letter', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), (entries) => {
        // Each built item gets a unique id in document order, so what comes out can be traced back.
        let next = 0;
        const source = new Map<string, string>();
        const inputs: string[] = [];
        const expected = { messages: 0, statuses: 0, entries: 0, changes: 0 };
        const ignored: string[] = [];
        const withIds = (list: Item[]): unknown[] =>
          list.map((part) => {
            if (part.kind === 'junk') {
              inputs.push(JSON.stringify(part.value));
              return part.value;
            }
            const id = `wamid.${next++}`;
            const item = { ...part.value, id };
            inputs.push(JSON.stringify(item));
            if (part.kind === 'valid') source.set(id, JSON.stringify(item));
            return item;
          });
        const valid = (list: Item[]) => list.filter((i) => i.kind === 'valid').length;

        const body = {
          object: WABA,
          entry: entries.map((e) => {
            if (e.kind === 'bad') {
              expected.entries++;
              inputs.push(JSON.stringify(e.value));
              return e.value;
            }
            const changes = e.changes.map((c) => {
              if (c.kind === 'bad') {
                expected.changes++;
                inputs.push(JSON.stringify(c.value));
                return c.value;
              }
              if (c.kind === 'other') {
                ignored.push(c.field);
                return { field: c.field, value: {} };
              }
              const lists = { messages: withIds(c.messages), statuses: withIds(c.statuses) };
              if (c.metadataOk) expected.messages += valid(c.messages);
              expected.statuses += valid(c.statuses);
              return messagesChange(lists, { display_phone_number: c.metadataOk ? BUSINESS_DIGITS : 'none' });
            });
            return { id: 'waba', changes };
          }),
        };

        const contents = contentsOf(readWhatsAppEnvelope(body));
        expectStorable(contents);
        expect(contents.messages).toHaveLength(expected.messages);
        expect(contents.statuses).toHaveLength(expected.statuses);
        expect(contents.deadLetters.filter((d) => d.kind === 'entry')).toHaveLength(expected.entries);
        expect(contents.deadLetters.filter((d) => d.kind === 'change')).toHaveLength(expected.changes);
        expect(contents.ignoredFields).toEqual(ignored);

        const outputs = [
          ...contents.messages.map((m) => source.get(m.messageId)),
          ...contents.statuses.map((s) => source.get(s.messageId)),
          ...contents.deadLetters.map((d) => d.item),
        ];
        expect([...outputs].sort()).toEqual([...inputs].sort());

        const numbers = (ids: string[]) => ids.map((id) => Number(id.slice('wamid.'.length)));
        const ascending = (list: number[]) => list.every((n, i) => i === 0 || (list[i - 1] ?? -1) < n);
        expect(ascending(numbers(contents.messages.map((m) => m.messageId)))).toBe(true);
        expect(ascending(numbers(contents.statuses.map((s) => s.messageId)))).toBe(true);
      }),
    );
  });
});
