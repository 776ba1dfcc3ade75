// Read latency at scale: sequential GETs on one keep-alive connection, per query shape, with every
// answer checked (status 200, `total` a number and, where the seed data tells, the exact total).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { formatMs, median, percentile } from './stats.js';
import { lowerBound, type SyntheticFacts } from './synthetic.js';

export interface ReadCase {
  readonly name: string;
  /** p99 target in ms from the issue, or null where it sets none. */
  readonly targetMs: number | null;
  readonly targetText: string;
  /** The path for the i-th request (values may vary across requests). */
  readonly path: (i: number) => string;
  /** The exact total the i-th answer must carry, when the seed data tells it. */
  readonly expectedTotal?: (i: number) => number;
  /** Set when the case cannot run against this server (e.g. a feature it lacks); printed as n/a. */
  readonly unavailable?: string;
  /** Extra check on the parsed body; returns what is wrong, or null. */
  readonly check?: (body: Record<string, unknown>) => string | null;
}

export interface ReadResult {
  readonly name: string;
  readonly targetMs: number | null;
  readonly targetText: string;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers that were not 200, had no numeric total, or a wrong total. */
  readonly bad: number;
  readonly firstProblem: string | null;
  readonly unavailable: string | null;
  /** The same requests as the server timed them (latency_ms in its log), when its log tells. */
  readonly serverP50Ms: number;
  readonly serverP99Ms: number;
}

export interface ReadOptions {
  /** Timed requests per case. */
  readonly requests: number;
  readonly warmup: number;
  /** A case stops early after this long (slow fallbacks at large sizes), with what it has. */
  readonly maxSecondsPerCase: number;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

/** One keep-alive connection: maxSockets 1, so requests run strictly one after another on it. */
export class SequentialClient {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #baseUrl: URL;

  constructor(baseUrl: string) {
    this.#baseUrl = new URL(baseUrl);
  }

