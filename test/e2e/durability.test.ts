// the contract step 4 end to end: a 200 is sent only after the row is committed, so every
// acknowledged message survives kill -9 of the process, stored exactly once.

import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../helpers/server.js';
import { metaSignature } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';
import { countBy, listAllMessageIds, message, postWebhook, runPool } from './client.js';

const SECRET = 'e2e-durability-secret';

/** message_id → number of rows, read straight from the file the killed process left behind. */
function storedCounts(dbPath: string): Map<string, number> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT message_id, count(*) AS n FROM messages GROUP BY message_id').all() as {
      message_id: string;
      n: number;
    }[];
    return new Map(rows.map((row) => [row.message_id, row.n]));
  } finally {
    db.close();
  }
}

// The default settings, and a group-commit wait (BATCH_MAX_WAIT_MS, docs/configuration.md) long enough that when
// the kill lands a batch is almost surely queued and not yet committed: a server that answered 200
// before committing would lose those rows here, where with no wait the window is too short to hit.
const SETTINGS: { label: string; env: Record<string, string> }[] = [
  { label: 'default settings', env: {} },
  { label: 'BATCH_MAX_WAIT_MS=200', env: { BATCH_MAX_WAIT_MS: '200' } },
];

describe('durability under kill -9', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.cleanup();
  });
  afterAll(() => tmp.cleanup());

  const start = async (dbPath: string, env: Record<string, string> = {}): Promise<RunningServer> => {
    const server = await startServer({ env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${dbPath}`, ...env } });
    servers.push(server);
    return server;
  };

  it.each(SETTINGS)(
    'keeps every acknowledged message, exactly once, when killed right after the last 200 ($label)',
    async ({ label, env }) => {
      const dbPath = path.join(tmp.dir, `after-last-ack-${label.replace(/\W+/g, '-')}.db`);
      const server = await start(dbPath, env);

      // 180 distinct messages plus 20 redeliveries of the first ones, interleaved, 16 at a time.
      const ids = Array.from({ length: 180 }, (_, i) => `after-${String(i).padStart(3, '0')}`);
      const deliveries = [...ids];
      for (let i = 0; i < 20; i += 1) deliveries.splice(10 + i * 9, 0, ids[i] ?? 'after-000');
      const bodies = new Map(ids.map((id) => [id, JSON.stringify(message(id))]));

      const acknowledged: string[] = [];
      const failures: string[] = [];
      let answered = 0;
      await runPool(deliveries, 16, async (id) => {
        const result = await postWebhook(server.baseUrl, SECRET, bodies.get(id) ?? '');
        if (result.status === 200) acknowledged.push(id);
        else failures.push(`${id}: ${result.status} ${JSON.stringify(result.json)}`);
        answered += 1;
        // Synchronously, in the callback of the last answer: the kill follows the last 200 at once.
        if (answered === deliveries.length) server.signal('SIGKILL');
      });
      await server.exited;

      expect(failures).toEqual([]);
      expect(acknowledged).toHaveLength(200);
      const stored = storedCounts(dbPath);
      for (const id of new Set(acknowledged)) expect(stored.get(id), id).toBe(1);
      expect(stored.size).toBe(180);
    },
  );

  it.each(SETTINGS)(
    'keeps every acknowledged message when killed with requests still in flight ($label)',
    async ({ label, env }) => {
      const dbPath = path.join(tmp.dir, `in-flight-${label.replace(/\W+/g, '-')}.db`);
      const server = await start(dbPath, env);

      const sent = new Set<string>();
      const acknowledged: string[] = [];
      let inFlight = 0;
      let inFlightAtKill = -1;
      let killed = false;
      const candidates = Array.from({ length: 5000 }, (_, i) => `flight-${String(i).padStart(4, '0')}`);
      await runPool(
        candidates,
        32,
        async (id) => {
          sent.add(id);
          inFlight += 1;
          try {
            const result = await postWebhook(server.baseUrl, SECRET, message(id));
            if (result.status === 200) acknowledged.push(id);
          } catch {
            // the connection died with the process: not acknowledged, so no promise was made
          } finally {
            inFlight -= 1;
          }
          if (!killed && acknowledged.length >= 150) {
            killed = true;
            inFlightAtKill = inFlight;
            server.signal('SIGKILL');
          }
        },
        () => killed,
      );
      await server.exited;

      // The kill really did land with requests outstanding; otherwise this test proves nothing.
      expect(inFlightAtKill).toBeGreaterThan(0);
      expect(acknowledged.length).toBeGreaterThanOrEqual(150);

      // A new process on the same file: everything acknowledged is there, exactly once, and nothing that was never sent.
      const restarted = await start(dbPath);
      const listed = await listAllMessageIds(restarted.baseUrl);
      const counts = countBy(listed);
      for (const id of acknowledged) expect(counts.get(id), id).toBe(1);
      for (const [id, n] of counts) {
        expect(n, id).toBe(1);
        expect(sent.has(id), id).toBe(true);
      }
    },
  );

  it('keeps every acknowledged WhatsApp delivery (messages, statuses, dead letters) when killed right after the last 200', async () => {
    const APP_SECRET = 'e2e-durability-app-secret';
    const dbPath = path.join(tmp.dir, 'whatsapp.db');
    const server = await start(dbPath, { WHATSAPP_APP_SECRET: APP_SECRET });

    // Each envelope: two messages, a status, and one unreadable message (kept as a dead letter).
    const envelope = (n: number) =>
      JSON.stringify(
        whatsappEnvelope({
          messages: [
            { from: '16505551234', id: `wamid.a${n}`, timestamp: '1749416383', type: 'text', text: { body: `a ${n}` } },
            { from: '16505551235', id: `wamid.b${n}`, timestamp: '1749416384', type: 'text', text: { body: `b ${n}` } },
            { from: 'nobody', id: `wamid.bad${n}`, timestamp: '1749416385', type: 'text', text: { body: '?' } },
          ],
          statuses: [{ id: `wamid.out${n}`, status: 'delivered', timestamp: '1749416390', recipient_id: '16505551234' }],
        }),
      );
    const envelopes = Array.from({ length: 60 }, (_, n) => n);
    const acknowledged: number[] = [];
    let answered = 0;
    await runPool(envelopes, 8, async (n) => {
      const body = envelope(n);
      const response = await fetch(`${server.baseUrl}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature(APP_SECRET, body) },
        body,
      });
      await response.arrayBuffer();
      if (response.status === 200) acknowledged.push(n);
      answered += 1;
      if (answered === envelopes.length) server.signal('SIGKILL');
    });
    await server.exited;

    expect(acknowledged).toHaveLength(envelopes.length);
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const ids = (sql: string) => new Set(db.prepare(sql).pluck().all());
      const messages = ids('SELECT message_id FROM messages');
      const statuses = ids('SELECT message_id FROM delivery_statuses');
      const deadLetters = ids('SELECT item_id FROM dead_letters');
      for (const n of acknowledged) {
        expect(messages.has(`wamid.a${n}`) && messages.has(`wamid.b${n}`), `messages of envelope ${n}`).toBe(true);
        expect(statuses.has(`wamid.out${n}`), `status of envelope ${n}`).toBe(true);
        expect(deadLetters.has(`wamid.bad${n}`), `dead letter of envelope ${n}`).toBe(true);
      }
      expect(messages.size).toBe(2 * envelopes.length);
    } finally {
      db.close();
    }
  });
});
