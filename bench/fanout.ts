// Fan-out: many GET /events subscribers while webhooks arrive at a constant rate. Measures the
// delay from each webhook's acknowledgement (its 200 at the sender) to its message.created event at
// every subscriber, checks that every subscriber gets every acknowledged message exactly once and in
// increasing position order, and watches the servers' memory and CPU and this process's own.
//
// The sender and the subscribers run in this process, so one clock (performance.now()) times both
// ends. The streams are not parsed by an SSE client library (`eventsource` and the like): those
// decode every event into a string and an event object, and with a thousand streams of a few
// thousand events a second that decoding is more than this process can do, besides taking CPU from
// the server on a small machine. Each subscriber is a plain node:http GET (a connection of its own)
// whose body bytes are scanned in place for only what the checks need: the `id:` line (the
// position), whether the `event:` line is message.created, and the first `"message_id":"` of the
// data line, whose digits are the sender's number for that webhook. Nothing else is decoded.

import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { RunningServer } from './server.js';
import { readCpuSeconds, readMachineTicks, readMainThreadCpuSeconds, readMemory, sampleRss } from './server.js';
import { percentile } from './stats.js';
import { SyntheticMessages } from './synthetic.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Template {
  readonly from: string;
  readonly to: string;
  readonly ts: string;
  readonly text: string | null;
}

/**
 * Core-form webhooks (`X-Signature`: hex HMAC-SHA256 of the body, as in ingest.ts), made and signed
 * as they are sent: webhook `index` is a synthetic plain message whose message_id is
 * `<prefix><index>`, so a subscriber reads the index straight from the event's bytes.
 */
export class FanoutBodies {
  readonly #secret: string;
  readonly #templates: Template[] = [];

  constructor(secret: string, seed: number, templates = 5000) {
    this.#secret = secret;
    const synthetic = new SyntheticMessages({
      count: templates,
      senders: 2000,
      seed,
      until: new Date(),
      batchSize: 10_000,
      plain: true,
    });
    for (const batch of synthetic.batches()) {
      for (const m of batch) this.#templates.push({ from: m.from, to: m.to, ts: m.ts, text: m.text });
    }
  }

