// GET /messages through app.inject: paging, filters, ordering and the response shape.

import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import {
  expectValidationShape,
  failingLocations,
  getMessages,
  type MessagesBody,
  message,
  storeAll,
  useTestApp,
} from './support.js';

const A = '+919876543210';
const B = '+14155550100';

async function idsOf(t: TestApp, query: string): Promise<string[]> {
  return (await getMessages(t, query)).data.map((m) => m.message_id);
}

async function expectQueryInvalid(t: TestApp, query: string, ...params: string[]): Promise<void> {
  const res = await t.app.inject({ method: 'GET', url: `/messages${query}` });
  expect(res.statusCode, query).toBe(422);
  expectValidationShape(res);
  const locations = failingLocations(res);
  for (const param of params) expect(locations, query).toContain(`query.${param}`);
}

describe('GET /messages: shape and paging', () => {
  const app = useTestApp();

  it('answers an empty store with the defaults', async () => {
    const t = app();
    const res = await t.app.inject({ method: 'GET', url: '/messages' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ data: [], total: 0, limit: 50, offset: 0 });
  });

  it('gives items with exactly five keys, text null when absent', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'with', extra: 'ignored' }),
      message({ message_id: 'without', text: undefined, ts: '2025-01-15T10:00:01Z' }),
    ]);
    const body = await getMessages(t);
    expect(Object.keys(body).sort()).toEqual(['data', 'limit', 'offset', 'total']);
    for (const item of body.data) expect(Object.keys(item).sort()).toEqual(['from', 'message_id', 'text', 'to', 'ts']);
    expect(body.data).toEqual([
      { message_id: 'with', from: A, to: B, ts: '2025-01-15T10:00:00Z', text: 'Hello' },
      { message_id: 'without', from: A, to: B, ts: '2025-01-15T10:00:01Z', text: null },
    ]);
  });

  it('defaults to 50 rows, total counting them all', async () => {
    const t = app();
    await storeAll(
      t,
      Array.from({ length: 60 }, (_, i) => message({ message_id: `m${String(i).padStart(2, '0')}` })),
    );
    const body = await getMessages(t);
    expect(body.data).toHaveLength(50);
    expect(body.total).toBe(60);
    expect(body.limit).toBe(50);
    expect(body.offset).toBe(0);
    expect(body.data[49]?.message_id).toBe('m49');
  });

  it('applies and echoes limit and offset; total ignores them', async () => {
    const t = app();
    await storeAll(
      t,
      Array.from({ length: 5 }, (_, i) => message({ message_id: `p${i}`, ts: `2025-01-15T10:00:0${i}Z` })),
    );
    const page: MessagesBody = await getMessages(t, '?limit=2&offset=1');
    expect(page).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.data.map((m) => m.message_id)).toEqual(['p1', 'p2']);
    expect(await getMessages(t, '?limit=2&offset=4')).toMatchObject({
      total: 5,
      limit: 2,
      offset: 4,
      data: [{ message_id: 'p4' }],
    });
    expect(await getMessages(t, '?offset=5')).toEqual({ data: [], total: 5, limit: 50, offset: 5 });
    expect(await getMessages(t, '?offset=1000&limit=1')).toEqual({ data: [], total: 5, limit: 1, offset: 1000 });
  });

  it('accepts limit 1 and limit 100, and offset 0', async () => {
    const t = app();
    await storeAll(t, [message({ message_id: 'x' }), message({ message_id: 'y' })]);
    expect(await getMessages(t, '?limit=1')).toMatchObject({ limit: 1, total: 2, data: [{ message_id: 'x' }] });
    expect(await getMessages(t, '?limit=100&offset=0')).toMatchObject({ limit: 100, offset: 0, total: 2 });
  });

  it('refuses limit out of 1..100 or not an integer with 422 naming limit', async () => {
    const t = app();
    for (const limit of ['0', '101', '-1', '1000', 'abc', '1.5', '1e2', '', '0x10', '10abc']) {
      await expectQueryInvalid(t, `?limit=${limit}`, 'limit');
    }
  });

  it('refuses a negative or non-integer offset with 422 naming offset', async () => {
    const t = app();
    for (const offset of ['-1', '-100', 'x', '1.5', '']) {
      await expectQueryInvalid(t, `?offset=${offset}`, 'offset');
    }
  });

  it('names every bad parameter at once', async () => {
    const t = app();
    await expectQueryInvalid(t, '?limit=0&offset=-1&since=yesterday', 'limit', 'offset', 'since');
  });
});

