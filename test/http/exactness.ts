// After rows are removed (erasure, retention), every read that counts must agree with the
// messages that are left: /stats, /stats/timeseries, /conversations, and the `total` of /messages
// under each kind of filter, each recomputed here from a snapshot of the messages themselves.

import { expect } from 'vitest';
import { instantKey } from '../../src/ingest/timestamp.js';
import type { TestApp } from '../helpers/app.js';

/** A stored message as the inbox reads see it. */
export interface Snapshot {
  readonly message_id: string;
  readonly from: string;
  readonly to: string;
  readonly ts: string;
  readonly text: string | null;
  readonly type: string | null;
  readonly contact_name: string | null;
}

async function getJson<T>(t: TestApp, url: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await t.app.inject({ method: 'GET', url, headers });
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${res.body}`);
  return res.json<T>();
}

/** Every stored message, read page by page by cursor (any number of them), with these headers (a token). */
export async function snapshot(t: TestApp, headers: Record<string, string> = {}): Promise<Snapshot[]> {
  const all: Snapshot[] = [];
  let cursor = '';
  for (;;) {
    const page = await getJson<{ data: Snapshot[]; next_cursor: string | null }>(
      t,
      `/messages?limit=100&include=type,contact_name&cursor=${encodeURIComponent(cursor)}`,
      headers,
    );
    all.push(...page.data);
    if (page.next_cursor === null) return all;
    cursor = page.next_cursor;
  }
}

function key(m: Snapshot): string {
  const instant = instantKey(m.ts);
  if (instant === null) throw new Error(`not an instant: ${m.ts}`);
  return instant;
}

/** By instant, then message_id: the order of /messages. */
function byInstant(a: Snapshot, b: Snapshot): number {
  const ka = key(a);
  const kb = key(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.message_id < b.message_id ? -1 : a.message_id > b.message_id ? 1 : 0;
}

function countBy<T>(items: readonly T[], of: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(of(item), (counts.get(of(item)) ?? 0) + 1);
  return counts;
}

/**
 * Checks every counting read against `expected`, the messages that must be stored (in any order).
 * `words` are searched with q, and their totals checked too.
 */
export async function expectReadsExact(t: TestApp, expected: readonly Snapshot[], words: readonly string[] = []): Promise<void> {
  const sorted = [...expected].sort(byInstant);

  // The listing itself, and its total.
  const listed = await snapshot(t);
  expect(listed.map((m) => m.message_id)).toEqual(sorted.map((m) => m.message_id));
  expect((await getJson<{ total: number }>(t, '/messages')).total).toBe(sorted.length);

  // /stats.
  const senders = countBy(sorted, (m) => m.from);
  const top = [...senders.entries()]
    .sort(([fa, ca], [fb, cb]) => cb - ca || (fa < fb ? -1 : 1))
    .slice(0, 10)
    .map(([from, count]) => ({ from, count }));
  expect(await getJson(t, '/stats')).toEqual({
    total_messages: sorted.length,
    senders_count: senders.size,
    messages_per_sender: top,
    first_message_ts: sorted[0]?.ts ?? null,
    last_message_ts: sorted.at(-1)?.ts ?? null,
  });

  // The total of each single filter, and of each conversation; every one an aggregate or a count.
  const totalOf = async (query: string) => (await getJson<{ total: number }>(t, `/messages?limit=1&${query}`)).total;
  for (const [from, count] of senders) expect(await totalOf(`from=${encodeURIComponent(from)}`), `from=${from}`).toBe(count);
  for (const [to, count] of countBy(sorted, (m) => m.to))
    expect(await totalOf(`to=${encodeURIComponent(to)}`), `to=${to}`).toBe(count);
  for (const [type, count] of countBy(
    sorted.filter((m) => m.type !== null),
    (m) => m.type ?? '',
  )) {
    expect(await totalOf(`type=${encodeURIComponent(type)}`), `type=${type}`).toBe(count);
  }
  for (const word of words) {
    const count = sorted.filter((m) => m.text?.toLowerCase().includes(word.toLowerCase())).length;
    expect(await totalOf(`q=${encodeURIComponent(word)}`), `q=${word}`).toBe(count);
  }
  // Windows: since each message's instant, and until it (they tile).
  for (const m of sorted) {
    const since = sorted.filter((other) => key(other) >= key(m)).length;
    expect(await totalOf(`since=${encodeURIComponent(m.ts)}`), `since=${m.ts}`).toBe(since);
    expect(await totalOf(`until=${encodeURIComponent(m.ts)}`), `until=${m.ts}`).toBe(sorted.length - since);
  }

  // /conversations: one per pair, most recent first.
  const pairs = new Map<string, Snapshot[]>();
  for (const m of sorted) pairs.set(`${m.from} ${m.to}`, [...(pairs.get(`${m.from} ${m.to}`) ?? []), m]);
  const conversations = [...pairs.values()]
    .map((messages) => {
      const first = messages[0];
      const last = messages.at(-1);
      if (first === undefined || last === undefined) throw new Error('a conversation without messages');
      const named = [...messages].reverse().find((m) => m.contact_name !== null);
      return {
        from: first.from,
        to: first.to,
        contact_name: named?.contact_name ?? null,
        messages: messages.length,
        first_ts: first.ts,
        last_ts: last.ts,
        last_message: { message_id: last.message_id, ts: last.ts, text: last.text, type: last.type },
        lastKey: key(last),
      };
    })
    .sort((a, b) =>
      a.lastKey !== b.lastKey
        ? a.lastKey > b.lastKey
          ? -1
          : 1
        : a.from !== b.from
          ? a.from < b.from
            ? -1
            : 1
          : a.to < b.to
            ? -1
            : 1,
    )
    .map(({ lastKey: _lastKey, ...conversation }) => conversation);
  expect(await getJson(t, '/conversations?limit=100')).toEqual({
    data: conversations,
    total: conversations.length,
    limit: 100,
    next_cursor: null,
  });
  for (const c of conversations) {
    expect(await totalOf(`from=${encodeURIComponent(c.from)}&to=${encodeURIComponent(c.to)}`)).toBe(c.messages);
  }

  // /stats/timeseries: per hour and per day over a window around every message.
  if (sorted.length > 0) {
    const firstKey = key(sorted[0] as Snapshot);
    const lastKey = key(sorted.at(-1) as Snapshot);
    const since = `${firstKey.slice(0, 10)}T00:00:00Z`;
    const until = new Date(Date.parse(`${lastKey.slice(0, 10)}T00:00:00Z`) + 86_400_000).toISOString();
    for (const bucket of ['hour', 'day'] as const) {
      const series = await getJson<{ data: { start: string; count: number }[] }>(
        t,
        `/stats/timeseries?bucket=${bucket}&since=${since}&until=${until}`,
      );
      const length = bucket === 'hour' ? 13 : 10;
      const counts = countBy(sorted, (m) => key(m).slice(0, length));
      const nonZero = series.data.filter((b) => b.count > 0).map((b) => [b.start.slice(0, length), b.count]);
      expect(nonZero, bucket).toEqual([...counts.entries()]);
    }
  }
}
