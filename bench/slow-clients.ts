// Slow-client resistance: hundreds of connections that each declare a large webhook body and then
// trickle it, while ordinary signed webhooks keep arriving and the server's memory is sampled.

import http from 'node:http';
import { connect, type Socket } from 'node:net';
import type { SignedBodyPool } from './ingest.js';
import { readMemory } from './server.js';
import { percentile } from './stats.js';

export interface AttackOptions {
  readonly port: number;
  /** The serving node process, whose VmRSS is sampled. */
  readonly pid: number;
  readonly connections: number;
  /** Content-Length every attacking request declares. */
  readonly declaredBytes: number;
  /** Body bytes each attacking connection writes per tick. */
  readonly chunkBytes: number;
  readonly tickMs: number;
  readonly seconds: number;
  /** Ordinary signed webhooks sent during the attack, each on a connection of its own. */
  readonly webhooksPerSecond: number;
  readonly pool: SignedBodyPool;
  /** Pool index of the first ordinary webhook. */
  readonly firstIndex: number;
  readonly rssSampleMs: number;
}

export interface AttackResult {
  /** VmRSS before the attack, after a few webhooks and a quiet second. */
  readonly idleRssMiB: number;
  /** The largest VmRSS sampled during the attack. */
  readonly peakRssMiB: number;
  /** VmRSS two seconds after the attacking connections were closed. */
  readonly afterRssMiB: number;
  /** VmRSS at ten even points of the attack, MiB. */
  readonly rssTimeline: readonly number[];
  /** How the attacking connections were answered: status → count. */
  readonly answered: Readonly<Record<string, number>>;
  /** Attacking connections the server closed without an answer. */
  readonly closedUnanswered: number;
  /** Attacking connections neither answered nor closed when the attack ended. */
  readonly stillOpen: number;
  /** Attacking connections that could not connect at all. */
  readonly connectFailed: number;
  /** Body bytes the attackers got written to their sockets, in MiB. */
  readonly bodyMiBSent: number;
  readonly webhooks: {
    readonly sent: number;
    readonly statusCounts: Readonly<Record<string, number>>;
    /** Sent but never answered (connection error or 10 s without an answer). */
    readonly errors: number;
    readonly p50Ms: number;
    readonly maxMs: number;
    /** Seconds into the attack of the first and last ordinary webhook not answered 200; null if none. */
    readonly firstRefusedAt: number | null;
    readonly lastRefusedAt: number | null;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const MIB = 1024 * 1024;

function rssMiB(pid: number): number {
  return (readMemory(pid)?.rssKiB ?? Number.NaN) / 1024;
}

interface Attacker {
  readonly socket: Socket;
  connected: boolean;
  connectFailed: boolean;
  status: number | null;
  closed: boolean;
  written: number;
  /** The first bytes of the answer, until its status line is complete. */
  head: string;
}

function openAttacker(options: AttackOptions): Attacker {
  const socket = connect(options.port, '127.0.0.1');
  const attacker: Attacker = {
    socket,
    connected: false,
    connectFailed: false,
    status: null,
    closed: false,
    written: 0,
    head: '',
  };
  socket.setNoDelay(true);
  socket.on('connect', () => {
    attacker.connected = true;
    // A syntactically fine webhook whose signature is never checked: the body never completes.
    socket.write(
      `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${options.declaredBytes}\r\nX-Signature: ${'0'.repeat(64)}\r\n\r\n`,
    );
  });
  socket.on('data', (chunk: Buffer) => {
    if (attacker.status !== null) return;
    attacker.head += chunk.toString('latin1');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(attacker.head);
    if (match) attacker.status = Number(match[1]);
  });
  socket.on('error', () => {
    if (!attacker.connected) attacker.connectFailed = true;
  });
  socket.on('close', () => {
    attacker.closed = true;
  });
  return attacker;
}

interface WebhookAnswer {
  readonly status: number | null;
  readonly ms: number;
  readonly at: number;
}

/** One signed webhook on a fresh connection (a sender that has no keep-alive connection to reuse). */
function postWebhook(port: number, body: Buffer, signature: string, startedAt: number): Promise<WebhookAnswer> {
  return new Promise((resolve) => {
    const begin = performance.now();
    const at = (begin - startedAt) / 1000;
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhook',
        method: 'POST',
        agent: false,
        timeout: 10_000,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-signature': signature },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? null, ms: performance.now() - begin, at }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer in 10 s')));
    request.on('error', () => resolve({ status: null, ms: performance.now() - begin, at }));
    request.end(body);
  });
}