describe('GET /messages: filters', () => {
  const app = useTestApp();

  async function seed(t: TestApp): Promise<void> {
    await storeAll(t, [
      message({ message_id: 'a1', from: A, ts: '2025-01-15T09:00:00Z', text: 'Hello there' }),
      message({ message_id: 'b1', from: B, ts: '2025-01-15T09:30:00Z', text: 'HELLO from B' }),
      message({ message_id: 'a2', from: A, ts: '2025-01-15T10:00:00Z', text: 'bye' }),
      message({ message_id: 'a3', from: A, ts: '2025-01-15T10:00:00.5Z', text: 'hello again' }),
      message({ message_id: 'b2', from: B, ts: '2025-01-16T00:00:00Z', text: undefined }),
    ]);
  }

  it('matches from exactly, with the + sent raw (decoded as a space), percent-encoded, or as %20', async () => {
    const t = app();
    await seed(t);
    for (const from of ['+919876543210', '%2B919876543210', '%20919876543210']) {
      const body = await getMessages(t, `?from=${from}`);
      expect(
        body.data.map((m) => m.message_id),
        from,
      ).toEqual(['a1', 'a2', 'a3']);
      expect(body.total, from).toBe(3);
    }
    expect(await idsOf(t, '?from=+14155550100')).toEqual(['b1', 'b2']);
  });

  it('does not match a sender partially', async () => {
    const t = app();
    await seed(t);
    expect(await getMessages(t, '?from=919876543210')).toMatchObject({ data: [], total: 0 });
    expect(await getMessages(t, '?from=%2B91')).toMatchObject({ data: [], total: 0 });
    expect(await getMessages(t, '?from=%2B9198765432100')).toMatchObject({ data: [], total: 0 });
  });

  it('keeps messages at or after since (inclusive), comparing instants', async () => {
    const t = app();
    await seed(t);
    expect(await idsOf(t, '?since=2025-01-15T10:00:00Z')).toEqual(['a2', 'a3', 'b2']);
    expect(await idsOf(t, '?since=2025-01-15T10:00:00.000Z')).toEqual(['a2', 'a3', 'b2']);
    expect(await idsOf(t, '?since=2025-01-15T10:00:00.001Z')).toEqual(['a3', 'b2']);
    expect(await idsOf(t, '?since=2025-01-15T10:00:00.500Z')).toEqual(['a3', 'b2']);
    expect(await idsOf(t, '?since=2025-01-15T10:00:00.5000001Z')).toEqual(['b2']);
    expect(await getMessages(t, '?since=2025-01-16T00:00:01Z')).toMatchObject({ data: [], total: 0 });
    expect((await getMessages(t, '?since=2000-01-01T00:00:00Z')).total).toBe(5);
  });

  it('refuses a malformed since with 422 naming since', async () => {
    const t = app();
    for (const since of [
      'yesterday',
      '2025-01-15',
      '2025-01-15%2010:00:00Z',
      '2025-01-15T10:00:00',
      '2025-01-15T10:00:00%2B05:30',
      '2025-01-15T10:00:00+05:30',
      '2025-02-30T00:00:00Z',
      '2025-01-15T24:00:00Z',
      '',
    ]) {
      await expectQueryInvalid(t, `?since=${since}`, 'since');
    }
  });

  it('matches q as a case-insensitive substring of text', async () => {
    const t = app();
    await seed(t);
    expect(await idsOf(t, '?q=hello')).toEqual(['a1', 'b1', 'a3']);
    expect(await idsOf(t, '?q=HELLO')).toEqual(['a1', 'b1', 'a3']);
    expect(await idsOf(t, '?q=hElLo%20aGaIn')).toEqual(['a3']);
    expect(await idsOf(t, '?q=ell')).toEqual(['a1', 'b1', 'a3']);
    expect(await idsOf(t, '?q=BY')).toEqual(['a2']);
    expect(await getMessages(t, '?q=absent')).toMatchObject({ data: [], total: 0 });
  });

  it('matches q Unicode-aware: ПРИВЕТ finds привет, and accents and emoji match', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'ru', text: 'Скажи привет' }),
      message({ message_id: 'fr', text: 'ÉLÉGANT Café' }),
      message({ message_id: 'emoji', text: 'party 🎉 time' }),
    ]);
    const enc = encodeURIComponent;
    expect(await idsOf(t, `?q=${enc('ПРИВЕТ')}`)).toEqual(['ru']);
    expect(await idsOf(t, `?q=${enc('привет')}`)).toEqual(['ru']);
    expect(await idsOf(t, `?q=${enc('élégant café')}`)).toEqual(['fr']);
    expect(await idsOf(t, `?q=${enc('CAFÉ')}`)).toEqual(['fr']);
    expect(await idsOf(t, `?q=${enc('🎉')}`)).toEqual(['emoji']);
    expect(await idsOf(t, `?q=${enc('Y 🎉 T')}`)).toEqual(['emoji']);
  });

  it('treats %, _ and \\ in q as literal characters', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'pct', text: '50% off' }),
      message({ message_id: 'under', text: 'file_name' }),
      message({ message_id: 'slash', text: 'C:\\Users' }),
      message({ message_id: 'plain', text: '50 off, filename, C:Users' }),
    ]);
    expect(await idsOf(t, '?q=%25')).toEqual(['pct']);
    expect(await idsOf(t, '?q=0%25%20o')).toEqual(['pct']);
    expect(await idsOf(t, '?q=_')).toEqual(['under']);
    expect(await idsOf(t, '?q=e_n')).toEqual(['under']);
    expect(await idsOf(t, '?q=%5C')).toEqual(['slash']);
    expect(await idsOf(t, '?q=%3A%5CU')).toEqual(['slash']);
    expect(await idsOf(t, '?q=%5C%25')).toEqual([]);
  });

  it('never matches q against a message without text', async () => {
    const t = app();
    await storeAll(t, [message({ message_id: 'none', text: undefined }), message({ message_id: 'null', text: null })]);
    expect(await getMessages(t, '?q=null')).toMatchObject({ data: [], total: 0 });
  });

  it('ANDs the filters, total counting rows that match all of them', async () => {
    const t = app();
    await seed(t);
    expect(await idsOf(t, `?from=${A}&q=hello`)).toEqual(['a1', 'a3']);
    expect(await idsOf(t, `?from=${A}&since=2025-01-15T09:30:00Z`)).toEqual(['a2', 'a3']);
    expect(await idsOf(t, '?since=2025-01-15T09:30:00Z&q=hello')).toEqual(['b1', 'a3']);
    const all = await getMessages(t, `?from=${A}&since=2025-01-15T09:30:00Z&q=HELLO&limit=1`);
    expect(all).toEqual({
      data: [{ message_id: 'a3', from: A, to: B, ts: '2025-01-15T10:00:00.5Z', text: 'hello again' }],
      total: 1,
      limit: 1,
      offset: 0,
    });
    expect(await getMessages(t, `?from=${B}&q=again`)).toMatchObject({ data: [], total: 0 });
  });

  it('counts total over the filters, ignoring limit and offset', async () => {
    const t = app();
    await seed(t);
    expect(await getMessages(t, `?from=${A}&limit=1&offset=1`)).toMatchObject({
      total: 3,
      limit: 1,
      offset: 1,
      data: [{ message_id: 'a2' }],
    });
    expect(await getMessages(t, '?q=hello&limit=1&offset=5')).toMatchObject({ total: 3, data: [] });
  });
});