  body(prefix: string, index: number): { body: Buffer; signature: string } {
    const t = this.#templates[index % this.#templates.length];
    if (t === undefined) throw new Error('no message templates');
    const body = Buffer.from(JSON.stringify({ message_id: `${prefix}${index}`, from: t.from, to: t.to, ts: t.ts, text: t.text }));
    return { body, signature: createHmac('sha256', this.#secret).update(body).digest('hex') };
  }
}

/**
 * Delays in a log-linear histogram (exact below 256 µs, then 128 buckets per power of two: within
 * 0.4% of the value): millions of samples a second cost a few integer operations each, and the
 * percentiles need no sort.
 */
export class DelayHistogram {
  readonly #counts = new Float64Array(256 + 24 * 128);
  count = 0;
  max = Number.NEGATIVE_INFINITY;

  add(ms: number): void {
    if (ms > this.max) this.max = ms;
    this.count++;
    let us = Math.round(ms * 1000);
    if (!(us > 0)) us = 0;
    else if (us > 0x7fffffff) us = 0x7fffffff;
    if (us < 256) {
      this.#counts[us] = (this.#counts[us] ?? 0) + 1;
      return;
    }
    const exponent = 31 - Math.clz32(us);
    const bucket = 256 + (exponent - 8) * 128 + ((us >>> (exponent - 7)) - 128);
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
  }

  /** Nearest-rank percentile, in ms (the middle of its bucket); NaN when empty. */
  percentile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.min(this.count, Math.max(1, Math.ceil(q * this.count)));
    let seen = 0;
    for (let b = 0; b < this.#counts.length; b++) {
      seen += this.#counts[b] ?? 0;
      if (seen < rank) continue;
      if (b < 256) return b / 1000;
      const exponent = 8 + Math.floor((b - 256) / 128);
      const width = 2 ** (exponent - 7);
      return Math.min(this.max, ((128 + ((b - 256) % 128)) * width + width / 2) / 1000);
    }
    return this.max;
  }
}

/** A bit per webhook index. */
class BitSet {
  readonly words: Uint32Array;
  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }
  /** Sets bit i; false if it was set already. */
  add(i: number): boolean {
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const word = this.words[w] ?? 0;
    if ((word & bit) !== 0) return false;
    this.words[w] = word | bit;
    return true;
  }
  count(): number {
    let n = 0;
    for (const word of this.words) n += popcount(word);
    return n;
  }
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Bits set in `a` and not in `b`. */
function countAndNot(a: BitSet, b: BitSet): number {
  let n = 0;
  for (let w = 0; w < a.words.length; w++) n += popcount((a.words[w] ?? 0) & ~(b.words[w] ?? 0));
  return n;
}

const NEWLINE = 0x0a;
const COLON = 0x3a;
const QUOTE = 0x22;
const BLANK_LINE = Buffer.from('\n\n');
const ID_FIELD = Buffer.from('id: ');
const CREATED_LINE = Buffer.from('event: message.created\n');
const MESSAGE_ID = Buffer.from('"message_id":"');

/** What a subscriber hands the run for each message.created event it reads. */
type OnMessage = (subscriber: Subscriber, index: number, arrivedAt: number) => void;

/** How long a subscriber waits before it reconnects after the server ended its stream. */
const RECONNECT_MS = 250;
/** Subscribers that connect together (each batch once its streams have started), and the pause after the last. */
const OPEN_BATCH = 25;
const SETTLE_MS = 1000;
/** How long after the last webhook was sent its answers may take; those still missing then are given up. */
export const ANSWER_WAIT_MS = 30_000;

/**
 * One GET /events stream on a connection of its own, resumed with Last-Event-ID when the server
 * ends it (as EventSource does), until `close()`.
 */
export class Subscriber {
  /** The position of the last event read; 0 before any. */
  lastPosition = 0;
  /** Webhook indices whose message.created event arrived. */
  readonly received: BitSet;
  /** Distinct messages received. */
  distinct = 0;
  /** Events of a message already received. */
  duplicates = 0;
  /** Events whose position was not above the one before. */
  outOfOrder = 0;
  /** Events of other types (this load makes none). */
  otherEvents = 0;
  /** Events that are not of this run, or could not be read as an id, a type and a message_id. */
  unreadable = 0;
  /** Streams that opened (200), streams the server ended, answers other than 200, connection errors. */
  opened = 0;
  endedByServer = 0;
  refused = 0;
  connectErrors = 0;
  #rest: Buffer | null = null;
  #request: http.ClientRequest | null = null;
  #closing = false;
  #openedOnce: Promise<void>;
  #resolveOpened: () => void = () => {};

