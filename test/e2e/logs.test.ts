// the contract end to end: stdout of the real process is the log, one JSON line per request.

import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { getJson, message, postWebhook } from './client.js';

// Distinctive, so that finding it anywhere in the output can only mean it was logged.
const SECRET = 'e2e-logs-secret-Qx7vK2pL9w';
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

type LogLine = Record<string, unknown>;

const linesFor = (server: RunningServer, requestId: string): LogLine[] =>
  jsonLines(server.stdout).filter((line) => line.request_id === requestId);

/** Waits until the request's line has been written: it is written when the response completes, which may be after the client has it. */
async function requestLine(server: RunningServer, requestId: string): Promise<LogLine> {
  const lines = await waitFor(`the log line of request ${requestId}`, () => {
    const found = linesFor(server, requestId);
    return found.length > 0 ? found : undefined;
  });
  expect(lines).toHaveLength(1);
  return lines[0] as LogLine;
}

function expectRequestLine(line: LogLine, requestId: string, method: string, status: number): void {
  expect(line.request_id).toBe(requestId);
  expect(line.method).toBe(method);
  expect(line.status).toBe(status);
  expect(typeof line.ts).toBe('string');
  expect(String(line.ts)).toMatch(ISO_8601);
  expect(Number.isNaN(Date.parse(String(line.ts)))).toBe(false);
  expect(typeof line.level).toBe('string');
  expect(typeof line.path).toBe('string');
  expect(typeof line.latency_ms).toBe('number');
  expect(Number(line.latency_ms)).toBeGreaterThanOrEqual(0);
}

