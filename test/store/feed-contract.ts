// The MessageStore contract of the feed: every message, delivery status and dead letter a write
// creates is an event, with a position that grows in commit order, read back from the row it names
// (the same data getMessage and listDeadLetters give); duplicates and failed writes add none;
// `after`, `limit`, `types`, `from` and `to` select them. sqlite.test.ts and postgres.test.ts run
// it on each store; postgres.test.ts also proves the order across replicas writing at once.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boundedJsonText } from '../../src/ingest/json-text.js';
import { feedJsonOf } from '../../src/store/feed-json.js';
import type { FeedEvent, FeedQuery, MessageStore } from '../../src/store/store.js';
import {
  bodyOriginOf,
  deadLetterOf,
  deliveryOf,
  detailed,
  incoming,
  type OpenedStore,
  type OpenStore,
  statusOf,
  whatsappOrigin,
} from './contract.js';

/** Every event after `after`, read `limit` at a time from where the previous read ended. */
export async function readWholeFeed(
  store: MessageStore,
  query: Omit<FeedQuery, 'after' | 'limit'> = {},
  limit = 1000,
  after = 0,
): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  for (let last = after; ; ) {
    const page = await store.readFeed({ ...query, after: last, limit });
    events.push(...page);
    const end = page.at(-1);
    if (page.length < limit || end === undefined) return events;
    last = end.position;
  }
}

/** An event in a few words, for comparisons that are about which rows and in what order. */
export function eventKey(event: FeedEvent): string {
  switch (event.type) {
    case 'message.created':
      return `message ${event.message.messageId}`;
    case 'status.created':
      return `status ${event.messageId} ${event.status.status}`;
    case 'dead_letter.created':
      return `dead letter ${event.deadLetter.id}`;
  }
}

function expectIncreasing(events: readonly FeedEvent[]): void {
  events.forEach((event, i) => {
    expect(Number.isSafeInteger(event.position) && event.position > 0).toBe(true);
    if (i > 0) expect(event.position).toBeGreaterThan(events[i - 1]?.position ?? 0);
  });
}

