// What a WhatsApp message keeps of itself (its origin), for one envelope per message type Meta
// documents (src/cli/whatsapp-examples.ts, the ones `webhook-inbox send --whatsapp-fixture` posts):
// the `messages[]` item whole and equal as JSON, the sender's profile name, the message it answers
// and the business number's id. Then the cases that must not lose a message: odd contacts,
// forwarded contexts, and a sibling nested too deep to keep.

import { describe, expect, it } from 'vitest';
import { type WhatsAppExampleName, whatsappExampleBody } from '../../src/cli/whatsapp-examples.js';
import { MAX_KEPT_DEPTH } from '../../src/ingest/json-text.js';
import { parseJsonObject } from '../../src/ingest/message.js';
import { type EnvelopeContents, readWhatsAppEnvelope, type WhatsAppMessage } from '../../src/ingest/whatsapp.js';

type Json = Record<string, unknown>;

const BUSINESS = '+15550783881';
const PHONE_NUMBER_ID = '106540352242922';

/** What each fixture's one message must read as, besides its item; listed in timestamp order. */
interface TypeCase {
  readonly file: WhatsAppExampleName;
  readonly type: string;
  readonly text: string | null;
  readonly contactName: string | null;
  readonly replyTo: string | null;
  /** Paths inside the item that Meta documents for this type: the fixture must carry every one. */
  readonly fields: readonly (readonly (string | number)[])[];
}

const MEDIA = ['id', 'mime_type', 'sha256', 'url'] as const;
const media = (type: string, ...extra: string[]) => [...MEDIA, ...extra].map((name) => [type, name]);

const TYPE_CASES: readonly TypeCase[] = [
  {
    file: 'text',
    type: 'text',
    text: 'Hi! Do you deliver to Cork? 🚚 Ich zahle gern per Überweisung.',
    contactName: 'Zoë O’Brien',
    replyTo: null,
    fields: [['text', 'body']],
  },
  {
    file: 'text-reply-context',
    type: 'text',
    text: 'Sim, pode ser às 15h 👍',
    contactName: 'João Conceição',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDU4RjMyQjgyQ0Y1MzFBNjFDRUQyNjc2OUMzNUU1OTE2AA==',
    fields: [
      ['context', 'from'],
      ['context', 'id'],
      ['text', 'body'],
    ],
  },
  {
    file: 'image',
    type: 'image',
    text: 'So kam das Paket an – die Ecke ist eingedrückt',
    contactName: 'Jürgen Groß',
    replyTo: null,
    fields: media('image', 'caption'),
  },
  {
    file: 'video',
    type: 'video',
    text: 'Voilà le bruit que fait la machine 🎥',
    contactName: 'Élodie Lefèvre',
    replyTo: null,
    fields: media('video', 'caption'),
  },
  { file: 'audio', type: 'audio', text: null, contactName: '佐藤 花子', replyTo: null, fields: media('audio', 'voice') },
  {
    file: 'document',
    type: 'document',
    text: 'Factura de enero, ¿pueden revisarla?',
    contactName: 'Martín Núñez',
    replyTo: null,
    fields: media('document', 'caption', 'filename'),
  },
  {
    file: 'sticker',
    type: 'sticker',
    text: null,
    contactName: 'Çağla Yılmaz',
    replyTo: null,
    fields: media('sticker', 'animated'),
  },
  {
    file: 'location',
    type: 'location',
    text: null,
    contactName: 'Asha Rao',
    replyTo: null,
    fields: ['address', 'latitude', 'longitude', 'name', 'url'].map((name) => ['location', name]),
  },
  {
    file: 'contacts',
    type: 'contacts',
    text: null,
    contactName: 'Chloé Nguyễn',
    replyTo: null,
    fields: [
      ['contacts', 0, 'addresses', 0, 'street'],
      ['contacts', 0, 'addresses', 0, 'country_code'],
      ['contacts', 0, 'birthday'],
      ['contacts', 0, 'emails', 0, 'email'],
      ['contacts', 0, 'name', 'formatted_name'],
      ['contacts', 0, 'name', 'first_name'],
      ['contacts', 0, 'org', 'company'],
      ['contacts', 0, 'phones', 0, 'phone'],
      ['contacts', 0, 'phones', 0, 'wa_id'],
      ['contacts', 0, 'urls', 0, 'url'],
    ],
  },
  {
    file: 'interactive-button-reply',
    type: 'interactive',
    text: null,
    contactName: 'Małgorzata Wójcik',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDc3MTJGNTM4MEIyQkM5QkZCRjM4NDhGQjMyN0I3OUYzAA==',
    fields: [
      ['context', 'id'],
      ['interactive', 'type'],
      ['interactive', 'button_reply', 'id'],
      ['interactive', 'button_reply', 'title'],
    ],
  },
  {
    file: 'interactive-list-reply',
    type: 'interactive',
    text: null,
    contactName: 'Алексей Смирнов',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDRCRDRDN0U3ODIwRkMzMDE1OTYyQUUwN0UxMDc1RDU0AA==',
    fields: [
      ['context', 'id'],
      ['interactive', 'type'],
      ['interactive', 'list_reply', 'id'],
      ['interactive', 'list_reply', 'title'],
      ['interactive', 'list_reply', 'description'],
    ],
  },
  {
    file: 'button',
    type: 'button',
    text: null,
    contactName: 'محمد علي',
    replyTo: 'wamid.GAsxNTU1MDc4Mzg4MRUCABIYIDZGQTgwRUY3MzQ0NkMxQTFDRTEyOEY4MzA1QTE3QUNFAA==',
    fields: [
      ['context', 'from'],
      ['context', 'id'],
      ['button', 'payload'],
      ['button', 'text'],
    ],
  },
  {
    file: 'reaction',
    type: 'reaction',
    text: null,
    contactName: '김민준',
    replyTo: null,
    fields: [
      ['reaction', 'message_id'],
      ['reaction', 'emoji'],
    ],
  },
  {
    file: 'order',
    type: 'order',
    text: null,
    contactName: 'Chiamaka Obi',
    replyTo: null,
    fields: [
      ['order', 'catalog_id'],
      ['order', 'text'],
      ['order', 'product_items', 0, 'product_retailer_id'],
      ['order', 'product_items', 0, 'quantity'],
      ['order', 'product_items', 0, 'item_price'],
      ['order', 'product_items', 0, 'currency'],
    ],
  },
  {
    // Meta sends system messages without a contacts array: no name to keep.
    file: 'system',
    type: 'system',
    text: 'User Renée Dubé changed from 16505551234 to 16505559876',
    contactName: null,
    replyTo: null,
    fields: [
      ['system', 'body'],
      ['system', 'wa_id'],
      ['system', 'type'],
    ],
  },
  {
    file: 'unsupported',
    type: 'unsupported',
    text: null,
    contactName: 'Siti Nurhaliza',
    replyTo: null,
    fields: [
      ['errors', 0, 'code'],
      ['errors', 0, 'title'],
      ['errors', 0, 'message'],
      ['errors', 0, 'error_data', 'details'],
      ['unsupported', 'type'],
    ],
  },
];

