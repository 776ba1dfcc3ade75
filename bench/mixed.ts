// Mixed load: the slowest reads, looped on a few keep-alive connections while webhooks are being
// ingested, so that what a scan costs the webhooks (and what the webhooks cost the scan) shows.

import { SequentialClient } from './reads.js';
import { percentile } from './stats.js';

export interface SlowRead {
  readonly name: string;
  /** The path of the i-th request of this kind. */
  readonly path: (i: number) => string;
}

/**
 * The reads that cost the server most at scale: a 2-character search (no trigrams: a scan), a deep
 * offset (a walk over half the rows) and /stats (cheap, but answered behind the others).
 */
export function slowReads(messages: number): SlowRead[] {
  // The casings vary as in the read phase, so no layer can answer a repeat from a cache.
  const casings = ['ok', 'OK', 'Ok'];
  const offset = Math.floor(messages / 2);
  return [
    { name: '?q=ok (scan)', path: (i) => `/messages?q=${casings[i % casings.length] ?? 'ok'}` },
    { name: `?offset=${offset}`, path: () => `/messages?offset=${offset}` },
    { name: 'GET /stats', path: () => '/stats' },
  ];
}

export interface SlowReadResult {
  readonly name: string;
  /** Answers with status 200; the latencies are theirs. */
  readonly ok: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Status → count, 200 included. */
  readonly statusCounts: Readonly<Record<string, number>>;
  /** Requests that got no answer (connection errors). */
  readonly errors: number;
}

export interface ReadLoad {
  /** Lets every connection finish the request it is on, then tells what was answered. */
  stop(): Promise<SlowReadResult[]>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `connections` loops, each sending one read after another on its own connection and cycling
 * through the kinds; connection c starts at kind c, so every kind is in flight from the first moment.
 */
export function startReadLoad(baseUrl: string, reads: readonly SlowRead[], connections: number): ReadLoad {
  const latencies = reads.map((): number[] => []);
  const statuses = reads.map((): Record<string, number> => ({}));
  const errors = reads.map(() => 0);
  const sent = reads.map(() => 0);
  let stopping = false;

  const loop = async (connection: number): Promise<void> => {
    const client = new SequentialClient(baseUrl);
    try {
      for (let turn = connection; !stopping; turn++) {
        const kind = turn % reads.length;
        const read = reads[kind];
        if (read === undefined) break;
        const i = sent[kind] ?? 0;
        sent[kind] = i + 1;
        try {
          const answer = await client.get(read.path(i));
          const counts = statuses[kind] ?? {};
          counts[answer.status] = (counts[answer.status] ?? 0) + 1;
          // Only answers that did the work are timed: a quick 503 would flatter the percentiles.
          if (answer.status === 200) latencies[kind]?.push(answer.ms);
        } catch {
          errors[kind] = (errors[kind] ?? 0) + 1;
          // A server that refuses connections would otherwise be hammered in a tight loop.
          await sleep(50);
        }
      }
    } finally {
      client.close();
    }
  };
  const loops = Array.from({ length: connections }, (_v, c) => loop(c));

  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return reads.map((read, kind) => {
        const times = latencies[kind] ?? [];
        return {
          name: read.name,
          ok: times.length,
          p50Ms: percentile(times, 0.5),
          p99Ms: percentile(times, 0.99),
          statusCounts: statuses[kind] ?? {},
          errors: errors[kind] ?? 0,
        };
      });
    },
  };
}