  /** `requestId` goes out as X-Request-ID, which the server logs with its own latency. */
  get(path: string, requestId?: string): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const started = performance.now();
      const request = http.request(
        {
          host: this.#baseUrl.hostname,
          port: this.#baseUrl.port,
          path,
          method: 'GET',
          agent: this.#agent,
          headers: requestId === undefined ? {} : { 'x-request-id': requestId },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - started,
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function problemWith(answer: Answer, readCase: ReadCase, i: number): string | null {
  if (answer.status !== 200) return `status ${answer.status}: ${answer.body.slice(0, 200)}`;
  const body = parseObject(answer.body);
  if (body === null) return 'body is not a JSON object';
  const total = 'total' in body ? body.total : body.total_messages;
  if (typeof total !== 'number') return 'total is not a number';
  const expected = readCase.expectedTotal?.(i);
  if (expected !== undefined && total !== expected) return `total ${total}, expected ${expected}`;
  return readCase.check?.(body) ?? null;
}

/** X-Request-ID of the i-th request of a case in a round; timed requests are told apart from the warm-up. */
function requestId(round: number, caseIndex: number, i: number, timed: boolean): string {
  return `bench-${round}-${caseIndex}-${timed ? 't' : 'w'}${i}`;
}

/**
 * The server's own latency_ms for the timed requests of each round and case (key `round-case`),
 * read from its log: the time spent inside the server, as opposed to the client, the loopback
 * and the scheduler.
 */
function serverLatencies(logPath: string): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.includes('"bench-')) continue;
    try {
      const entry = JSON.parse(line) as { request_id?: unknown; latency_ms?: unknown };
      const match = typeof entry.request_id === 'string' ? /^bench-(\d+-\d+)-t\d+$/.exec(entry.request_id) : null;
      const key = match?.[1];
      if (key === undefined || typeof entry.latency_ms !== 'number') continue;
      const list = byKey.get(key) ?? [];
      list.push(entry.latency_ms);
      byKey.set(key, list);
    } catch {
      // not a log line of ours
    }
  }
  return byKey;
}

/**
 * One result per case from several rounds of it: the median of the rounds' p50 and p99 (the
 * issue's figures are medians of several runs), the server's own percentiles likewise from its
 * log, answers checked in every round.
 */
export function combineRounds(rounds: readonly (readonly ReadResult[])[], logPath: string): ReadResult[] {
  const server = serverLatencies(logPath);
  const first = rounds[0] ?? [];
  return first.map((result, caseIndex) => {
    const runs = rounds.map((round) => round[caseIndex]).filter((r): r is ReadResult => r !== undefined);
    const serverRuns = runs.map((_r, round) => server.get(`${round}-${caseIndex}`) ?? []).filter((l) => l.length > 0);
    return {
      ...result,
      samples: runs.reduce((sum, r) => sum + r.samples, 0),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      bad: runs.reduce((sum, r) => sum + r.bad, 0),
      firstProblem: runs.find((r) => r.firstProblem !== null)?.firstProblem ?? null,
      serverP50Ms: median(serverRuns.map((l) => percentile(l, 0.5))),
      serverP99Ms: median(serverRuns.map((l) => percentile(l, 0.99))),
    };
  });
}

export async function measureCase(
  client: SequentialClient,
  readCase: ReadCase,
  caseIndex: number,
  round: number,
  options: ReadOptions,
): Promise<ReadResult> {
  const base = {
    name: readCase.name,
    targetMs: readCase.targetMs,
    targetText: readCase.targetText,
    serverP50Ms: Number.NaN,
    serverP99Ms: Number.NaN,
  };
  if (readCase.unavailable !== undefined) {
    return {
      ...base,
      samples: 0,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      bad: 0,
      firstProblem: null,
      unavailable: readCase.unavailable,
    };
  }
  const deadline = performance.now() + options.maxSecondsPerCase * 1000;
  const latencies: number[] = [];
  let bad = 0;
  let firstProblem: string | null = null;
  const total = options.warmup + options.requests;
  for (let i = 0; i < total; i++) {
    const timed = i >= options.warmup;
    const answer = await client.get(readCase.path(i), requestId(round, caseIndex, i, timed));
    const problem = problemWith(answer, readCase, i);
    if (problem !== null) {
      bad++;
      firstProblem ??= `${readCase.path(i)}: ${problem}`;
    }
    if (timed) latencies.push(answer.ms);
    // A slow case keeps at least a handful of samples, then stops at its time budget.
    if (performance.now() > deadline && latencies.length >= 20) break;
  }
  return {
    ...base,
    samples: latencies.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    bad,
    firstProblem,
    unavailable: null,
  };
}

// ---------------------------------------------------------------------------------------------
// The cases of the issue, built from what the seeder knows about its data

/** `YYYY-MM-DDTHH:MM:SSZ` of an epoch second. */
function sinceText(second: number): string {
  return `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
}

/** A deterministic spread of values for request i, so repeated requests do not all hit one cached answer. */
function spread(i: number): number {
  return ((i * 2654435761) >>> 0) / 4294967296;
}

export interface CursorWalk {
  /** The cursor of a page deep in the list, or null when the server gave no next_cursor. */
  readonly cursor: string | null;
  readonly depth: number;
  readonly requests: number;
  readonly note: string | null;
}

/** Follows next_cursor from the first page until about `depth` rows have been passed. */
export async function walkCursor(client: SequentialClient, depth: number, maxSeconds: number): Promise<CursorWalk> {
  const deadline = performance.now() + maxSeconds * 1000;
  let cursor = '';
  let passed = 0;
  let requests = 0;
  const limit = 100;
  while (passed < depth) {
    const answer = await client.get(`/messages?limit=${limit}&cursor=${encodeURIComponent(cursor)}`);
    requests++;
    if (answer.status !== 200) {
      return { cursor: null, depth: passed, requests, note: `cursor request answered ${answer.status}` };
    }
    const body = parseObject(answer.body);
    const next = body?.next_cursor;
    if (typeof next !== 'string') {
      if (requests === 1 && next === undefined)
        return { cursor: null, depth: 0, requests, note: 'no next_cursor in the response' };
      break; // the end of the list (null)
    }
    cursor = next;
    passed += limit;
    if (performance.now() > deadline) break;
  }
  return {
    cursor: cursor === '' ? null : cursor,
    depth: passed,
    requests,
    note: passed < depth ? `walk stopped at row ${passed}` : null,
  };
}

export function readCases(facts: SyntheticFacts, walk: CursorWalk): ReadCase[] {
  const n = facts.count;
  const { senders, senderCounts, seconds } = facts;
  let busiest = 0;
  senderCounts.forEach((count, i) => {
    if (count > (senderCounts[busiest] ?? 0)) busiest = i;
  });
  const rare = [...senderCounts.keys()]
    .filter((i) => (senderCounts[i] ?? 0) > 0)
    .sort((a, b) => (senderCounts[a] ?? 0) - (senderCounts[b] ?? 0) || a - b)
    .slice(0, 20);
  const sender = (i: number): string => senders[i] ?? '';
  const count = (i: number): number => senderCounts[i] ?? 0;
  const at = (i: number): number => seconds[i] ?? 0;
  const sinceTotal = (second: number): number => n - lowerBound(seconds, second);
  const secondIn = (lo: number, hi: number, i: number): number =>
    at(Math.min(n - 1, Math.floor(n * (lo + (hi - lo) * spread(i)))));
  const oldestSince = (i: number): number => at(0) - Math.floor(3600 * spread(i));
  const markers = facts.markers.filter((m) => m.count > 0);
  const casings = [
    (s: string) => s.toUpperCase(),
    (s: string) => s.toLowerCase(),
    (s: string) => `${(s[0] ?? '').toUpperCase()}${s.slice(1)}`,
  ];
  const marker = (i: number) => markers[i % Math.max(1, markers.length)];
  const markerQuery = (i: number): string => (casings[i % casings.length] ?? ((s: string) => s))(marker(i)?.word ?? 'none');
  const twoChar = ['ok', 'OK', 'Ok'];
  const twoCharTotal = facts.termCounts.get('ok');
  const q = (text: string): string => encodeURIComponent(text);
  const deepOffset = Math.floor(n / 2);

  return [
    {
      name: 'GET /stats',
      targetMs: 2,
      targetText: '≤ 2 ms',
      path: () => '/stats',
      expectedTotal: () => n,
    },
    {
      name: 'GET /messages (first page)',
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => '/messages',
      expectedTotal: () => n,
    },
    {
      name: `?from= busiest sender (${count(busiest)} msgs)`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => `/messages?from=${q(sender(busiest))}`,
      expectedTotal: () => count(busiest),
    },
    {
      name: `?from= rare sender (${count(rare[0] ?? 0)}–${count(rare[rare.length - 1] ?? 0)} msgs)`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: (i) => `/messages?from=${q(sender(rare[i % rare.length] ?? 0))}`,
      expectedTotal: (i) => count(rare[i % rare.length] ?? 0),
    },
    {
      name: '?since= recent (last 1%)',
      targetMs: 10,
      targetText: '≤ 10 ms',
      path: (i) => `/messages?since=${sinceText(secondIn(0.99, 1, i))}`,
      expectedTotal: (i) => sinceTotal(secondIn(0.99, 1, i)),
    },
    {
      name: '?since= mid-range (45–55%)',
      targetMs: 10,
      targetText: '≤ 10 ms',
      path: (i) => `/messages?since=${sinceText(secondIn(0.45, 0.55, i))}`,
      expectedTotal: (i) => sinceTotal(secondIn(0.45, 0.55, i)),
    },
    {
      name: '?since= oldest (all rows)',
      targetMs: 10,
      targetText: '≤ 10 ms',
      path: (i) => `/messages?since=${sinceText(oldestSince(i))}`,
      expectedTotal: () => n,
    },
    {
      name: `?q= selective (${markers.map((m) => m.count).join('/')} msgs)`,
      targetMs: 20,
      targetText: '≤ 20 ms',
      path: (i) => `/messages?q=${q(markerQuery(i))}`,
      expectedTotal: (i) => marker(i)?.count ?? 0,
    },
    {
      name: `?q= 2 characters ("ok"${twoCharTotal !== undefined ? `, ${twoCharTotal} msgs` : ''})`,
      targetMs: null,
      targetText: '— (fallback)',
      path: (i) => `/messages?q=${q(twoChar[i % twoChar.length] ?? 'ok')}`,
      ...(twoCharTotal !== undefined ? { expectedTotal: () => twoCharTotal } : {}),
    },
    {
      name: `deep page, offset=${deepOffset}`,
      targetMs: null,
      targetText: '—',
      path: () => `/messages?offset=${deepOffset}`,
      expectedTotal: () => n,
    },
    {
      name: `deep page, cursor (row ${walk.depth})`,
      targetMs: 5,
      targetText: '≤ 5 ms (as first page)',
      path: () => `/messages?cursor=${encodeURIComponent(walk.cursor ?? '')}`,
      expectedTotal: () => n,
      check: (body) => ('next_cursor' in body ? null : 'no next_cursor'),
      ...(walk.cursor === null ? { unavailable: walk.note ?? 'no cursor' } : {}),
    },
  ];
}

export function describeResult(result: ReadResult): string {
  if (result.unavailable !== null) return `${result.name}: n/a (${result.unavailable})`;
  return `${result.name}: p50 ${formatMs(result.p50Ms)}, p99 ${formatMs(result.p99Ms)} over ${result.samples}${
    Number.isFinite(result.serverP99Ms)
      ? ` (in the server: p50 ${formatMs(result.serverP50Ms)}, p99 ${formatMs(result.serverP99Ms)})`
      : ''
  }${result.bad > 0 ? `, ${result.bad} bad answers (${result.firstProblem})` : ''}`;
}