/** The fixture's bytes, read the way the webhook route reads them. */
function fixtureBody(file: WhatsAppExampleName): Json {
  const parsed = parseJsonObject(whatsappExampleBody(file));
  if (!parsed.ok) throw new Error(`fixture ${file} is not a JSON object`);
  return parsed.value;
}

function read(body: Json): EnvelopeContents {
  const result = readWhatsAppEnvelope(body);
  if (!result.ok) throw new Error(`expected an envelope, got issues ${JSON.stringify(result.issues)}`);
  return result.value;
}

/** The part of a parsed JSON value at `path`, or undefined when there is none. */
function at(value: unknown, ...path: readonly (string | number)[]): unknown {
  let here = value;
  for (const step of path) {
    if (typeof here !== 'object' || here === null || !Object.hasOwn(here, step)) return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}

const VALUE = ['entry', 0, 'changes', 0, 'value'] as const;

/** The value of the envelope's one change. */
function changeValue(body: Json): Json {
  const value = at(body, ...VALUE);
  if (typeof value !== 'object' || value === null) throw new Error('fixture without a change value');
  return value as Json;
}

/** The one `messages[]` item of a fixture. */
function itemOf(body: Json): Json {
  const item = at(body, ...VALUE, 'messages', 0);
  if (typeof item !== 'object' || item === null) throw new Error('fixture without a message item');
  return item as Json;
}

/** The one message the envelope must become, with nothing dead-lettered. */
function onlyMessage(contents: EnvelopeContents): WhatsAppMessage {
  expect(contents.deadLetters.map((l) => l.reason)).toEqual([]);
  expect(contents.statuses).toEqual([]);
  expect(contents.messages).toHaveLength(1);
  const [message] = contents.messages;
  if (message === undefined) throw new Error('no message');
  return message;
}

/** Checks the origin's raw text is the item: deep-equal once parsed, and the same JSON byte for byte. */
function expectRawIsItem(message: WhatsAppMessage, item: unknown): void {
  const raw = message.origin?.raw;
  if (raw === undefined) throw new Error(`message ${message.messageId} has no origin`);
  const parsed: unknown = JSON.parse(raw);
  expect(parsed).toEqual(item);
  expect(JSON.stringify(parsed)).toBe(JSON.stringify(item));
}

/** A copy of the text fixture with its change value changed; a change to undefined removes the key. */
function textFixtureWith(changes: Json): Json {
  const body = fixtureBody('text');
  const value = changeValue(body);
  for (const [key, v] of Object.entries(changes)) {
    if (v === undefined) delete value[key];
    else value[key] = v;
  }
  return body;
}

/** `leaf` wrapped in `levels` objects, each holding the next under "deeper". */
function nested(levels: number, leaf: unknown = 'bottom'): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { deeper: value };
  return value;
}