describe('GET /messages: order', () => {
  const app = useTestApp();

  it('orders by instant, so …10:00:00.5Z comes after …10:00:00Z even though it sorts first as a string', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'half', ts: '2025-01-15T10:00:00.5Z' }),
      message({ message_id: 'whole', ts: '2025-01-15T10:00:00Z' }),
    ]);
    expect(await idsOf(t, '')).toEqual(['whole', 'half']);
  });

  it('orders by instant, not by insertion and not by the ts string', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'c', ts: '2025-01-15T10:00:01Z' }),
      message({ message_id: 'b', ts: '2025-01-15T10:00:00.75Z' }),
      message({ message_id: 'e', ts: '2026-01-01T00:00:00Z' }),
      message({ message_id: 'a', ts: '2025-01-15T10:00:00.125Z' }),
      message({ message_id: 'd', ts: '2025-01-15T10:00:01.05Z' }),
      message({ message_id: 'z', ts: '2024-12-31T23:59:59.999999Z' }),
    ]);
    expect(await idsOf(t, '')).toEqual(['z', 'a', 'b', 'c', 'd', 'e']);
  });

  it('breaks ties of the same instant by message_id ascending, however the instant is written', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'm3', ts: '2025-01-15T10:00:00Z' }),
      message({ message_id: 'm1', ts: '2025-01-15T10:00:00.000Z' }),
      message({ message_id: 'm2', ts: '2025-01-15T10:00:00.0Z' }),
      message({ message_id: 'k', ts: '2025-01-15T10:00:00.5Z' }),
      message({ message_id: 'j', ts: '2025-01-15T10:00:00.50Z' }),
    ]);
    expect(await idsOf(t, '')).toEqual(['m1', 'm2', 'm3', 'j', 'k']);
  });

  it('pages through the same order', async () => {
    const t = app();
    await storeAll(
      t,
      Array.from({ length: 9 }, (_, i) => message({ message_id: `n${i}`, ts: `2025-01-15T10:00:0${8 - i}Z` })),
    );
    const pages: string[] = [];
    for (let offset = 0; offset < 9; offset += 4) pages.push(...(await idsOf(t, `?limit=4&offset=${offset}`)));
    expect(pages).toEqual(['n8', 'n7', 'n6', 'n5', 'n4', 'n3', 'n2', 'n1', 'n0']);
  });
});

describe('GET /messages: keyset cursor (extension; see README)', () => {
  const app = useTestApp();

  it('walks every row once with next_cursor, ending with null', async () => {
    const t = app();
    await storeAll(
      t,
      Array.from({ length: 7 }, (_, i) => message({ message_id: `k${i}`, ts: `2025-01-15T10:00:0${i % 3}Z` })),
    );
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const res = await t.app.inject({ method: 'GET', url: `/messages?limit=3&cursor=${encodeURIComponent(cursor)}` });
      expect(res.statusCode).toBe(200);
      const body = res.json<MessagesBody & { next_cursor: string | null }>();
      expect(body.total).toBe(7);
      seen.push(...body.data.map((m) => m.message_id));
      if (body.next_cursor === null) break;
      cursor = body.next_cursor;
    }
    expect(seen).toEqual(['k0', 'k3', 'k6', 'k1', 'k4', 'k2', 'k5']);
  });

  it('refuses a cursor it did not issue, and a cursor with a non-zero offset', async () => {
    const t = app();
    await expectQueryInvalid(t, '?cursor=not-a-cursor', 'cursor');
    await expectQueryInvalid(t, '?cursor=&offset=2', 'offset');
  });
});
