// GET /stats through app.inject.

import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { message, type StatsBody, storeAll, useTestApp } from './support.js';

async function getStats(t: TestApp): Promise<StatsBody> {
  const res = await t.app.inject({ method: 'GET', url: '/stats' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json<StatsBody>();
}

/** `count` messages from `from`, with ids unique across calls. */
function from(sender: string, count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => message({ message_id: `${sender}-${i}`, from: sender }));
}

describe('GET /stats', () => {
  const app = useTestApp();

  it('answers an empty store with zeros, an empty list and null timestamps', async () => {
    expect(await getStats(app())).toEqual({
      total_messages: 0,
      senders_count: 0,
      messages_per_sender: [],
      first_message_ts: null,
      last_message_ts: null,
    });
  });

  it('has exactly the contract shape', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'a', from: '+919876543210', ts: '2025-01-10T09:00:00Z' }),
      message({ message_id: 'b', from: '+919876543210', ts: '2025-01-15T10:00:00Z' }),
      message({ message_id: 'c', from: '+14155550100', ts: '2025-01-12T00:00:00Z' }),
    ]);
    expect(await getStats(t)).toEqual({
      total_messages: 3,
      senders_count: 2,
      messages_per_sender: [
        { from: '+919876543210', count: 2 },
        { from: '+14155550100', count: 1 },
      ],
      first_message_ts: '2025-01-10T09:00:00Z',
      last_message_ts: '2025-01-15T10:00:00Z',
    });
  });

  it('lists only the top 10 senders by count, descending, while counting every sender', async () => {
    const t = app();
    const senders = Array.from({ length: 12 }, (_, i) => `+1555000${String(i).padStart(4, '0')}`);
    // Sender i sends i + 1 messages: the top 10 are senders 11 down to 2.
    await storeAll(
      t,
      senders.flatMap((s, i) => from(s, i + 1)),
    );
    const stats = await getStats(t);
    expect(stats.total_messages).toBe(78);
    expect(stats.senders_count).toBe(12);
    expect(stats.messages_per_sender).toHaveLength(10);
    expect(stats.messages_per_sender).toEqual(
      senders
        .map((s, i) => ({ from: s, count: i + 1 }))
        .reverse()
        .slice(0, 10),
    );
  });

  it('breaks ties of count by sender ascending', async () => {
    const t = app();
    await storeAll(t, [...from('+3', 2), ...from('+20', 2), ...from('+1', 1), ...from('+2', 2), ...from('+10', 3)]);
    expect((await getStats(t)).messages_per_sender).toEqual([
      { from: '+10', count: 3 },
      { from: '+2', count: 2 },
      { from: '+20', count: 2 },
      { from: '+3', count: 2 },
      { from: '+1', count: 1 },
    ]);
  });

  it('cuts ties at the tenth place by sender ascending', async () => {
    const t = app();
    const senders = Array.from({ length: 11 }, (_, i) => `+${70 - i}`);
    await storeAll(
      t,
      senders.flatMap((s) => from(s, 1)),
    );
    const stats = await getStats(t);
    expect(stats.messages_per_sender.map((s) => s.from)).toEqual([...senders].sort().slice(0, 10));
    expect(stats.senders_count).toBe(11);
  });

  it('gives the ts strings of the earliest and latest messages by instant, as sent', async () => {
    const t = app();
    await storeAll(t, [
      message({ message_id: 'mid', ts: '2025-01-15T10:00:00.5Z' }),
      message({ message_id: 'last', ts: '2025-01-15T10:00:00.750Z' }),
      message({ message_id: 'first', ts: '2025-01-15T10:00:00Z' }),
    ]);
    const stats = await getStats(t);
    // As strings '…00.5Z' < '…00.750Z' < '…00Z'; by instant '…00Z' is first and '…00.750Z' last.
    expect(stats.first_message_ts).toBe('2025-01-15T10:00:00Z');
    expect(stats.last_message_ts).toBe('2025-01-15T10:00:00.750Z');
  });

  it('does not count redeliveries', async () => {
    const t = app();
    await storeAll(t, [message({ message_id: 'x', from: '+1' }), message({ message_id: 'x', from: '+2' })]);
    await storeAll(t, [message({ message_id: 'x', from: '+1', ts: '2030-01-01T00:00:00Z' })]);
    expect(await getStats(t)).toEqual({
      total_messages: 1,
      senders_count: 1,
      messages_per_sender: [{ from: '+1', count: 1 }],
      first_message_ts: '2025-01-15T10:00:00Z',
      last_message_ts: '2025-01-15T10:00:00Z',
    });
  });
});