export function describeFeedContract(name: string, open: OpenStore): void {
  describe(`MessageStore feed contract: ${name}`, () => {
    const RECEIVED = '2030-01-02T03:04:05.678Z';
    let clock = Date.parse(RECEIVED);
    let store: MessageStore;
    let opened: OpenedStore | undefined;

    beforeEach(async () => {
      clock = Date.parse(RECEIVED);
      opened = await open({ now: () => new Date(clock) });
      store = opened.store;
    });
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });

    const whatsapp = incoming('wamid.1', { from: '+1', to: '+100', type: 'text', text: 'hi' });
    const withOrigin = { ...whatsapp, origin: whatsappOrigin(whatsapp, { contactName: 'Asha' }) };

    it('is empty at first, its head at 0', async () => {
      expect(await store.readFeed({ after: 0, limit: 100 })).toEqual([]);
      expect(await store.feedHead()).toEqual({ position: 0, receivedAt: null });
    });

    it('has an event per row created, in the order of the write, each with the data the other reads give', async () => {
      const core = incoming('core', { from: '+2', to: '+100', text: null, ts: '2025-01-15T10:00:00.5Z' });
      const failed = statusOf('out.1', 'failed', { errors: '[{"code":131026}]', recipientId: null });
      await store.storeDelivery(
        deliveryOf({
          // Not in key order: the events keep the order the delivery gives.
          messages: [withOrigin, core],
          statuses: [statusOf('wamid.1', 'read'), failed],
          deadLetters: [deadLetterOf('bad.1'), deadLetterOf(null, 'status', 'status: unknown value')],
        }),
      );
      const events = await store.readFeed({ after: 0, limit: 100 });
      expectIncreasing(events);
      const deadLetters = (await store.listDeadLetters({ limit: 10, offset: 0 })).data;
      const [first, second] = deadLetters;
      if (first === undefined || second === undefined) throw new Error('the dead letters were not stored');
      const base = (i: number) => ({ position: events[i]?.position, receivedAt: RECEIVED });
      expect(events).toStrictEqual([
        { ...base(0), type: 'message.created', message: detailed(withOrigin, RECEIVED) },
        { ...base(1), type: 'message.created', message: detailed(core, RECEIVED) },
        {
          ...base(2),
          type: 'status.created',
          messageId: 'wamid.1',
          status: { status: 'read', ts: '2025-01-15T10:00:00Z', recipientId: '919876543210', errors: null },
        },
        {
          ...base(3),
          type: 'status.created',
          messageId: 'out.1',
          status: { status: 'failed', ts: '2025-01-15T10:00:00Z', recipientId: null, errors: '[{"code":131026}]' },
        },
        { ...base(4), type: 'dead_letter.created', deadLetter: first },
        { ...base(5), type: 'dead_letter.created', deadLetter: second },
      ]);
      // What the other reads give for the same rows.
      const message = (await store.getMessage('wamid.1'))?.message;
      expect(events[0]?.type === 'message.created' && events[0].message).toStrictEqual(message);
      const statuses = (await store.getMessage('out.1'))?.statuses;
      expect(events[3]?.type === 'status.created' && [events[3].status]).toStrictEqual(statuses);
      expect(deadLetters.map((d) => d.receivedAt)).toEqual([RECEIVED, RECEIVED]);
      expect(await store.feedHead()).toEqual({ position: events[5]?.position, receivedAt: RECEIVED });
    });

    it('adds no event for a duplicate, and one for the first occurrence of an id repeated in a batch', async () => {
      const outcomes = await store.insertMany([incoming('a'), incoming('b'), incoming('a', { text: 'again' })]);
      expect(outcomes).toEqual(['created', 'created', 'duplicate']);
      await store.storeDelivery(
        deliveryOf({
          messages: [incoming('b'), incoming('c')],
          statuses: [statusOf('a', 'sent'), statusOf('a', 'sent')],
          deadLetters: [deadLetterOf('x'), deadLetterOf('x')],
        }),
      );
      const head = await store.feedHead();
      // Nothing new: no event, and the head stays.
      clock += 1000;
      await store.storeDelivery(
        deliveryOf({ messages: [incoming('c')], statuses: [statusOf('a', 'sent')], deadLetters: [deadLetterOf('x')] }),
      );
      const events = await store.readFeed({ after: 0, limit: 100 });
      expect(events.map(eventKey)).toEqual([
        'message a',
        'message b',
        'message c',
        'status a sent',
        `dead letter ${(await store.listDeadLetters({ limit: 1, offset: 0 })).data[0]?.id}`,
      ]);
      expect(events[0]?.type === 'message.created' && events[0].message.text).toBe('Hello');
      expect(await store.feedHead()).toEqual(head);
      expect(head.receivedAt).toBe(RECEIVED);
    });

    it('adds no event for a write that failed', async () => {
      await store.insertMany([incoming('before')]);
      await opened?.refuse('delivery_statuses', 'refused');
      await expect(
        store.storeDelivery(deliveryOf({ messages: [incoming('lost')], statuses: [statusOf('refused', 'sent')] })),
      ).rejects.toThrow();
      await store.insertMany([incoming('after')]);
      const events = await store.readFeed({ after: 0, limit: 100 });
      expect(events.map(eventKey)).toEqual(['message before', 'message after']);
      expectIncreasing(events);
    });

    it('writes the events as JSON text, byte for byte what feedItemJson writes of the events readFeed gives', async () => {
      // Provider JSON as ingest stores it (parsed, then written by JSON.stringify), and some as
      // another writer might have stored it: numbers and escapes JSON.stringify would write otherwise.
      const providerTexts = [
        '{"x":1.0,"y":1e21,"z":-0,"w":0.1,"v":123456789012345678901234567890,"u":5e-324,"t":-1.5E-7,"b":1,"a":2,"10":3}',
        '{"text":"line\\nbreak \\u2028 \\u2029 tab\\t \\"quoted\\" back\\\\slash \\u0000 \\u001f \\u00e9 é 😀 \\ud83d\\ude00 \\ud800 \\/"}',
        `{"deep":${'{"a":['.repeat(40)}1${']}'.repeat(40)},"__proto__":{"p":true},"empty":{},"list":[]}`,
        '[]',
        '"just a string"',
      ];
      const stored = providerTexts.map((text) => boundedJsonText(JSON.parse(text)).text);
      const asSent = [
        '{"x":1.0,"y":1e5,"z":-0.0,"big":123456789012345678901234567890,"e":"\\u00e9\\/"}',
        '{ "spaced" : [ 1 , 2 ] }',
      ];
      // No U+0000: ingest refuses it in any field (PostgreSQL text cannot hold it).
      const awkward = 'quote " backslash \\ newline \n tab \t controls \u0001 \u001f sep \u2028 é 😀 \u007f';
      const messages = [
        ...[...stored, ...asSent].map((raw, i) => {
          const m = incoming(`wamid.${i} "odd" \\ id ${awkward}`, {
            from: `+${i + 1}`,
            to: '+100',
            text: i % 2 === 0 ? `${awkward} ${i}` : null,
            ...(i % 3 === 0 ? {} : { type: i % 3 === 1 ? 'text' : 'interactive' }),
          });
          const origin = whatsappOrigin(m, {
            contactName: i % 2 === 0 ? `Asha ${awkward}` : null,
            replyTo: i % 4 === 1 ? 'wamid.0' : null,
          });
          return { ...m, origin: { ...origin, raw } };
        }),
        // The core form: its body is not kept but rebuilt from the row's own fields.
        ...[null, awkward, ''].map((text, i) => {
          const m = incoming(`core.${i}`, { from: '+7', text, ts: '2025-01-15T10:00:00.123456Z' });
          return { ...m, origin: bodyOriginOf(m, i === 1 ? 'standard' : 'spec') };
        }),
        // A signed body with more than the core fields is kept as sent.
        (() => {
          const m = incoming('spec.extra', { from: '+7', text: awkward });
          return { ...m, origin: bodyOriginOf(m, 'standard', { extra: { n: 1.5, big: 1e21, s: awkward } }) };
        })(),
        incoming('no.origin', { text: null }),
      ];
      const statuses = [
        statusOf('wamid.0', 'sent'),
        statusOf('wamid.0', 'delivered', { recipientId: null }),
        statusOf(`odd "id" ${awkward}`, 'read', { recipientId: awkward }),
        ...[...stored, ...asSent].map((errors, i) =>
          statusOf(`out.${i}`, 'failed', { errors, recipientId: i % 2 === 0 ? null : '1' }),
        ),
      ];
      const deadLetters = [...stored, ...asSent].map((item, i) => ({
        kind: (['entry', 'change', 'message', 'status'] as const)[i % 4] ?? 'message',
        reason: `from: field required ${awkward} ${i}`,
        item,
        itemId: i % 2 === 0 ? null : `bad.${i} ${awkward}`,
      }));
      await store.storeDelivery(deliveryOf({ messages, statuses, deadLetters }));
      clock += 1000;
      await store.insertMany([incoming('later', { text: awkward })]);
      // Erased rows leave no event, and nothing of them in the text.
      const erased = messages[1]?.messageId ?? '';
      expect((await store.eraseMessage(erased)).messages).toBe(1);
      expect((await store.eraseMessage('core.0')).messages).toBe(1);

      const all = await store.readFeed({ after: 0, limit: 1000 });
      expect(new Set(all.map((e) => e.type))).toEqual(new Set(['message.created', 'status.created', 'dead_letter.created']));
      expect(all).toHaveLength(messages.length - 2 + 1 + statuses.length + deadLetters.length);
      const whole = await store.readFeedJson({ after: 0, limit: 1000 });
      expect(whole).toEqual(feedJsonOf(all));
      expect(whole.items).not.toContain(JSON.stringify(erased).slice(1, -1));
      expect(JSON.parse(`[${whole.items}]`)).toHaveLength(all.length);
      for (const query of [
        { after: 0, limit: 1 },
        { after: all[3]?.position ?? 0, limit: 7 },
        { after: 0, limit: 100, types: ['status.created', 'dead_letter.created'] as const },
        { after: 0, limit: 100, from: '+1' },
        { after: 0, limit: 100, from: '+7', to: '+14155550100' },
        { after: all.at(-1)?.position ?? 0, limit: 10 },
      ]) {
        expect(await store.readFeedJson(query), JSON.stringify(query)).toEqual(feedJsonOf(await store.readFeed(query)));
      }
      expect(await store.readFeedJson({ after: all.at(-1)?.position ?? 0, limit: 10 })).toEqual({
        items: '',
        last: null,
      });
    });

    it('gives the events after a position, oldest first, at most limit of them', async () => {
      for (let i = 0; i < 7; i++) {
        clock += 1000;
        await store.storeDelivery(deliveryOf({ messages: [incoming(`m${i}`)], statuses: [statusOf(`m${i}`, 'sent')] }));
      }
      const all = await store.readFeed({ after: 0, limit: 1000 });
      expect(all).toHaveLength(14);
      expectIncreasing(all);
      // Later writes are later in the feed, with their own receivedAt.
      expect(all.map((e) => e.receivedAt)).toEqual(
        Array.from({ length: 14 }, (_, i) => new Date(Date.parse(RECEIVED) + 1000 * (1 + Math.floor(i / 2))).toISOString()),
      );
      expect(await readWholeFeed(store, {}, 3)).toEqual(all);
      const third = all[2]?.position ?? 0;
      expect(await store.readFeed({ after: third, limit: 2 })).toEqual(all.slice(3, 5));
      expect(await store.readFeed({ after: all.at(-1)?.position ?? 0, limit: 10 })).toEqual([]);
      expect(await store.readFeed({ after: Number.MAX_SAFE_INTEGER, limit: 10 })).toEqual([]);
      expect(await store.feedHead()).toEqual({ position: all.at(-1)?.position, receivedAt: all.at(-1)?.receivedAt });
    });

    it('keeps only the types asked for, and only message events of a sender or recipient', async () => {
      await store.storeDelivery(
        deliveryOf({
          messages: [
            incoming('m1', { from: '+1', to: '+100' }),
            incoming('m2', { from: '+2', to: '+100' }),
            incoming('m3', { from: '+1', to: '+200' }),
          ],
          statuses: [statusOf('m1', 'delivered', { recipientId: '1' })],
          deadLetters: [deadLetterOf('d1')],
        }),
      );
      const keys = async (query: Omit<FeedQuery, 'after' | 'limit'>) => (await readWholeFeed(store, query, 2)).map(eventKey);
      const deadLetterId = (await store.listDeadLetters({ limit: 1, offset: 0 })).data[0]?.id;
      expect(await keys({ types: ['status.created'] })).toEqual(['status m1 delivered']);
      expect(await keys({ types: ['dead_letter.created', 'status.created'] })).toEqual([
        'status m1 delivered',
        `dead letter ${deadLetterId}`,
      ]);
      expect(await keys({ types: ['message.created'] })).toEqual(['message m1', 'message m2', 'message m3']);
      expect(await keys({ from: '+1' })).toEqual(['message m1', 'message m3']);
      expect(await keys({ to: '+100' })).toEqual(['message m1', 'message m2']);
      expect(await keys({ from: '+1', to: '+200' })).toEqual(['message m3']);
      expect(await keys({ from: '+1', types: ['message.created', 'status.created'] })).toEqual(['message m1', 'message m3']);
      expect(await keys({ from: '+1', types: ['status.created'] })).toEqual([]);
      expect(await keys({ from: '+9' })).toEqual([]);
      expect(await keys({ from: '+1\0' })).toEqual([]);
      expect(await keys({ to: '\0' })).toEqual([]);
      // limit counts the events kept, and after is a position of the whole feed.
      const all = await store.readFeed({ after: 0, limit: 100 });
      expect((await store.readFeed({ after: 0, limit: 1, from: '+1' })).map(eventKey)).toEqual(['message m1']);
      expect((await store.readFeed({ after: all[0]?.position ?? 0, limit: 1, from: '+1' })).map(eventKey)).toEqual([
        'message m3',
      ]);
    });

    it('answers every filter, after and limit like the whole feed filtered, for busy and rare parties alike', async () => {
      // Seeded: a busy sender and recipient and rare ones, so that each way the store may read a
      // party's events (walking the feed, or the party's own messages) is taken somewhere.
      let seed = 20251201;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const senders = ['+1', '+1', '+1', '+1', '+1', '+2', '+2', '+3', '+4'];
      const recipients = ['+100', '+100', '+100', '+200', '+300'];
      for (let batch = 0; batch < 12; batch++) {
        clock += 1000;
        const ids = Array.from({ length: 1 + random(8) }, (_, i) => `s${batch}-${i}`);
        await store.storeDelivery(
          deliveryOf({
            messages: ids.map((id) =>
              incoming(id, {
                from: senders[random(senders.length)] ?? '+1',
                to: recipients[random(recipients.length)] ?? '+100',
              }),
            ),
            statuses: random(2) === 0 ? [statusOf(ids[0] ?? '', 'sent')] : [],
            deadLetters: random(3) === 0 ? [deadLetterOf(`bad-${batch}`)] : [],
          }),
        );
      }
      const all = await readWholeFeed(store);
      const senderOf = new Map(
        all.flatMap((e) =>
          e.type === 'message.created' ? [[e.message.messageId, [e.message.from, e.message.to]] as const] : [],
        ),
      );
      const typeSets: (FeedQuery['types'] | undefined)[] = [
        undefined,
        ['message.created'],
        ['status.created', 'dead_letter.created'],
        ['dead_letter.created', 'message.created'],
      ];
      const afters = [0, all[Math.floor(all.length / 3)]?.position ?? 0, all.at(-3)?.position ?? 0];
      for (const types of typeSets) {
        for (const from of [undefined, '+1', '+4', '+9']) {
          for (const to of [undefined, '+100', '+300']) {
            const expected = all.filter((e) => {
              if (types !== undefined && !types.includes(e.type)) return false;
              if (from === undefined && to === undefined) return true;
              if (e.type !== 'message.created') return false;
              const [f, t] = senderOf.get(e.message.messageId) ?? [];
              return (from === undefined || f === from) && (to === undefined || t === to);
            });
            const query = {
              ...(types !== undefined ? { types } : {}),
              ...(from !== undefined ? { from } : {}),
              ...(to !== undefined ? { to } : {}),
            };
            for (const after of afters) {
              for (const limit of [1, 3, 50]) {
                const answer = await store.readFeed({ ...query, after, limit });
                expect(await store.readFeedJson({ ...query, after, limit })).toEqual(feedJsonOf(answer));
                expect(answer.map(eventKey), JSON.stringify({ ...query, after, limit })).toEqual(
                  expected
                    .filter((e) => e.position > after)
                    .slice(0, limit)
                    .map(eventKey),
                );
              }
            }
          }
        }
      }
    });
  });
}