describe('every documented WhatsApp message type keeps its item whole', () => {
  it('the fixtures cover every type Meta documents, interactive replies of both kinds, and a reply with context', () => {
    const types = new Set(TYPE_CASES.map((c) => c.type));
    expect([...types].sort()).toEqual(
      [
        'audio',
        'button',
        'contacts',
        'document',
        'image',
        'interactive',
        'location',
        'order',
        'reaction',
        'sticker',
        'system',
        'text',
        'unsupported',
        'video',
      ].sort(),
    );
    const item = (c: TypeCase) => itemOf(fixtureBody(c.file));
    const interactive = TYPE_CASES.filter((c) => c.type === 'interactive').map((c) => at(item(c), 'interactive', 'type'));
    expect(interactive.sort()).toEqual(['button_reply', 'list_reply']);
    const textReplies = TYPE_CASES.filter((c) => c.type === 'text' && at(item(c), 'context', 'id') !== undefined);
    expect(textReplies.map((c) => c.file)).toEqual(['text-reply-context']);
  });

  it.each(TYPE_CASES)('$file: the fixture carries every field Meta documents for its type', ({ file, type, fields }) => {
    const body = fixtureBody(file);
    expect(at(changeValue(body), 'metadata', 'display_phone_number')).toBe('15550783881');
    expect(at(changeValue(body), 'metadata', 'phone_number_id')).toBe(PHONE_NUMBER_ID);
    const item = itemOf(body);
    for (const name of ['from', 'id', 'timestamp']) expect(typeof item[name], name).toBe('string');
    expect(item.type).toBe(type);
    for (const path of fields) expect(at(item, ...path), path.join('.')).not.toBeUndefined();
  });

  it.each(TYPE_CASES)('$file: one message whose origin keeps the item byte for byte as JSON', (c) => {
    const body = fixtureBody(c.file);
    const item = itemOf(body);
    const message = onlyMessage(read(body));
    expectRawIsItem(message, item);
    expect(message).toMatchObject({
      messageId: item.id,
      from: `+${String(item.from)}`,
      to: BUSINESS,
      ts: `${new Date(Number(item.timestamp) * 1000).toISOString().slice(0, 19)}Z`,
      type: c.type,
      text: c.text,
    });
    expect(message.origin).toEqual({
      source: 'whatsapp',
      raw: expect.any(String),
      contactName: c.contactName,
      replyTo: c.replyTo,
      phoneNumberId: PHONE_NUMBER_ID,
    });
    expect(c.replyTo).toBe(at(item, 'context', 'id') ?? null);
  });

  it('keeps non-ASCII text and emoji as characters, not as escapes', () => {
    const message = onlyMessage(read(fixtureBody('reaction')));
    expect(message.origin?.raw).toContain('"emoji":"❤️"');
    expect(onlyMessage(read(fixtureBody('button'))).origin?.raw).toContain('تأكيد الموعد');
  });
});

describe('the sender’s name comes only from the contact with the sender’s wa_id', () => {
  const SENDER = '447700900123';

  it('does not use a contact for another wa_id', () => {
    const message = onlyMessage(
      read(textFixtureWith({ contacts: [{ profile: { name: 'Someone Else' }, wa_id: '447700900999' }] })),
    );
    expect(message.origin?.contactName).toBeNull();
  });

  it('picks the sender’s contact out of several, wherever it is listed', () => {
    const contacts = [
      { profile: { name: 'Someone Else' }, wa_id: '447700900999' },
      { profile: { name: 'Zoë at work' }, wa_id: SENDER },
      { profile: { name: 'A later duplicate' }, wa_id: SENDER },
    ];
    expect(onlyMessage(read(textFixtureWith({ contacts }))).origin?.contactName).toBe('Zoë at work');
  });

  const odd: [string, unknown][] = [
    ['no contacts list', undefined],
    ['contacts null', null],
    ['contacts an object', { profile: { name: 'Zoë' }, wa_id: SENDER }],
    ['contacts a string', 'Zoë'],
    ['an empty contacts list', []],
    ['contacts that are not objects', [null, 42, 'Zoë', [SENDER]]],
    ['no profile', [{ wa_id: SENDER }]],
    ['profile null', [{ profile: null, wa_id: SENDER }]],
    ['profile a string', [{ profile: 'Zoë', wa_id: SENDER }]],
    ['profile without a name', [{ profile: {}, wa_id: SENDER }]],
    ['a name that is not a string', [{ profile: { name: 42 }, wa_id: SENDER }]],
    ['an empty name', [{ profile: { name: '' }, wa_id: SENDER }]],
    ['a name with NUL', [{ profile: { name: 'Zo\u0000ë' }, wa_id: SENDER }]],
    ['no wa_id', [{ profile: { name: 'Zoë' } }]],
    ['wa_id a number', [{ profile: { name: 'Zoë' }, wa_id: Number(SENDER) }]],
    ['wa_id with a plus', [{ profile: { name: 'Zoë' }, wa_id: `+${SENDER}` }]],
  ];

  it.each(odd)('%s: the name is null, the message is kept whole, nothing is dead-lettered', (_name, contacts) => {
    const body = textFixtureWith({ contacts });
    const message = onlyMessage(read(body));
    expect(message.origin?.contactName).toBeNull();
    expectRawIsItem(message, itemOf(body));
  });
});

