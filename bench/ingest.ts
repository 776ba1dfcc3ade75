// Ingest throughput: autocannon drives POST /webhook on one or more running servers with distinct,
// validly signed messages, and we keep the precise latency of every 2xx response.

import { createHmac } from 'node:crypto';
import autocannon from 'autocannon';
import type { RunningServer } from './server.js';
import { percentile } from './stats.js';
import { SyntheticMessages } from './synthetic.js';

interface SignedBody {
  readonly body: Buffer;
  readonly signature: string;
}

interface WebhookPayload {
  readonly message_id: string;
  readonly from: string;
  readonly to: string;
  readonly ts: string;
  readonly text: string | null;
}

function hmacHex(secret: string, body: Buffer): string {
  // Computed here with node:crypto, independently of src/, as a real sender would.
  return createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * Signed webhook bodies, each with its own message_id, made before the load starts so the load
 * generator spends its CPU on sending. Past the end of the pool a body is made and signed on the
 * spot (counted in `signedLate`), so a faster server than expected never sees a duplicate.
 */
export class SignedBodyPool {
  readonly #secret: string;
  readonly #payloads: WebhookPayload[] = [];
  readonly #signed: SignedBody[] = [];
  signedLate = 0;

  constructor(secret: string, size: number, seed: number) {
    this.#secret = secret;
    // Plain core-form messages, as the bodies have always been, so that ingest figures compare across versions.
    const synthetic = new SyntheticMessages({
      count: size,
      senders: 2000,
      seed,
      until: new Date(),
      batchSize: 10_000,
      plain: true,
    });
    for (const batch of synthetic.batches()) {
      for (const m of batch) {
        const payload: WebhookPayload = { message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text };
        const body = Buffer.from(JSON.stringify(payload));
        this.#payloads.push(payload);
        this.#signed.push({ body, signature: hmacHex(secret, body) });
      }
    }
  }

  get size(): number {
    return this.#signed.length;
  }

  /** The message_id webhook `index` carries (as get(index) makes it), without signing anything. */
  messageId(index: number): string {
    const template = this.#payloads[index % this.#payloads.length];
    if (template === undefined) throw new Error('the signed body pool is empty');
    return index < this.#payloads.length ? template.message_id : `${template.message_id}.r${index}`;
  }

  get(index: number): SignedBody {
    const ready = this.#signed[index];
    if (ready !== undefined) return ready;
    this.signedLate++;
    const template = this.#payloads[index % this.#payloads.length];
    if (template === undefined) throw new Error('the signed body pool is empty');
    const body = Buffer.from(JSON.stringify({ ...template, message_id: `${template.message_id}.r${index}` }));
    return { body, signature: hmacHex(this.#secret, body) };
  }
}

export interface LoadOptions {
  readonly connections: number;
  readonly durationSeconds: number;
  /** Pool index of the first request; every request takes the next one. */
  readonly firstIndex: number;
  /** Ends the load early when aborted (the result covers what ran). */
  readonly signal?: AbortSignal;
  /** Called for every answer, with the pool index of the webhook it answers (see Answer). */
  readonly onAnswer?: (answer: Answer) => void;
}

/** One answer of the load, for a caller that follows it over time. */
export interface Answer {
  /** Pool index of the webhook answered: its message_id is the pool's. */
  readonly index: number;
  readonly status: number;
  /** Date.now() when the answer was read: comparable with the server's log times. */
  readonly at: number;
  /** From the moment its request was built, just before it was written, to the answer. */
  readonly latencyMs: number;
}

/** What the load keeps about the request in flight on a connection (autocannon's per-connection context). */
interface InFlight {
  index?: number;
  builtAt?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly timeouts: number;
  readonly seconds: number;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Pool index after the last request built. */
  readonly nextIndex: number;
}

function runOne(
  url: string,
  connections: number,
  durationSeconds: number,
  setupRequest: autocannon.Request['setupRequest'],
  latencies: number[],
  onResponse: autocannon.Request['onResponse'],
  signal: AbortSignal | undefined,
) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: durationSeconds,
        timeout: 30,
        requests: [{ method: 'POST', path: '/webhook', setupRequest, ...(onResponse ? { onResponse } : {}) }],
      },
      (error: unknown, result: autocannon.Result) => {
        signal?.removeEventListener('abort', stop);
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        else resolve(result);
      },
    );
    function stop(): void {
      instance.stop();
    }
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      // autocannon's own histogram has whole-millisecond buckets; keep the exact times instead.
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/** Loads the servers together for `durationSeconds`, spreading the connections over them. */
export async function loadWebhooks(
  servers: readonly RunningServer[],
  pool: SignedBodyPool,
  options: LoadOptions,
): Promise<LoadResult> {
  let index = options.firstIndex;
  const { onAnswer } = options;
  // With one request in the list, autocannon gives each request a fresh context, built with it
  // and handed back with its answer (one request in flight per connection): where the index rides.
  const setupRequest = (request: autocannon.Request, context: object): autocannon.Request => {
    if (onAnswer !== undefined) {
      const inFlight = context as InFlight;
      inFlight.index = index;
      inFlight.builtAt = performance.now();
    }
    const { body, signature } = pool.get(index++);
    return { ...request, body, headers: { 'content-type': 'application/json', 'x-signature': signature } };
  };
  const onResponse =
    onAnswer === undefined
      ? undefined
      : (status: number, _body: string, context: object): void => {
          const { index: answered, builtAt } = context as InFlight;
          if (answered === undefined || builtAt === undefined) return;
          onAnswer({ index: answered, status, at: Date.now(), latencyMs: performance.now() - builtAt });
        };
  const latencies: number[] = [];
  const share = Math.floor(options.connections / servers.length);
  const results = await Promise.all(
    servers.map((server, i) =>
      runOne(
        server.baseUrl,
        Math.max(1, share + (i < options.connections % servers.length ? 1 : 0)),
        options.durationSeconds,
        setupRequest,
        latencies,
        onResponse,
        options.signal,
      ),
    ),
  );
  const statusCounts: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let seconds = 0;
  for (const result of results) {
    ok += result['2xx'];
    non2xx += result.non2xx;
    errors += result.errors;
    timeouts += result.timeouts;
    seconds = Math.max(seconds, result.duration);
    for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) {
      statusCounts[status] = (statusCounts[status] ?? 0) + (count ?? 0);
    }
  }
  return {
    requests: ok + non2xx,
    ok,
    non2xx,
    statusCounts,
    errors,
    timeouts,
    seconds,
    reqPerSec: seconds > 0 ? ok / seconds : 0,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    nextIndex: index,
  };
}
