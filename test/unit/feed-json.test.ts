// feedItemJson, the JSON text of an event in GET /feed and GET /events: the bytes JSON.stringify
// writes of the documented object with raw, errors and item parsed from their stored text (what
// the response serialiser wrote before), in the schemas' key order, for every kind of text the
// stores hold: provider JSON as ingest keeps it, cut or not, and the core form's rebuilt body.

import { describe, expect, it } from 'vitest';
import { sseFrame } from '../../src/http/events.js';
import { FeedItem } from '../../src/http/feed.js';
import { DeadLetterItem, MessageEvent, StatusEvent } from '../../src/http/schemas.js';
import { boundedJsonText } from '../../src/ingest/json-text.js';
import { storedJson, storedJsonText } from '../../src/store/export-format.js';
import { feedItemJson } from '../../src/store/feed-json.js';
import type { FeedEvent } from '../../src/store/store.js';

/** What providers send, as they send it: ingest parses it and stores boundedJsonText of it. */
const PROVIDER_TEXTS = [
  '{"b":1,"a":2,"10":3,"2":4}',
  '{"x":1.0,"y":1e21,"z":-0,"w":0.1,"v":123456789012345678901234567890,"u":5e-324,"t":-1.5E-7}',
  '{"text":"line\\nbreak \\u2028 \\u2029 tab\\t \\"quoted\\" back\\\\slash \\u0000 \\u001f \\u00e9 é 😀 \\ud83d\\ude00 \\ud800 \\/"}',
  '{"__proto__":{"polluted":true},"constructor":1,"toString":null}',
  '{"a":1,"a":2,"b":{"c":[1,{"d":"e"}]}}',
  '{\n  "pretty": [1, 2, 3],\n\t"spaced" : { "k" : "v" }\n}',
  '[]',
  '"just a string"',
  'null',
  'true',
  `${'['.repeat(100)}${']'.repeat(100)}`,
  `{"deep":${'{"a":'.repeat(80)}1${'}'.repeat(80)}}`,
];

const STORED_TEXTS = PROVIDER_TEXTS.map((text) => boundedJsonText(JSON.parse(text)).text);

/** The documented object of an event, built as the serialiser's input was: stored texts parsed. */
function documented(event: FeedEvent): Record<string, unknown> {
  const base = { position: event.position, received_at: event.receivedAt, type: event.type };
  switch (event.type) {
    case 'message.created': {
      const m = event.message;
      const d = m.details;
      return {
        ...base,
        data: {
          message_id: m.messageId,
          from: m.from,
          to: m.to,
          ts: m.ts,
          text: m.text,
          type: m.type ?? null,
          source: d.source,
          received_at: d.receivedAt,
          contact_name: d.contactName,
          reply_to: d.replyTo,
          phone_number_id: d.phoneNumberId,
          raw: storedJson(d.raw),
        },
      };
    }
    case 'status.created':
      return {
        ...base,
        data: {
          message_id: event.messageId,
          status: event.status.status,
          ts: event.status.ts,
          recipient_id: event.status.recipientId,
          errors: storedJson(event.status.errors),
        },
      };
    case 'dead_letter.created': {
      const d = event.deadLetter;
      return {
        ...base,
        data: {
          id: d.id,
          received_at: d.receivedAt,
          source: d.source,
          kind: d.kind,
          reason: d.reason,
          item_id: d.itemId,
          item: storedJson(d.item),
        },
      };
    }
  }
}

const TEXTS = ['Hello', 'quote " backslash \\ newline \n tab \t nul \u0000 sep \u2028', 'é 😀 ü', ''];

function events(): FeedEvent[] {
  const list: FeedEvent[] = [];
  let position = 1;
  const receivedAt = '2025-01-15T10:00:01.234Z';
  STORED_TEXTS.forEach((raw, i) => {
    const text = TEXTS[i % TEXTS.length] ?? null;
    list.push({
      position: position++,
      receivedAt,
      type: 'message.created',
      message: {
        messageId: `wamid.${i} "odd" id`,
        from: '+919876543210',
        to: '+14155550100',
        ts: '2025-01-15T10:00:00Z',
        tsKey: '2025-01-15T10:00:00',
        text,
        ...(i % 2 === 0 ? { type: 'text' } : {}),
        details: {
          source: 'whatsapp',
          receivedAt,
          raw,
          contactName: i % 3 === 0 ? null : `Asha ${text}`,
          replyTo: i % 4 === 0 ? `wamid.${i - 1}` : null,
          phoneNumberId: i % 2 === 0 ? '106540352242922' : null,
        },
      },
    });
    list.push({
      position: position++,
      receivedAt,
      type: 'status.created',
      messageId: `wamid.${i}`,
      status: { status: 'failed', ts: '2025-01-15T10:00:05Z', recipientId: i % 2 === 0 ? null : '919876543210', errors: raw },
    });
    list.push({
      position: position++,
      receivedAt,
      type: 'dead_letter.created',
      deadLetter: {
        id: i + 1,
        source: 'whatsapp',
        receivedAt,
        kind: 'message',
        reason: `from: field required ${text}`,
        item: raw,
        itemId: i % 2 === 0 ? null : `wamid.${i}`,
      },
    });
  });
  // Rows without a stored text: a message stored before raw was kept, a status without errors.
  list.push({
    position: position++,
    receivedAt,
    type: 'message.created',
    message: {
      messageId: 'old',
      from: '+1',
      to: '+2',
      ts: '2024-01-01T00:00:00.123456Z',
      tsKey: '2024-01-01T00:00:00.123456',
      text: null,
      details: { source: 'spec', receivedAt, raw: null, contactName: null, replyTo: null, phoneNumberId: null },
    },
  });
  list.push({
    position: position++,
    receivedAt,
    type: 'status.created',
    messageId: 'old',
    status: { status: 'read', ts: '2025-01-15T10:00:05Z', recipientId: null, errors: null },
  });
  return list;
}

describe('storedJsonText', () => {
  it.each(STORED_TEXTS.map((text) => [text.slice(0, 60), text]))(
    'gives the bytes a parse and a stringify would: %s',
    (_, text) => {
      expect(storedJsonText(text)).toBe(JSON.stringify(storedJson(text)));
    },
  );

  it('gives null for no text', () => {
    expect(storedJsonText(null)).toBe('null');
  });
});

describe('feedItemJson', () => {
  it('writes each event exactly as JSON.stringify writes its documented object', () => {
    for (const event of events()) expect(feedItemJson(event)).toBe(JSON.stringify(documented(event)));
  });

  it('writes the keys of the schemas, in their order', () => {
    const dataKeys = {
      'message.created': Object.keys(MessageEvent.properties),
      'status.created': Object.keys(StatusEvent.properties),
      'dead_letter.created': Object.keys(DeadLetterItem.properties),
    };
    for (const event of events()) {
      const item = JSON.parse(feedItemJson(event)) as { data: object };
      expect(Object.keys(item)).toEqual(Object.keys(FeedItem.properties));
      expect(Object.keys(item.data)).toEqual(dataKeys[event.type]);
    }
  });

  it('holds no line break, so an SSE frame carries it on one data line', () => {
    for (const event of events()) {
      expect(sseFrame(event)).toBe(`id: ${event.position}\nevent: ${event.type}\ndata: ${feedItemJson(event)}\n\n`);
      expect(feedItemJson(event)).not.toMatch(/[\r\n]/);
    }
  });
});