export async function slowClientAttack(options: AttackOptions): Promise<AttackResult> {
  let index = options.firstIndex;
  const webhook = (startedAt: number): Promise<WebhookAnswer> => {
    const { body, signature } = options.pool.get(index++);
    return postWebhook(options.port, body, signature, startedAt);
  };

  // Idle: the code paths of an ordinary webhook warmed up, then a quiet second.
  for (let i = 0; i < 5; i++) await webhook(performance.now());
  await sleep(1000);
  const idleRssMiB = rssMiB(options.pid);

  const startedAt = performance.now();
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMiB(options.pid)), options.rssSampleMs);
  const attackers = Array.from({ length: options.connections }, () => openAttacker(options));
  const chunk = Buffer.alloc(options.chunkBytes, 'a');
  const trickle = setInterval(() => {
    for (const a of attackers) {
      const left = options.declaredBytes - a.written;
      // Past an answer the server reads no more; a full socket buffer means it is not reading now.
      if (!a.connected || a.closed || a.status !== null || left <= 1 || a.socket.writableNeedDrain) continue;
      // One byte is always held back, so no body ever completes.
      const piece = left - 1 < chunk.length ? chunk.subarray(0, left - 1) : chunk;
      a.socket.write(piece);
      a.written += piece.length;
    }
  }, options.tickMs);

  const webhooks: Promise<WebhookAnswer>[] = [];
  const sender = setInterval(() => webhooks.push(webhook(startedAt)), 1000 / options.webhooksPerSecond);
  await sleep(options.seconds * 1000);
  clearInterval(sender);
  clearInterval(trickle);
  clearInterval(sampler);
  samples.push(rssMiB(options.pid));

  const answered: Record<string, number> = {};
  let closedUnanswered = 0;
  let stillOpen = 0;
  let connectFailed = 0;
  for (const a of attackers) {
    if (a.connectFailed) connectFailed++;
    else if (a.status !== null) answered[a.status] = (answered[a.status] ?? 0) + 1;
    else if (a.closed) closedUnanswered++;
    else stillOpen++;
  }
  const bodyMiBSent = attackers.reduce((sum, a) => sum + a.written, 0) / MIB;
  for (const a of attackers) a.socket.destroy();
  const answers = await Promise.all(webhooks);
  await sleep(2000);
  const afterRssMiB = rssMiB(options.pid);

  const statusCounts: Record<string, number> = {};
  const refusedAt: number[] = [];
  for (const answer of answers) {
    if (answer.status !== null) statusCounts[answer.status] = (statusCounts[answer.status] ?? 0) + 1;
    if (answer.status !== 200) refusedAt.push(answer.at);
  }
  const okTimes = answers.filter((a) => a.status === 200).map((a) => a.ms);
  const finite = samples.filter((s) => Number.isFinite(s));
  return {
    idleRssMiB,
    peakRssMiB: finite.length > 0 ? Math.max(...finite) : Number.NaN,
    afterRssMiB,
    rssTimeline: Array.from({ length: 10 }, (_v, i) =>
      Math.round(finite[Math.floor(((i + 1) * (finite.length - 1)) / 10)] ?? Number.NaN),
    ),
    answered,
    closedUnanswered,
    stillOpen,
    connectFailed,
    bodyMiBSent,
    webhooks: {
      sent: answers.length,
      statusCounts,
      errors: answers.filter((a) => a.status === null).length,
      p50Ms: percentile(okTimes, 0.5),
      maxMs: okTimes.length > 0 ? Math.max(...okTimes) : Number.NaN,
      firstRefusedAt: refusedAt.length > 0 ? Math.min(...refusedAt) : null,
      lastRefusedAt: refusedAt.length > 0 ? Math.max(...refusedAt) : null,
    },
  };
}
