// Read latency at scale: sequential GETs on one keep-alive connection, per query shape, with every
// answer checked (status 200, `total` a number and, where the seed data tells, the exact total and
// what the page holds).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { instantKey } from '../src/ingest/timestamp.js';
import { formatMs, median, percentile } from './stats.js';
import { type ConversationFact, lowerBound, type SyntheticFacts } from './synthetic.js';

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
  /** The answer carries no total (a timeseries): only the status and `check` judge it. */
  readonly withoutTotal?: true;
  /** Extra check on the parsed body of the i-th answer; returns what is wrong, or null. */
  readonly check?: (body: Record<string, unknown>, i: number) => string | null;
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
  if (readCase.withoutTotal !== true) {
    const total = 'total' in body ? body.total : body.total_messages;
    if (typeof total !== 'number') return 'total is not a number';
    const expected = readCase.expectedTotal?.(i);
    if (expected !== undefined && total !== expected) return `total ${total}, expected ${expected}`;
  }
  return readCase.check?.(body, i) ?? null;
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

/** Follows next_cursor of a listing (GET /messages or /conversations) from its first page until about `depth` rows have been passed. */
export async function walkCursor(
  client: SequentialClient,
  depth: number,
  maxSeconds: number,
  list: '/messages' | '/conversations' = '/messages',
): Promise<CursorWalk> {
  const deadline = performance.now() + maxSeconds * 1000;
  let cursor = '';
  let passed = 0;
  let requests = 0;
  const limit = 100;
  while (passed < depth) {
    const answer = await client.get(`${list}?limit=${limit}&cursor=${encodeURIComponent(cursor)}`);
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

/** What is wrong with a page of messages: its length, its order, or an item the filter should have left out; null when nothing. */
function pageProblem(
  body: Record<string, unknown>,
  expectedLength: number,
  order: 'asc' | 'desc',
  keep?: (item: Record<string, unknown>) => string | null,
): string | null {
  const data = body.data;
  if (!Array.isArray(data)) return 'data is not a list';
  if (data.length !== expectedLength) return `${data.length} items, expected ${expectedLength}`;
  let previous: [string, string] | null = null;
  for (const item of data as Record<string, unknown>[]) {
    const key = typeof item.ts === 'string' ? instantKey(item.ts) : null;
    if (key === null || typeof item.message_id !== 'string')
      return `item without a valid ts or message_id: ${JSON.stringify(item)}`;
    const place: [string, string] = [key, item.message_id];
    if (previous !== null) {
      const ascending = previous[0] < place[0] || (previous[0] === place[0] && previous[1] < place[1]);
      if (ascending !== (order === 'asc')) return `out of ${order} order at ${item.message_id}`;
    }
    previous = place;
    const wrong = keep?.(item) ?? null;
    if (wrong !== null) return wrong;
  }
  return null;
}

/** What is wrong with a page of conversations against the expected ones; null when nothing. */
function conversationsProblem(
  body: Record<string, unknown>,
  expected: readonly ConversationFact[],
  more: boolean,
): string | null {
  const data = body.data;
  if (!Array.isArray(data)) return 'data is not a list';
  if (data.length !== expected.length) return `${data.length} conversations, expected ${expected.length}`;
  for (const [k, item] of (data as Record<string, unknown>[]).entries()) {
    const want = expected[k];
    const last = item.last_message as Record<string, unknown> | undefined;
    if (
      want === undefined ||
      item.from !== want.from ||
      item.to !== want.to ||
      item.messages !== want.messages ||
      last?.message_id !== want.lastMessageId ||
      typeof item.last_ts !== 'string' ||
      instantKey(item.last_ts) !== want.lastTsKey
    ) {
      return `conversation ${k}: ${JSON.stringify(item).slice(0, 300)}, expected ${JSON.stringify(want)}`;
    }
  }
  if (more !== (typeof body.next_cursor === 'string')) return `next_cursor ${JSON.stringify(body.next_cursor)}`;
  return null;
}

const HOUR = 3600;
const DAY = 86_400;

/** `YYYY-MM-DDTHH:MM:SSZ` of an epoch second. */
function isoSecond(second: number): string {
  return `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * The buckets GET /stats/timeseries must answer for since <= instant < until (whole epoch seconds):
 * from since rounded down to its bucket while a bucket starts before until, each with the
 * messages of its part of the window.
 */
function expectedBuckets(seconds: Float64Array, bucketSeconds: number, since: number, until: number) {
  const buckets: { start: string; count: number }[] = [];
  for (let start = Math.floor(since / bucketSeconds) * bucketSeconds; start < until; start += bucketSeconds) {
    const from = Math.max(since, start);
    const to = Math.min(until, start + bucketSeconds);
    buckets.push({ start: isoSecond(start), count: lowerBound(seconds, to) - lowerBound(seconds, from) });
  }
  return buckets;
}

function timeseriesProblem(body: Record<string, unknown>, bucket: string, expected: readonly { start: string; count: number }[]) {
  if (body.bucket !== bucket) return `bucket ${JSON.stringify(body.bucket)}`;
  const data = body.data;
  if (!Array.isArray(data)) return 'data is not a list';
  if (data.length !== expected.length) return `${data.length} buckets, expected ${expected.length}`;
  for (const [k, item] of (data as Record<string, unknown>[]).entries()) {
    const want = expected[k];
    if (item.start !== want?.start || item.count !== want?.count) {
      return `bucket ${k}: ${JSON.stringify(item)}, expected ${JSON.stringify(want)}`;
    }
  }
  return null;
}

/** Types no synthetic message has, for the `type` case that finds nothing. */
const ABSENT_TYPES = ['system', 'unsupported', 'ephemeral'];

/**
 * The inbox reads: newest first, `until`, `to`, `type`, the conversations (first page and deep in
 * their cursor) and the timeseries, each answer checked against the seed's facts.
 */
function inboxCases(facts: SyntheticFacts, conversationWalk: CursorWalk): ReadCase[] {
  const n = facts.count;
  const { seconds } = facts;
  const q = (text: string): string => encodeURIComponent(text);
  const at = (i: number): number => seconds[i] ?? 0;
  const pageLength = (total: number): number => Math.min(50, total);
  const secondIn = (lo: number, hi: number, i: number): number =>
    at(Math.min(n - 1, Math.floor(n * (lo + (hi - lo) * spread(i)))));
  const untilTotal = (second: number): number => lowerBound(seconds, second);
  const untilCase = (label: string, lo: number, hi: number): ReadCase => ({
    name: `?until= ${label}`,
    targetMs: 5,
    targetText: '≤ 5 ms',
    path: (i) => `/messages?until=${isoSecond(secondIn(lo, hi, i))}`,
    expectedTotal: (i) => untilTotal(secondIn(lo, hi, i)),
    check: (body, i) => {
      const until = isoSecond(secondIn(lo, hi, i)).slice(0, 19);
      return pageProblem(body, pageLength(untilTotal(secondIn(lo, hi, i))), 'asc', (item) => {
        const key = instantKey(String(item.ts));
        return key !== null && key < until ? null : `${String(item.message_id)} is not before ${until}`;
      });
    },
  });

  const receivers = [...facts.receiverCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const toCase = (label: string, entry: [string, number] | undefined): ReadCase => {
    const [receiver, total] = entry ?? ['+10000000000', 0];
    return {
      name: `?to= ${label} (${total} msgs)`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => `/messages?to=${q(receiver)}`,
      expectedTotal: () => total,
      check: (body) =>
        pageProblem(body, pageLength(total), 'asc', (item) =>
          item.to === receiver ? null : `${String(item.message_id)} is to ${String(item.to)}`,
        ),
    };
  };

  const types = [...facts.typeCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const absent = ABSENT_TYPES.find((type) => !facts.typeCounts.has(type)) ?? 'none-such';
  const typeCase = (label: string, entry: [string, number] | undefined): ReadCase => {
    const [type, total] = entry ?? [absent, 0];
    return {
      name: `?type= ${label} (${type}, ${total} msgs)`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => `/messages?type=${q(type)}`,
      expectedTotal: () => total,
      check: (body) => pageProblem(body, pageLength(total), 'asc'),
      ...(entry === undefined && label !== 'nobody has' ? { unavailable: 'the seeded messages have no types' } : {}),
    };
  };

  const conversations = facts.conversations;
  const newest = conversations[0]?.lastMessageId;
  const conversationPage = (from: number): readonly ConversationFact[] => conversations.slice(from, from + 50);

  // Timeseries windows anywhere in the data (hours) or ending in its last week (days), whole
  // seconds that are not on a bucket's edge, so that both edge buckets are counted from the rows.
  const first = at(0);
  const end = at(n - 1) + 1;
  const hourWindow = (i: number): [number, number] => {
    const span = 30 * DAY;
    const until = first + span + Math.floor(spread(i) * Math.max(0, end - first - span));
    return [until - span, until];
  };
  const dayWindow = (i: number): [number, number] => {
    const until = end - Math.floor(spread(i) * 7 * DAY);
    return [until - 365 * DAY, until];
  };
  const timeseriesCase = (
    name: string,
    targetMs: number | null,
    bucket: 'hour' | 'day',
    window: (i: number) => [number, number],
  ): ReadCase => ({
    name,
    targetMs,
    targetText: targetMs === null ? '— (extra)' : `≤ ${targetMs} ms`,
    withoutTotal: true,
    path: (i) => {
      const [since, until] = window(i);
      return `/stats/timeseries?bucket=${bucket}&since=${isoSecond(since)}&until=${isoSecond(until)}`;
    },
    check: (body, i) => {
      const [since, until] = window(i);
      return timeseriesProblem(body, bucket, expectedBuckets(seconds, bucket === 'hour' ? HOUR : DAY, since, until));
    },
  });
  const hourBuckets = expectedBuckets(seconds, HOUR, ...hourWindow(0)).length;
  const dayBuckets = expectedBuckets(seconds, DAY, ...dayWindow(0)).length;

  return [
    {
      name: '?order=desc (first page)',
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => '/messages?order=desc',
      expectedTotal: () => n,
      check: (body) => {
        const firstId = (body.data as Record<string, unknown>[] | undefined)?.[0]?.message_id;
        if (firstId !== newest) return `first item ${String(firstId)}, expected the newest message ${String(newest)}`;
        return pageProblem(body, pageLength(n), 'desc');
      },
    },
    untilCase('recent (99–100%)', 0.99, 1),
    untilCase('mid-range (45–55%)', 0.45, 0.55),
    untilCase('oldest (0–1%)', 0, 0.01),
    toCase('busiest receiver', receivers[0]),
    toCase('rarest receiver', receivers.at(-1)),
    typeCase('commonest', types[0]),
    typeCase('rarest', types.at(-1)),
    typeCase('nobody has', undefined),
    {
      name: `/conversations (first page of ${conversations.length})`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => '/conversations',
      expectedTotal: () => conversations.length,
      check: (body) => conversationsProblem(body, conversationPage(0), conversations.length > 50),
    },
    {
      name: `/conversations cursor (row ${conversationWalk.depth})`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      path: () => `/conversations?cursor=${encodeURIComponent(conversationWalk.cursor ?? '')}`,
      expectedTotal: () => conversations.length,
      check: (body) =>
        conversationsProblem(body, conversationPage(conversationWalk.depth), conversations.length > conversationWalk.depth + 50),
      ...(conversationWalk.cursor === null ? { unavailable: conversationWalk.note ?? 'no cursor' } : {}),
    },
    timeseriesCase(`/stats/timeseries hour, 30 days (${hourBuckets} buckets)`, 5, 'hour', hourWindow),
    timeseriesCase(`/stats/timeseries day, 365 days (${dayBuckets} buckets)`, null, 'day', dayWindow),
  ];
}

/**
 * What is wrong with a page of GET /feed read after `after` from a feed of positions 1..n with no
 * gaps (a seeded store: one message.created event per message), or null.
 */
function feedProblem(body: Record<string, unknown>, after: number, n: number, limit: number): string | null {
  const data = body.data as Record<string, unknown>[] | undefined;
  if (!Array.isArray(data)) return 'no data array';
  const expected = Math.max(0, Math.min(limit, n - after));
  if (data.length !== expected) return `${data.length} events after ${after}, expected ${expected}`;
  for (const [i, event] of data.entries()) {
    if (event.position !== after + 1 + i) return `event ${i} at position ${String(event.position)}, expected ${after + 1 + i}`;
    if (event.type !== 'message.created') return `event ${i} is a ${String(event.type)}`;
    const message = event.data as Record<string, unknown> | undefined;
    if (typeof message?.message_id !== 'string') return `event ${i} carries no message`;
  }
  const next = data.length === 0 ? after : after + data.length;
  return body.next_after === next ? null : `next_after ${String(body.next_after)}, expected ${next}`;
}

/**
 * GET /feed at `after` anywhere in the feed (issue 13's target: p99 ≤ 5 ms for any after), the
 * same with the largest page, and a filter that matches nothing (walks the rest of the feed
 * unless an index serves it). Needs a store seeded on an empty feed: positions 1..n.
 */
export function feedCases(facts: SyntheticFacts): ReadCase[] {
  const n = facts.count;
  const after = (i: number): number => Math.min(n, Math.floor(n * spread(i)));
  return [
    {
      name: `/feed (100 events) at any after (0–${n})`,
      targetMs: 5,
      targetText: '≤ 5 ms',
      withoutTotal: true,
      path: (i) => `/feed?after=${after(i)}`,
      check: (body, i) => feedProblem(body, after(i), n, 100),
    },
    {
      name: '/feed?limit=1000 at any after',
      targetMs: null,
      targetText: '— (extra)',
      withoutTotal: true,
      path: (i) => `/feed?after=${after(i)}&limit=1000`,
      check: (body, i) => feedProblem(body, after(i), n, 1000),
    },
    {
      name: '/feed?types=status.created (none stored) at any after',
      targetMs: null,
      targetText: '— (extra)',
      withoutTotal: true,
      path: (i) => `/feed?after=${after(i)}&types=status.created`,
      check: (body, i) => {
        const data = body.data as unknown[] | undefined;
        if (!Array.isArray(data) || data.length > 0) return 'expected no events';
        return body.next_after === after(i) ? null : `next_after ${String(body.next_after)}, expected ${after(i)}`;
      },
    },
  ];
}

export function readCases(facts: SyntheticFacts, walk: CursorWalk, conversationWalk: CursorWalk): ReadCase[] {
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
    ...inboxCases(facts, conversationWalk),
    ...feedCases(facts),
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
