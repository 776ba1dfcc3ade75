// the contract end to end: on SIGTERM or SIGINT the server stops accepting, finishes the requests in
// flight (answering them 200 once stored), closes the database and exits 0.

import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { hmacHex } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { countBy, listAllMessageIds, message, metricValue, postWebhook, rawRequest, webhookHead } from './client.js';

const SECRET = 'e2e-shutdown-secret';

/**
 * A webhook sent in two steps: headers first, with `Expect: 100-continue`, then the body only when
 * `finish()` is called. The server sends 100 Continue as it takes the request in (Node writes it
 * just before routing), so once `taken` resolves the request is in flight on the server, whatever
 * happens next. (fetch cannot show a 100 Continue, hence node:http here.)
 */
function slowWebhook(port: number, agent: Agent | false, id: string) {
  const raw = Buffer.from(JSON.stringify(message(id)));
  const half = Math.floor(raw.length / 2);
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/webhook',
    agent,
    headers: {
      'content-type': 'application/json',
      'content-length': String(raw.length),
      'x-signature': hmacHex(SECRET, raw),
      'x-request-id': `slow-${id}`,
      expect: '100-continue',
    },
  });
  const taken = new Promise<void>((resolve, reject) => {
    req.once('continue', () => {
      req.write(raw.subarray(0, half));
      resolve();
    });
    // Either of these first means the request was not taken in; fail now rather than at the test timeout.
    req.once('response', (res) => reject(new Error(`${id} was answered ${res.statusCode} before 100 Continue`)));
    req.once('error', reject);
  });
  const response = new Promise<{ status: number | undefined; json: unknown }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
  });
  req.flushHeaders();
  return { id, taken, finish: () => req.end(raw.subarray(half)), response };
}

/** True once a TCP connection to the port is refused: the listener is closed. */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const DOCKER_STOP_GRACE_MS = 10_000;

/** The exit code, or 'still running' if the process has not exited within `ms`. */
async function exitWithin(server: RunningServer, ms: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), ms);
  });
  try {
    return await Promise.race([server.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('graceful shutdown', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    for (const server of servers.splice(0)) await server.cleanup();
  });
  afterAll(() => tmp.cleanup());

  const start = async (dbPath: string, env: Record<string, string> = {}): Promise<RunningServer> => {
    const server = await startServer({ env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${dbPath}`, ...env } });
    servers.push(server);
    return server;
  };

  /** Three slow webhooks taken in by the server, then `signal`; the listener closes, and they are released. */
  async function signalWithRequestsInFlight(server: RunningServer, signal: NodeJS.Signals, agent: Agent | false) {
    const slow = ['x', 'y', 'z'].map((s) => slowWebhook(server.port, agent, `${signal}-slow-${s}`));
    await Promise.all(slow.map((s) => s.taken));
    const linesBeforeSignal = server.stdout.length;
    server.signal(signal);
    // Stops accepting: new connections are refused while the slow requests are still open.
    await waitFor('the listener to close', () => connectionRefused(server.port));
    for (const s of slow) s.finish();
    const answers = await Promise.all(slow.map((s) => s.response));
    return { ids: slow.map((s) => s.id), answers, linesBeforeSignal };
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: in-flight webhooks are answered 200 and stored, the process exits 0 and says so',
    async (signal) => {
      const dbPath = path.join(tmp.dir, `${signal}.db`);
      const server = await start(dbPath);

      const before = ['a', 'b', 'c'].map((s) => `${signal}-before-${s}`);
      for (const id of before) expect((await postWebhook(server.baseUrl, SECRET, message(id))).status).toBe(200);

      // agent false: each slow request on its own connection, closed after its response.
      const { ids, answers, linesBeforeSignal } = await signalWithRequestsInFlight(server, signal, false);
      for (const answer of answers) expect(answer).toEqual({ status: 200, json: { status: 'ok' } });
      expect(await server.exited).toBe(0);

      // The log says it shut down, and says it last; every line is still JSON.
      const lines = jsonLines(server.stdout);
      const after = lines.slice(linesBeforeSignal);
      for (const id of ids) {
        expect(after.filter((line) => line.request_id === `slow-${id}`)).toMatchObject([{ status: 200, result: 'created' }]);
      }
      const last = lines.at(-1);
      expect(last?.level).toBe('INFO');
      expect(String(last?.msg)).toMatch(/stop|shut/i);
      expect(after.some((line) => /shut/i.test(String(line.msg)))).toBe(true);
      expect(server.stderr.join('\n')).toBe('');

      // A new process on the same file sees every acknowledged message, once.
      const restarted = await start(dbPath);
      const counts = countBy(await listAllMessageIds(restarted.baseUrl));
      expect(Object.fromEntries(counts)).toEqual(Object.fromEntries([...before, ...ids].map((id) => [id, 1])));
    },
  );

  it('SIGTERM: exits once in-flight requests are answered, without waiting for kept-alive connections', async () => {
    const server = await start(path.join(tmp.dir, 'keep-alive.db'));
    // A keep-alive agent, like a sender's pooled HTTP client: it keeps its connections open after each response.
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    const { answers } = await signalWithRequestsInFlight(server, 'SIGTERM', agent);
    for (const answer of answers) expect(answer).toEqual({ status: 200, json: { status: 'ok' } });

    // Nothing is left to finish, so the process exits 0 rather than waiting for those connections
    // to time out (Fastify's default keepAliveTimeout is 72 s). The bound is `docker stop`'s grace
    // period, after which the process would be killed instead of exiting 0.
    expect(await exitWithin(server, DOCKER_STOP_GRACE_MS)).toBe(0);
  });

  it('SIGTERM with a client sending its body slowly: after SHUTDOWN_GRACE_MS it is answered 503 and the process exits 0', async () => {
    const dbPath = path.join(tmp.dir, 'grace.db');
    const server = await start(dbPath, { SHUTDOWN_GRACE_MS: '1000', REQUEST_TIMEOUT_MS: '600000' });
    // A request in flight that finishes normally during the grace period is still committed and answered.
    const inFlight = slowWebhook(server.port, false, 'grace-in-flight');
    await inFlight.taken;
    const bodyBytesInFlight = () => metricValue(server.baseUrl, 'http_request_bodies_in_flight_bytes');
    const before = await bodyBytesInFlight();
    // 3 of 100 body bytes, then nothing: before the grace period this held the process open for as
    // long as the client liked (the request timeout is pushed out of the way here).
    const slow = rawRequest(server.port, `${webhookHead(100)}{"m`);
    const answered = slow.closed;
    await waitFor('the slow body to be in flight', async () => (await bodyBytesInFlight()) === before + 100);

    server.signal('SIGTERM');
    await waitFor('the listener to close', () => connectionRefused(server.port));
    inFlight.finish();
    expect(await inFlight.response).toEqual({ status: 200, json: { status: 'ok' } });

    // Generous bound: before the grace period existed the process never exited at all.
    expect(await exitWithin(server, DOCKER_STOP_GRACE_MS)).toBe(0);
    const response = await answered;
    expect(response).toMatch(/^HTTP\/1\.1 503 /);
    expect(response).toContain('{"detail":"shutting down; retry later"}');
    const lines = jsonLines(server.stdout);
    expect(lines.some((l) => /grace period over/.test(String(l.msg)) && l.cut_off === 1)).toBe(true);
    expect(lines.filter((l) => l.path === '/webhook' && l.status === 503)).toMatchObject([{ result: 'unavailable' }]);

    const restarted = await start(dbPath);
    expect(await listAllMessageIds(restarted.baseUrl)).toEqual(['grace-in-flight']);
  });
});
