// Several replicas on one PostgreSQL database (issue 4), end to end: two real server processes
// started together on an empty database (the migrations take turns under an advisory lock),
// receiving the same message_ids at once, store one row each and count one `created` in total;
// and when one replica is killed -9 under load, every message either of them acknowledged is there.

import { afterEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/postgres.js';
import { storedCountsById } from '../helpers/postgres-server.js';
import { jsonLines, type RunningServer, startServer } from '../helpers/server.js';
import { getJson, message, postWebhook, runPool } from './client.js';

const SECRET = 'e2e-replicas-secret';

/** webhook_requests_total{result=…} of one server, from its /metrics. */
async function webhookResults(server: RunningServer): Promise<Record<string, number>> {
  const response = await fetch(`${server.baseUrl}/metrics`);
  const text = await response.text();
  const results: Record<string, number> = {};
  for (const m of text.matchAll(/^webhook_requests_total\{result="([a-z_]+)"\} ([0-9.e+]+)$/gm)) {
    const [, result = '', value = '0'] = m;
    results[result] = Number(value);
  }
  return results;
}

/** A shuffle that is the same on every run. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('two servers on one PostgreSQL database', () => {
  const database = useTestDatabase('e2e-replicas');
  const servers: RunningServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.cleanup()));
  });

  /** Starts `n` replicas at the same time on the same database, the way the container runs them. */
  const startReplicas = async (n: number): Promise<RunningServer[]> => {
    const db = await database();
    await db.reset();
    const started = await Promise.all(
      Array.from({ length: n }, () =>
        startServer({ runner: 'node', env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: db.url, PG_POOL_MAX: '4' } }),
      ),
    );
    servers.push(...started);
    return started;
  };

  it('store each message once and count one created in total when the same ids arrive at both at once', async () => {
    const replicas = await startReplicas(2);
    const [a, b] = replicas;
    if (a === undefined || b === undefined) throw new Error('test bug');
    for (const server of replicas) expect((await getJson(`${server.baseUrl}/health/ready`)).status).toBe(200);

    // Every id goes to both replicas, a fifth of them a third time, all interleaved, 32 at a time.
    const ids = Array.from({ length: 300 }, (_, i) => `rep-${String(i).padStart(3, '0')}`);
    const deliveries = shuffled(
      [
        ...ids.map((id) => ({ id, server: a })),
        ...ids.map((id) => ({ id, server: b })),
        ...ids.filter((_, i) => i % 5 === 0).map((id, i) => ({ id, server: i % 2 === 0 ? a : b })),
      ],
      20250115,
    );
    const bodies = new Map(ids.map((id) => [id, JSON.stringify(message(id))]));
    const failures: string[] = [];
    await runPool(deliveries, 32, async ({ id, server }) => {
      const result = await postWebhook(server.baseUrl, SECRET, bodies.get(id) ?? '');
      if (result.status !== 200) failures.push(`${id}: ${result.status} ${JSON.stringify(result.json)}`);
    });
    expect(failures).toEqual([]);

    const stored = await storedCountsById((await database()).url);
    expect(stored.size).toBe(ids.length);
    for (const id of ids) expect(stored.get(id), id).toBe(1);

    const [resultsA, resultsB] = await Promise.all([webhookResults(a), webhookResults(b)]);
    expect((resultsA.created ?? 0) + (resultsB.created ?? 0)).toBe(ids.length);
    expect((resultsA.duplicate ?? 0) + (resultsB.duplicate ?? 0)).toBe(deliveries.length - ids.length);
    // Both had a share of the first deliveries: the test really raced the two.
    expect(resultsA.created).toBeGreaterThan(0);
    expect(resultsB.created).toBeGreaterThan(0);

    // Both answer reads from the one database, identically.
    const [statsA, statsB] = await Promise.all([getJson(`${a.baseUrl}/stats`), getJson(`${b.baseUrl}/stats`)]);
    expect(statsA).toEqual(statsB);
    expect(statsA.json).toMatchObject({ total_messages: ids.length, senders_count: 1 });

    for (const server of replicas) {
      const lines = jsonLines(server.stdout);
      expect(lines.filter((l) => l.level === 'ERROR' || l.level === 'CRITICAL')).toEqual([]);
      // The database password is in DATABASE_URL; it never reaches the log.
      expect(server.stdout.join('\n')).not.toContain(new URL((await database()).url).password);
    }
  });

  it('keep every acknowledged message when one replica is killed -9 under load, and the other serves on', async () => {
    const [victim, survivor] = await startReplicas(2);
    if (victim === undefined || survivor === undefined) throw new Error('test bug');

    const ids = Array.from({ length: 400 }, (_, i) => `kill-${String(i).padStart(3, '0')}`);
    const acknowledged: string[] = [];
    const refused: string[] = [];
    let killed = false;
    await runPool(ids.entries(), 24, async ([i, id]) => {
      // Alternate the replicas; once the victim is dead, its share goes to the survivor (as a
      // load balancer does when a backend stops answering).
      const server = i % 2 === 0 && !killed ? victim : survivor;
      let status: number;
      try {
        status = (await postWebhook(server.baseUrl, SECRET, message(id))).status;
      } catch {
        status = 0; // the connection died with the process: not acknowledged
      }
      if (status === 200) acknowledged.push(id);
      else refused.push(`${id}: ${status}`);
      if (acknowledged.length === 150 && !killed) {
        killed = true;
        victim.signal('SIGKILL');
      }
    });
    await victim.exited;

    expect(killed).toBe(true);
    const stored = await storedCountsById((await database()).url);
    for (const id of acknowledged) expect(stored.get(id), id).toBe(1);
    // Only requests in flight at the victim when it died can have failed.
    expect(refused.length).toBeLessThanOrEqual(24);
    for (const line of refused) expect(line).toMatch(/: 0$/);
    expect((await getJson(`${survivor.baseUrl}/health/ready`)).status).toBe(200);
  });
});