  constructor(
    readonly server: RunningServer,
    /** The server's place in the run's list: webhook i went to server i mod n. */
    readonly slot: number,
    readonly prefix: Buffer,
    capacity: number,
    readonly onMessage: OnMessage,
  ) {
    this.received = new BitSet(capacity);
    this.#openedOnce = new Promise((resolve) => {
      this.#resolveOpened = resolve;
    });
  }

  /** Opens the stream from the start of the feed; resolves once the 200 arrived. */
  open(): Promise<void> {
    this.#connect();
    return this.#openedOnce;
  }

  close(): void {
    this.#closing = true;
    this.#request?.destroy();
    this.#request = null;
  }

  #connect(): void {
    if (this.#closing) return;
    this.#rest = null;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    let answered = false;
    if (this.lastPosition > 0) headers['last-event-id'] = String(this.lastPosition);
    const request = http.get(
      { host: '127.0.0.1', port: this.server.port, path: '/events?after=0', agent: false, headers },
      (response) => {
        answered = true;
        if (response.statusCode !== 200) {
          this.refused++;
          response.resume();
          const retry = Number(response.headers['retry-after']);
          this.#retry(Number.isFinite(retry) && retry > 0 ? retry * 1000 : 1000);
          return;
        }
        this.opened++;
        this.#resolveOpened();
        response.on('data', (chunk: Buffer) => this.#read(chunk));
        response.on('close', () => {
          if (this.#closing) return;
          this.endedByServer++;
          this.#retry(RECONNECT_MS);
        });
      },
    );
    request.on('error', () => {
      if (this.#closing) return;
      // An error after the answer began is followed by the response's close, which reconnects.
      if (!answered) {
        this.connectErrors++;
        this.#retry(RECONNECT_MS);
      }
    });
    this.#request = request;
  }

  #retry(ms: number): void {
    if (this.#closing) return;
    this.#request = null;
    setTimeout(() => this.#connect(), ms).unref();
  }

  #read(chunk: Buffer): void {
    const now = performance.now();
    let buf = chunk;
    if (this.#rest !== null) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    let start = 0;
    for (;;) {
      const end = buf.indexOf(BLANK_LINE, start);
      if (end < 0) break;
      // Lines starting with a colon are comments (the heartbeats).
      if (buf[start] !== COLON) this.#event(buf, start, end, now);
      start = end + 2;
    }
    if (start < buf.length) this.#rest = buf.subarray(start);
  }

  /** One event: the bytes from `start` to the blank line at `end`. */
  #event(buf: Buffer, start: number, end: number, now: number): void {
    // Every compare stays within the event (`end` is its blank line, so `end + 1` is in the buffer).
    if (start + ID_FIELD.length > end || buf.compare(ID_FIELD, 0, ID_FIELD.length, start, start + ID_FIELD.length) !== 0) {
      this.unreadable++;
      return;
    }
    let i = start + ID_FIELD.length;
    let position = 0;
    for (let c = buf[i] ?? 0; c >= 0x30 && c <= 0x39; c = buf[++i] ?? 0) position = position * 10 + (c - 0x30);
    if (buf[i] !== NEWLINE || i === start + ID_FIELD.length) {
      this.unreadable++;
      return;
    }
    if (position <= this.lastPosition) this.outOfOrder++;
    else this.lastPosition = position;
    i++;
    if (
      i + CREATED_LINE.length > end + 1 ||
      buf.compare(CREATED_LINE, 0, CREATED_LINE.length, i, i + CREATED_LINE.length) !== 0
    ) {
      this.otherEvents++;
      return;
    }
    const at = buf.indexOf(MESSAGE_ID, i + CREATED_LINE.length);
    let j = at + MESSAGE_ID.length;
    const prefix = this.prefix;
    if (at < 0 || j + prefix.length > end || buf.compare(prefix, 0, prefix.length, j, j + prefix.length) !== 0) {
      this.unreadable++;
      return;
    }
    j += prefix.length;
    let index = 0;
    const first = j;
    for (let c = buf[j] ?? 0; c >= 0x30 && c <= 0x39; c = buf[++j] ?? 0) index = index * 10 + (c - 0x30);
    if (buf[j] !== QUOTE || j === first || index >= this.received.size) {
      this.unreadable++;
      return;
    }
    if (this.received.add(index)) {
      this.distinct++;
      this.onMessage(this, index, now);
    } else this.duplicates++;
  }
}

/**
 * Sends webhooks at a constant rate, whatever the answers do (an open loop: a slow answer does not
 * delay the next request, which waits for a free connection of the agent instead). Its own paced
 * sender rather than autocannon's `overallRate`: each acknowledgement must be tied to the message
 * it acknowledges, which autocannon's response events do not tell. Webhook i goes to server i mod n.
 */
class PacedSender {
  /** performance.now() of each webhook's 2xx answer; NaN until then (or if it never came). */
  readonly ackAt: Float64Array;
  readonly acked: BitSet;
  next = 0;
  readonly #inFlight = new Set<http.ClientRequest>();
  readonly #agents: http.Agent[];
  #settled: (() => void) | null = null;
  /** Set once the run stops waiting for answers: what comes after is not counted. */
  #frozen = false;

  constructor(
    readonly servers: readonly RunningServer[],
    readonly bodies: FanoutBodies,
    readonly prefix: string,
    connections: number,
    capacity: number,
  ) {
    this.ackAt = new Float64Array(capacity).fill(Number.NaN);
    this.acked = new BitSet(capacity);
    const share = Math.max(1, Math.ceil(connections / servers.length));
    this.#agents = servers.map(() => new http.Agent({ keepAlive: true, maxSockets: share }));
  }

  /** Sends `rate` webhooks a second for `seconds`; resolves when the last is sent (not answered). */
  async run(rate: number, seconds: number): Promise<SendStats> {
    const stats: SendStats = {
      first: this.next,
      sent: 0,
      ok: 0,
      statusCounts: {},
      errors: 0,
      latencies: [],
      lags: [],
      startedAt: performance.now(),
      endedAt: Number.NaN,
    };
    const total = Math.round(rate * seconds);
    const t0 = stats.startedAt;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
        while (stats.sent < due) {
          stats.lags.push(now - (t0 + (stats.sent * 1000) / rate));
          this.#send(stats);
          stats.sent++;
        }
        if (stats.sent >= total) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 1);
      tick();
    });
    stats.endedAt = performance.now();
    return stats;
  }

  #send(stats: SendStats): void {
    const index = this.next++;
    const server = this.servers[index % this.servers.length];
    const agent = this.#agents[index % this.#agents.length];
    if (server === undefined || agent === undefined) throw new Error('no server to send to');
    const { body, signature } = this.bodies.body(this.prefix, index);
    const begin = performance.now();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#inFlight.delete(request);
      if (this.#inFlight.size === 0) this.#settled?.();
    };
    const request = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/webhook',
        method: 'POST',
        agent,
        timeout: 30_000,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-signature': signature },
      },
      (response) => {
        const now = performance.now();
        response.resume();
        response.on('close', finish);
        if (this.#frozen) return;
        const status = response.statusCode ?? 0;
        stats.statusCounts[status] = (stats.statusCounts[status] ?? 0) + 1;
        if (status >= 200 && status < 300 && index < this.ackAt.length) {
          this.ackAt[index] = now;
          this.acked.add(index);
          stats.ok++;
          stats.latencies.push(now - begin);
        }
      },
    );
    this.#inFlight.add(request);
    request.on('timeout', () => request.destroy(new Error('no answer in 30 s')));
    request.on('error', () => {
      if (!done && !this.#frozen) stats.errors++;
      finish();
    });
    request.end(body);
  }

  /**
   * Waits up to `ms` for every request sent to be answered or to fail, then gives up on the rest
   * (destroyed, and returned as a count): from then on no answer counts, so what was acknowledged
   * stays put while the subscribers are checked against it.
   */
  async settle(ms: number): Promise<number> {
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#settled = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#frozen = true;
    const unanswered = this.#inFlight.size;
    for (const request of this.#inFlight) request.destroy();
    return unanswered;
  }

  close(): void {
    for (const agent of this.#agents) agent.destroy();
  }
}

interface SendStats {
  /** Index of the first webhook of this part. */
  readonly first: number;
  sent: number;
  ok: number;
  readonly statusCounts: Record<string, number>;
  errors: number;
  readonly latencies: number[];
  /** How late each request left against its schedule (this process busy), ms. */
  readonly lags: number[];
  readonly startedAt: number;
  endedAt: number;
}

export interface FanoutRunOptions {
  readonly servers: readonly RunningServer[];
  /** Subscribers in all, spread evenly over the servers (subscriber i on server i mod n); 0 for none. */
  readonly subscribers: number;
  /** Webhooks a second, spread evenly over the servers. */
  readonly rate: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /** Keep-alive connections the sender may open, in all. */
  readonly connections: number;
  readonly bodies: FanoutBodies;
  /** Every message_id of the run starts with it. */
  readonly prefix: string;
  /** The longest wait, after the last answer, for every subscriber to have every acknowledged message. */
  readonly drainSeconds: number;
  readonly log: (line: string) => void;
}

export interface FanoutResult {
  readonly servers: number;
  readonly subscribers: number;
  readonly rate: number;
  readonly seconds: number;
  /** The measured part (after the warm-up). */
  readonly sent: number;
  readonly ok: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errors: number;
  /** Webhooks (warm-up included) still unanswered 30 s after the last was sent: given up, not counted as acknowledged. */
  readonly unanswered: number;
  /** 2xx answers that arrived within the measured part, per second of it. */
  readonly ackedPerSecond: number;
  readonly webhookP50Ms: number;
  readonly webhookP99Ms: number;
  readonly senderLagP99Ms: number;
  readonly senderLagMaxMs: number;
  /** Webhooks acknowledged over the warm-up and the measured part: what every subscriber must get. */
  readonly acknowledged: number;
  /** Acknowledgement → arrival, for the webhooks sent in the measured part, every subscriber. */
  readonly delay: {
    readonly samples: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    /** Events read before their webhook's answer was (both in this process; counted as 0 ms). */
    readonly beforeAck: number;
    /** The earliest of those, ms before the answer was read; 0 when none. */
    readonly earliestBeforeAckMs: number;
    /** The same over every acknowledged webhook, warm-up included. */
    readonly all: { readonly samples: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
    /** With several servers: messages taken by the subscriber's own server, and by the others. */
    readonly sameServer?: { readonly p50Ms: number; readonly p99Ms: number };
    readonly otherServers?: { readonly p50Ms: number; readonly p99Ms: number };
  };
  readonly delivery: {
    /** Acknowledged messages some subscriber never got, summed over the subscribers. */
    readonly missing: number;
    readonly subscribersMissing: number;
    /** Of those, subscribers that had read up to the end of the feed: a gap, not slowness. */
    readonly gapsAtHead: number;
    readonly duplicates: number;
    readonly outOfOrder: number;
    readonly unreadable: number;
    readonly otherEvents: number;
    /** Events of messages whose webhook was not answered 2xx (stored, answer lost): allowed. */
    readonly unacknowledged: number;
    /** Streams the server ended, and subscriptions it refused, from the warm-up on (then before it). */
    readonly endedByServer: number;
    readonly refused: number;
    readonly endedBeforeLoad: number;
    readonly refusedBeforeLoad: number;
    readonly connectErrors: number;
    /** Seconds after the last answer until every subscriber had everything; null if the drain limit ran out. */
    readonly drainedAfterSeconds: number | null;
    /** The feed's last position after the run. */
    readonly head: number;
  };
  /** Event deliveries read per second over the measured part, all subscribers together. */
  readonly deliveriesPerSecond: number;
  /** At the end of the measured part: acknowledged messages not yet read, slowest subscriber and median. */
  readonly lagAtEnd: { readonly max: number; readonly median: number };
  /**
   * Summed over the servers, MiB: at the start and end of the measured part, the highest sampled
   * (every 250 ms) during it, and the peak since the server started (VmHWM).
   */
  readonly rss: {
    readonly startMiB: number;
    readonly endMiB: number;
    readonly highestMiB: number;
    readonly peakMiB: number;
    readonly timeline: number[];
    /**
     * The highest sampled in the first and in the last third of the measured part: a server that
     * keeps more as events pass grows from one to the other, while garbage collection alone makes
     * RSS rise and fall within each.
     */
    readonly firstThirdHighestMiB: number;
    readonly lastThirdHighestMiB: number;
  };
  /** % of one core over the measured part: the servers' threads, their event loops, this process, and its event loop's utilisation. */
  readonly serverCpuPercent: number;
  readonly eventLoopCpuPercent: number;
  readonly benchCpuPercent: number;
  readonly benchEventLoopUtilization: number;
  /** Share of all the machine's cores no process used over the measured part; null where /proc/stat cannot be read. */
  readonly machineIdlePercent: number | null;
}

/** The feed's last position, read through GET /feed from `after` on. */
async function feedHead(server: RunningServer, after: number): Promise<number> {
  let position = after;
  // A busy server may shed the read (503): try again for a while.
  for (let refused = 0; ; ) {
    const response = await fetch(`${server.baseUrl}/feed?after=${position}&limit=1000`);
    if (response.status !== 200) {
      await response.body?.cancel();
      if (++refused > 20) throw new Error(`GET /feed answered ${response.status}`);
      await sleep(500);
      continue;
    }
    const page = (await response.json()) as { next_after: number };
    if (page.next_after === position) return position;
    position = page.next_after;
  }
}

/**
 * One run: the subscribers connect (from the start of the feed), then webhooks at `rate` for the
 * warm-up and for the measured part, then a wait until every subscriber has every acknowledged
 * message (or the drain limit runs out).
 */
export async function fanoutRun(options: FanoutRunOptions): Promise<FanoutResult> {
  const { servers, rate } = options;
  const capacity = Math.ceil(rate * (options.warmupSeconds + options.durationSeconds)) + 16;
  const sender = new PacedSender(servers, options.bodies, options.prefix, options.connections, capacity);
  const delays = new DelayHistogram();
  // Every acknowledged webhook's, warm-up included: what there is when none of the measured part was answered.
  const delaysAll = new DelayHistogram();
  // With several servers, also apart: messages the subscriber's own server took, and the others'.
  const delaysSame = new DelayHistogram();
  const delaysOther = new DelayHistogram();
  const record = (delay: number, index: number, slot: number): void => {
    delays.add(delay);
    if (servers.length > 1) (index % servers.length === slot ? delaysSame : delaysOther).add(delay);
  };
  /** Webhooks from this index on were sent in the measured part; their delays are the ones kept. */
  let measuredFrom = Number.POSITIVE_INFINITY;
  /** Events read before their answer: index, arrival and server slot, resolved once every answer is in. */
  const early: number[] = [];
  const onMessage: OnMessage = (s, index, arrivedAt) => {
    const acked = sender.ackAt[index] ?? Number.NaN;
    if (Number.isNaN(acked)) early.push(index, arrivedAt, s.slot);
    else {
      delaysAll.add(arrivedAt - acked);
      if (index >= measuredFrom) record(arrivedAt - acked, index, s.slot);
    }
  };
  const prefix = Buffer.from(options.prefix);
  const subscribers = Array.from(
    { length: options.subscribers },
    (_v, i) => new Subscriber(servers[i % servers.length] as RunningServer, i % servers.length, prefix, capacity, onMessage),
  );
  try {
    // A few at a time: each new stream starts with a read of the store (its catch-up), and a
    // thousand at once would queue more reads than the server takes (it ends those streams).
    const opening = performance.now();
    for (let i = 0; i < subscribers.length; i += OPEN_BATCH) {
      const batch = subscribers.slice(i, i + OPEN_BATCH).map((s) => s.open());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`subscribers ${i} to ${i + OPEN_BATCH - 1} got no stream within 30 s`)),
          30_000,
        );
      });
      try {
        await Promise.race([Promise.all(batch), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    if (subscribers.length > 0) {
      await sleep(SETTLE_MS);
      const ended = subscribers.reduce((sum, s) => sum + s.endedByServer + s.refused, 0);
      options.log(
        `  ${subscribers.length} subscribers connected in ${((performance.now() - opening - SETTLE_MS) / 1000).toFixed(1)} s` +
          `${ended > 0 ? `; ${ended} streams ended or refused by the server while connecting (resumed)` : ''}`,
      );
    }
    const endedBeforeLoad = subscribers.reduce((sum, s) => sum + s.endedByServer, 0);
    const refusedBeforeLoad = subscribers.reduce((sum, s) => sum + s.refused, 0);

    if (options.warmupSeconds > 0) await sender.run(rate, options.warmupSeconds);

    const pids = servers.map((s) => s.pid);
    const rssNow = (): number => pids.reduce((sum, pid) => sum + (readMemory(pid)?.rssKiB ?? Number.NaN), 0) / 1024;
    const cpuNow = (): number => pids.reduce((sum, pid) => sum + (readCpuSeconds(pid) ?? Number.NaN), 0);
    const loopNow = (): number => pids.reduce((sum, pid) => sum + (readMainThreadCpuSeconds(pid) ?? Number.NaN), 0);
    const deliveredNow = (): number => subscribers.reduce((sum, s) => sum + s.distinct + s.duplicates, 0);
    const samplers = pids.map((pid) => sampleRss(pid, 250));
    const rssStart = rssNow();
    const cpuStart = cpuNow();
    const loopStart = loopNow();
    const deliveredStart = deliveredNow();
    const benchCpuStart = process.cpuUsage();
    const eluStart = performance.eventLoopUtilization();
    const machineStart = readMachineTicks();
    measuredFrom = sender.next;
    const measured = await sender.run(rate, options.durationSeconds);
    const seconds = (measured.endedAt - measured.startedAt) / 1000;
    const benchCpu = process.cpuUsage(benchCpuStart);
    const elu = performance.eventLoopUtilization(eluStart);
    const machineEnd = readMachineTicks();
    const serverCpu = cpuNow() - cpuStart;
    const loopCpu = loopNow() - loopStart;
    const deliveries = deliveredNow() - deliveredStart;
    const rssEnd = rssNow();
    const ackedByEnd = countAcked(sender.ackAt, measured.endedAt);
    const lags = subscribers.map((s) => Math.max(0, ackedByEnd - s.distinct));
    const sampled = samplers.map((s) => s.stop());
    const peakMiB = sampled.reduce((sum, s) => sum + s.peakKiB, 0) / 1024;
    const highestMiB = Math.max(
      rssEnd,
      sampled.reduce((sum, s) => sum + s.samples.reduce((max, v) => Math.max(max, v), 0), 0) / 1024,
    );
    // The servers' samples summed, sample by sample (they were taken together, every 250 ms).
    const summed = Array.from({ length: Math.min(...sampled.map((x) => x.samples.length)) }, (_v, i) =>
      sampled.reduce((sum, x) => sum + (x.samples[i] ?? 0), 0),
    );
    const third = Math.max(1, Math.floor(summed.length / 3));
    const highestOf = (part: number[]): number => part.reduce((max, v) => Math.max(max, v), 0) / 1024;
    const firstThirdHighestMiB = highestOf(summed.slice(0, third));
    const lastThirdHighestMiB = highestOf(summed.slice(-third));
    const timeline = sampled[0]?.samples ?? [];
    const rssTimeline = Array.from({ length: 10 }, (_v, i) =>
      Math.round((timeline[Math.floor(((i + 1) * (timeline.length - 1)) / 10)] ?? 0) / 1024),
    );

    // Every answer (or as many as come within the limit), then every acknowledged message at every subscriber.
    const unanswered = await sender.settle(ANSWER_WAIT_MS);
    const acknowledged = sender.acked;
    const ackedCount = acknowledged.count();
    const settledAt = performance.now();
    let drainedAfterSeconds: number | null = null;
    const complete = (s: Subscriber): boolean => s.distinct >= ackedCount && countAndNot(acknowledged, s.received) === 0;
    for (;;) {
      if (subscribers.every(complete)) {
        drainedAfterSeconds = (performance.now() - settledAt) / 1000;
        break;
      }
      if (performance.now() - settledAt > options.drainSeconds * 1000) break;
      await sleep(100);
    }
    // A moment more, for anything that would arrive twice.
    if (subscribers.length > 0) await sleep(500);

    let beforeAck = 0;
    let earliestBeforeAckMs = 0;
    let unacknowledged = 0;
    for (let k = 0; k < early.length; k += 3) {
      const index = early[k] ?? -1;
      const acked = sender.ackAt[index] ?? Number.NaN;
      if (!Number.isNaN(acked)) {
        const delay = (early[k + 1] ?? 0) - acked;
        delaysAll.add(delay);
        if (index < measuredFrom) continue;
        beforeAck++;
        earliestBeforeAckMs = Math.max(earliestBeforeAckMs, -delay);
        record(delay, index, early[k + 2] ?? -1);
      }
    }
    // The streams end here, so what each subscriber holds is final.
    for (const s of subscribers) s.close();
    const head = await feedHead(servers[0] as RunningServer, Math.max(0, ...subscribers.map((s) => s.lastPosition)));
    let missing = 0;
    let subscribersMissing = 0;
    let gapsAtHead = 0;
    for (const s of subscribers) {
      const gone = countAndNot(acknowledged, s.received);
      missing += gone;
      if (gone > 0) {
        subscribersMissing++;
        if (s.lastPosition >= head) gapsAtHead++;
      }
      unacknowledged += countAndNot(s.received, acknowledged);
    }
    const sum = (pick: (s: Subscriber) => number): number => subscribers.reduce((total, s) => total + pick(s), 0);
    const lagsSorted = lags.sort((a, b) => a - b);
    return {
      servers: servers.length,
      subscribers: subscribers.length,
      rate,
      seconds,
      sent: measured.sent,
      ok: measured.ok,
      statusCounts: measured.statusCounts,
      errors: measured.errors,
      unanswered,
      ackedPerSecond: countAckedBetween(sender.ackAt, measured.startedAt, measured.endedAt) / seconds,
      webhookP50Ms: percentile(measured.latencies, 0.5),
      webhookP99Ms: percentile(measured.latencies, 0.99),
      senderLagP99Ms: percentile(measured.lags, 0.99),
      senderLagMaxMs: measured.lags.reduce((max, v) => Math.max(max, v), 0),
      acknowledged: ackedCount,
      delay: {
        samples: delays.count,
        p50Ms: delays.percentile(0.5),
        p99Ms: delays.percentile(0.99),
        maxMs: delays.count > 0 ? delays.max : Number.NaN,
        all: {
          samples: delaysAll.count,
          p50Ms: delaysAll.percentile(0.5),
          p99Ms: delaysAll.percentile(0.99),
          maxMs: delaysAll.count > 0 ? delaysAll.max : Number.NaN,
        },
        ...(servers.length > 1
          ? {
              sameServer: { p50Ms: delaysSame.percentile(0.5), p99Ms: delaysSame.percentile(0.99) },
              otherServers: { p50Ms: delaysOther.percentile(0.5), p99Ms: delaysOther.percentile(0.99) },
            }
          : {}),
        beforeAck,
        earliestBeforeAckMs,
      },
      delivery: {
        missing,
        subscribersMissing,
        gapsAtHead,
        duplicates: sum((s) => s.duplicates),
        outOfOrder: sum((s) => s.outOfOrder),
        unreadable: sum((s) => s.unreadable),
        otherEvents: sum((s) => s.otherEvents),
        unacknowledged,
        endedByServer: sum((s) => s.endedByServer) - endedBeforeLoad,
        refused: sum((s) => s.refused) - refusedBeforeLoad,
        endedBeforeLoad,
        refusedBeforeLoad,
        connectErrors: sum((s) => s.connectErrors),
        drainedAfterSeconds,
        head,
      },
      deliveriesPerSecond: deliveries / seconds,
      lagAtEnd: {
        max: lagsSorted.at(-1) ?? 0,
        median: lagsSorted[Math.floor(lagsSorted.length / 2)] ?? 0,
      },
      rss: {
        startMiB: rssStart,
        endMiB: rssEnd,
        highestMiB,
        peakMiB,
        timeline: rssTimeline,
        firstThirdHighestMiB,
        lastThirdHighestMiB,
      },
      serverCpuPercent: (serverCpu / seconds) * 100,
      eventLoopCpuPercent: (loopCpu / seconds) * 100,
      benchCpuPercent: ((benchCpu.user + benchCpu.system) / 1e6 / seconds) * 100,
      benchEventLoopUtilization: elu.utilization,
      machineIdlePercent:
        machineStart !== null && machineEnd !== null && machineEnd.total > machineStart.total
          ? ((machineEnd.idle - machineStart.idle) / (machineEnd.total - machineStart.total)) * 100
          : null,
    };
  } finally {
    for (const s of subscribers) s.close();
    sender.close();
  }
}

function countAcked(ackAt: Float64Array, by: number): number {
  let n = 0;
  for (const t of ackAt) if (t <= by) n++;
  return n;
}

function countAckedBetween(ackAt: Float64Array, from: number, to: number): number {
  let n = 0;
  for (const t of ackAt) if (t >= from && t <= to) n++;
  return n;
}