describe('JSON log lines on stdout', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.cleanup();
  });
  afterAll(() => tmp.cleanup());

  const start = async (env: Record<string, string>, readiness: 'log' | 'probe' = 'log'): Promise<RunningServer> => {
    const server = await startServer({ env: { WEBHOOK_SECRET: SECRET, ...env }, readiness });
    servers.push(server);
    return server;
  };

  describe('at the default level', () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer({
        env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${path.join(tmp.dir, 'logs.db')}` },
      });
    });
    afterAll(async () => {
      await server.cleanup();
    });

    it('writes one complete JSON line per request, matched by X-Request-ID', async () => {
      const body = JSON.stringify(message('log-m1'));
      const sent: { id: string; method: string; path: RegExp; status: number }[] = [];
      const expectEcho = (id: string, echoed: string | null) => expect(echoed).toBe(id);

      let r = await postWebhook(server.baseUrl, SECRET, body, { 'x-request-id': 'log-created' });
      expect(r.status).toBe(200);
      expectEcho('log-created', r.requestId);
      sent.push({ id: 'log-created', method: 'POST', path: /^\/webhook$/, status: 200 });

      r = await postWebhook(server.baseUrl, SECRET, body, { 'x-request-id': 'log-duplicate' });
      expect(r.status).toBe(200);
      expectEcho('log-duplicate', r.requestId);
      sent.push({ id: 'log-duplicate', method: 'POST', path: /^\/webhook$/, status: 200 });

      r = await postWebhook(server.baseUrl, 'not-the-secret', message('log-forged'), { 'x-request-id': 'log-bad-signature' });
      expect(r.status).toBe(401);
      expectEcho('log-bad-signature', r.requestId);
      sent.push({ id: 'log-bad-signature', method: 'POST', path: /^\/webhook$/, status: 401 });

      r = await postWebhook(
        server.baseUrl,
        SECRET,
        { message_id: 'log-invalid', to: '+1', ts: 'yesterday' },
        { 'x-request-id': 'log-invalid' },
      );
      expect(r.status).toBe(422);
      expectEcho('log-invalid', r.requestId);
      sent.push({ id: 'log-invalid', method: 'POST', path: /^\/webhook$/, status: 422 });

      for (const [id, url, status] of [
        ['log-messages', '/messages?limit=5', 200],
        ['log-stats', '/stats', 200],
        ['log-metrics', '/metrics', 200],
        ['log-not-found', '/no/such/route', 404],
      ] as const) {
        const response = await fetch(`${server.baseUrl}${url}`, { headers: { 'x-request-id': id } });
        await response.arrayBuffer();
        expect(response.status).toBe(status);
        expectEcho(id, response.headers.get('x-request-id'));
        const routePath = url.split('?', 1)[0] ?? url;
        sent.push({ id, method: 'GET', path: new RegExp(`^${routePath}(\\?|$)`), status });
      }

      const lines = new Map<string, LogLine>();
      for (const request of sent) {
        const line = await requestLine(server, request.id);
        expectRequestLine(line, request.id, request.method, request.status);
        expect(String(line.path)).toMatch(request.path);
        lines.set(request.id, line);
      }

      expect(lines.get('log-created')).toMatchObject({ level: 'INFO', message_id: 'log-m1', dup: false, result: 'created' });
      expect(lines.get('log-duplicate')).toMatchObject({ message_id: 'log-m1', dup: true, result: 'duplicate' });
      // A forged signature is an error-level event.
      expect(lines.get('log-bad-signature')).toMatchObject({ level: 'ERROR', dup: false, result: 'invalid_signature' });
      // The signature was good, so the body was parsed and its message_id is known.
      expect(lines.get('log-invalid')).toMatchObject({ message_id: 'log-invalid', dup: false, result: 'validation_error' });
      expect(lines.get('log-messages')).toMatchObject({ level: 'INFO' });

      // Still exactly one line each now that every request has been logged (no late second line).
      for (const request of sent) expect(linesFor(server, request.id), request.id).toHaveLength(1);

      // Every line on stdout, not just the request lines, is a JSON object.
      expect(() => jsonLines(server.stdout)).not.toThrow();
      const all = jsonLines(server.stdout);
      for (const line of all) {
        expect(typeof line.level).toBe('string');
        expect(String(line.ts)).toMatch(ISO_8601);
      }
      expect(all.filter((line) => line.msg === 'webhook-inbox started')).toHaveLength(1);
      expect(all.find((line) => line.msg === 'webhook-inbox started')).toMatchObject({ level: 'INFO' });
    });

    it('gives a request without X-Request-ID a fresh id, echoed in the response and used in its line', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i += 1) {
        const response = await fetch(`${server.baseUrl}/health/live`);
        await response.arrayBuffer();
        const id = response.headers.get('x-request-id');
        expect(id).toEqual(expect.any(String));
        if (id === null) return;
        ids.push(id);
        const line = await requestLine(server, id);
        expectRequestLine(line, id, 'GET', 200);
        expect(line.path).toBe('/health/live');
      }
      expect(new Set(ids).size).toBe(2);
    });

    it('never writes the secret to stdout or stderr', async () => {
      // Every kind of request that touches the secret, then a last line to know the output has caught up.
      await postWebhook(server.baseUrl, SECRET, message('log-secret-check'), { 'x-request-id': 'log-secret-1' });
      await postWebhook(server.baseUrl, 'wrong', message('log-secret-check-2'), { 'x-request-id': 'log-secret-2' });
      await getJson(`${server.baseUrl}/health/ready`, { 'x-request-id': 'log-secret-3' });
      await requestLine(server, 'log-secret-3');
      expect(server.stdout.length).toBeGreaterThan(0);
      expect(server.stdout.join('\n')).not.toContain(SECRET);
      expect(server.stderr.join('\n')).not.toContain(SECRET);
    });
  });

  it('LOG_LEVEL=ERROR drops info request lines but keeps the invalid-signature line', async () => {
    // The start-up line is info too, so the port is found by probing instead.
    const server = await start({ DATABASE_URL: `sqlite:///${path.join(tmp.dir, 'quiet.db')}`, LOG_LEVEL: 'ERROR' }, 'probe');

    const created = await postWebhook(server.baseUrl, SECRET, message('quiet-m1'), { 'x-request-id': 'quiet-created' });
    expect(created.status).toBe(200);
    const listed = await getJson(`${server.baseUrl}/messages`, { 'x-request-id': 'quiet-messages' });
    expect(listed.status).toBe(200);
    const forged = await postWebhook(server.baseUrl, 'not-the-secret', message('quiet-m2'), { 'x-request-id': 'quiet-forged' });
    expect(forged.status).toBe(401);

    // Lines are written in order, so once the last request's line is out the earlier ones would be too.
    const line = await requestLine(server, 'quiet-forged');
    expectRequestLine(line, 'quiet-forged', 'POST', 401);
    expect(line).toMatchObject({ level: 'ERROR', result: 'invalid_signature' });
    expect(linesFor(server, 'quiet-created')).toEqual([]);
    expect(linesFor(server, 'quiet-messages')).toEqual([]);
    const levels = new Set(jsonLines(server.stdout).map((l) => l.level));
    expect(levels.has('INFO')).toBe(false);
    expect(levels.has('DEBUG')).toBe(false);
    expect(server.stdout.join('\n')).not.toContain(SECRET);
    expect(server.stderr.join('\n')).not.toContain(SECRET);
  });
});