describe('reply_to is the id of the message a context names', () => {
  function withContext(context: unknown): WhatsAppMessage {
    const body = fixtureBody('text');
    const item = itemOf(body);
    item.context = context;
    const message = onlyMessage(read(body));
    expectRawIsItem(message, item);
    return message;
  }

  const noReply: [string, unknown][] = [
    ['a forwarded message', { forwarded: true }],
    ['a frequently forwarded message', { frequently_forwarded: true }],
    ['a context with a sender but no id', { from: '15550783881' }],
    ['a context whose id is a number', { from: '15550783881', id: 42 }],
    ['a context whose id is empty', { from: '15550783881', id: '' }],
    ['a context that is null', null],
    ['a context that is a string', 'wamid.x'],
  ];

  it.each(noReply)('%s: reply_to is null and the context stays in raw', (_name, context) => {
    expect(withContext(context).origin?.replyTo).toBeNull();
  });

  it('a context with an id answers that id, whatever else it carries', () => {
    const context = {
      from: '15550783881',
      id: 'wamid.earlier',
      forwarded: false,
      referred_product: { catalog_id: '1', product_retailer_id: 'sku-1' },
    };
    expect(withContext(context).origin?.replyTo).toBe('wamid.earlier');
  });
});

describe('an item nested too deep to keep whole', () => {
  const sibling = {
    from: '447700900123',
    id: 'wamid.deep-sibling',
    timestamp: '1739003000',
    type: 'text',
    text: { body: 'Still here 👋' },
  };

  /** A text item carrying an extra field `levels` objects deep: the item itself nests levels + 1. */
  function deepItem(id: string, levels: number): Json {
    return { from: '447700900123', id, timestamp: '1739002999', type: 'text', text: { body: 'deep' }, extra: nested(levels) };
  }

  function readItems(...messages: unknown[]): EnvelopeContents {
    return read(textFixtureWith({ messages }));
  }

  it('100 levels: becomes a dead letter saying it cannot be kept whole, while its sibling is stored whole', () => {
    const contents = readItems(deepItem('wamid.too-deep', 100), sibling);
    expect(contents.messages.map((m) => m.messageId)).toEqual(['wamid.deep-sibling']);
    const [kept] = contents.messages;
    if (kept === undefined) throw new Error('sibling lost');
    expectRawIsItem(kept, sibling);
    expect(kept.origin?.contactName).toBe('Zoë O’Brien');

    expect(contents.deadLetters).toHaveLength(1);
    const [letter] = contents.deadLetters;
    expect(letter).toMatchObject({ kind: 'message', itemId: 'wamid.too-deep' });
    expect(letter?.reason).toContain('cannot be kept whole');
    // What is kept of it still parses, with its readable fields.
    expect(at(JSON.parse(letter?.item ?? 'null'), 'id')).toBe('wamid.too-deep');
  });

  it(`exactly ${MAX_KEPT_DEPTH} levels is kept whole; one more is not`, () => {
    const atLimit = deepItem('wamid.at-limit', MAX_KEPT_DEPTH - 1);
    const contents = readItems(atLimit, deepItem('wamid.over-limit', MAX_KEPT_DEPTH));
    expect(contents.messages.map((m) => m.messageId)).toEqual(['wamid.at-limit']);
    const [kept] = contents.messages;
    if (kept === undefined) throw new Error('item at the limit lost');
    expectRawIsItem(kept, atLimit);
    expect(contents.deadLetters.map((l) => l.itemId)).toEqual(['wamid.over-limit']);
  });
});
