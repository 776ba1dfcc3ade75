// The request log lines captured from the real logger: one JSON line per request with
// the contract's fields, X-Request-ID handling, levels, LOG_LEVEL, and no secrets.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { TEST_SECRET, type TestApp } from '../helpers/app.js';
import { hmacHex } from '../helpers/sign.js';
import { message, useTestApp } from './support.js';

const LEVEL_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'CRITICAL', 'FATAL'];
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function linesFor(t: TestApp, requestId: string): Record<string, unknown>[] {
  return t.logs.filter((l) => l.request_id === requestId);
}

/** The single log line of one request, found by the X-Request-ID the response carried. */
function lineOf(t: TestApp, res: LightMyRequestResponse): Record<string, unknown> {
  const id = res.headers['x-request-id'];
  if (typeof id !== 'string') throw new Error(`response without X-Request-ID: ${res.statusCode}`);
  const lines = linesFor(t, id);
  if (lines.length !== 1)
    throw new Error(`expected one log line for request ${id}, found ${lines.length}: ${JSON.stringify(lines)}`);
  const [line] = lines;
  if (line === undefined) throw new Error('unreachable');
  return line;
}

describe('request log lines', () => {
  const app = useTestApp();

  it('writes exactly one line per request with ts, level, request_id, method, path, status and latency_ms', async () => {
    const t = app();
    const before = Date.now();
    const requests: [string, string, number][] = [
      ['GET', '/health/live', 200],
      ['GET', '/health/ready', 200],
      ['GET', '/messages?limit=2', 200],
      ['GET', '/messages?limit=0', 422],
      ['GET', '/stats', 200],
      ['GET', '/metrics', 200],
      ['GET', '/nope', 404],
      ['POST', '/webhook', 401],
    ];
    for (const [method, url, status] of requests) {
      const res = await t.app.inject({ method: method === 'GET' ? 'GET' : 'POST', url });
      expect(res.statusCode, url).toBe(status);
      const line = lineOf(t, res);
      expect(line.method).toBe(method);
      expect(line.path).toBe(url.split('?')[0]);
      expect(line.status).toBe(status);
      expect(typeof line.latency_ms).toBe('number');
      expect(line.latency_ms).toBeGreaterThanOrEqual(0);
      expect(LEVEL_NAMES).toContain(line.level);
      expect(line.ts).toMatch(ISO_8601);
      const at = Date.parse(String(line.ts));
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(Date.now() + 1000);
    }
    // Nothing else was logged per request: one line each, no stray request lines.
    expect(t.logs.filter((l) => typeof l.status === 'number')).toHaveLength(requests.length);
  });

  it('gives every request its own request_id', async () => {
    const t = app();
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < 10; i++) responses.push(await t.app.inject({ method: 'GET', url: '/health/live' }));
    const ids = responses.map((r) => r.headers['x-request-id']);
    expect(new Set(ids).size).toBe(10);
    for (const res of responses) expect(lineOf(t, res).request_id).toBe(res.headers['x-request-id']);
  });

  it('reuses an incoming X-Request-ID in the log line and echoes it in the response', async () => {
    const t = app();
    const res = await t.app.inject({ method: 'GET', url: '/messages', headers: { 'x-request-id': 'req-abc-123' } });
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    expect(lineOf(t, res).request_id).toBe('req-abc-123');
    const hook = await t.postSigned(message(), { 'x-request-id': 'hook-777' });
    expect(hook.headers['x-request-id']).toBe('hook-777');
    expect(lineOf(t, hook)).toMatchObject({ request_id: 'hook-777', path: '/webhook', status: 200 });
  });

  it('puts X-Request-ID on every response: 200, 401, 404 and 422 alike', async () => {
    const t = app();
    const responses = [
      await t.app.inject({ method: 'GET', url: '/health/live' }),
      await t.app.inject({ method: 'GET', url: '/metrics' }),
      await t.postSigned(message()),
      await t.app.inject({ method: 'POST', url: '/webhook', payload: '{}' }),
      await t.postSigned('[]'),
      await t.app.inject({ method: 'GET', url: '/messages?limit=101' }),
      await t.app.inject({ method: 'GET', url: '/does/not/exist' }),
      await t.app.inject({ method: 'DELETE', url: '/messages' }),
    ];
    for (const res of responses) {
      expect(res.headers['x-request-id'], String(res.statusCode)).toEqual(expect.stringMatching(/\S/));
      expect(lineOf(t, res).status).toBe(res.statusCode);
    }
  });

  it('adds message_id, dup and result to /webhook lines', async () => {
    const t = app();
    const created = lineOf(t, await t.postSigned(message({ message_id: 'w1' })));
    expect(created).toMatchObject({ path: '/webhook', status: 200, message_id: 'w1', dup: false, result: 'created' });
    const duplicate = lineOf(t, await t.postSigned(message({ message_id: 'w1', text: 'again' })));
    expect(duplicate).toMatchObject({ status: 200, message_id: 'w1', dup: true, result: 'duplicate' });
    const invalid = lineOf(t, await t.postSigned(message({ message_id: 'w2', from: 'nobody' })));
    expect(invalid).toMatchObject({ status: 422, message_id: 'w2', dup: false, result: 'validation_error' });
    const unparseable = lineOf(t, await t.postSigned('not json'));
    expect(unparseable).toMatchObject({ status: 422, dup: false, result: 'validation_error' });
    expect(unparseable).not.toHaveProperty('message_id');
  });

  it('logs an invalid signature at ERROR with result invalid_signature, without trusting the unsigned body', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'forged' }));
    const res = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      payload: body,
      headers: { 'content-type': 'application/json', 'x-signature': hmacHex('wrong', body) },
    });
    expect(res.statusCode).toBe(401);
    const line = lineOf(t, res);
    expect(line).toMatchObject({ level: 'ERROR', status: 401, dup: false, result: 'invalid_signature' });
    expect(line).not.toHaveProperty('message_id');
  });

  it('logs successful requests below ERROR', async () => {
    const t = app();
    const line = lineOf(t, await t.postSigned(message()));
    expect(['DEBUG', 'INFO']).toContain(line.level);
  });

  it('never writes the secret, whatever the requests', async () => {
    const t = app();
    await t.postSigned(message());
    await t.postSigned(message({ message_id: 'x', ts: 'bad' }));
    await t.app.inject({ method: 'POST', url: '/webhook', payload: '{}', headers: { 'x-signature': 'test-secret' } });
    await t.app.inject({ method: 'GET', url: '/health/ready' });
    await t.app.inject({ method: 'GET', url: '/nope' });
    expect(t.logs.length).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(t.logs)).not.toContain(TEST_SECRET);
  });
});

describe('request log lines with a distinctive secret', () => {
  const secret = 'Sup3r-S3cret-Do-Not-Log-4f9a';
  const app = useTestApp({ WEBHOOK_SECRET: secret });

  it('never contain it: not on 200, 401 or 422, nor on readiness or metrics', async () => {
    const t = app();
    const body = JSON.stringify(message());
    await t.app.inject({ method: 'POST', url: '/webhook', payload: body, headers: { 'x-signature': hmacHex(secret, body) } });
    await t.app.inject({ method: 'POST', url: '/webhook', payload: body, headers: { 'x-signature': hmacHex('x', body) } });
    await t.app.inject({ method: 'POST', url: '/webhook', payload: '{}', headers: { 'x-signature': hmacHex(secret, '{}') } });
    await t.app.inject({ method: 'GET', url: '/health/ready' });
    await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(t.logs.length).toBeGreaterThanOrEqual(5);
    const all = JSON.stringify(t.logs);
    expect(all).not.toContain(secret);
    expect(all.toLowerCase()).not.toContain(secret.toLowerCase());
  });
});

describe('request log lines for a body over the limit', () => {
  const app = useTestApp({ MAX_BODY_BYTES: '100' });

  it('log the 413 with dup and result, and the response carries X-Request-ID', async () => {
    const t = app();
    const res = await t.postSigned('x'.repeat(500));
    expect(res.statusCode).toBe(413);
    expect(res.headers['x-request-id']).toEqual(expect.stringMatching(/\S/));
    const line = lineOf(t, res);
    expect(line).toMatchObject({ path: '/webhook', status: 413, dup: false });
    expect(typeof line.result).toBe('string');
  });
});

describe('request log lines without a secret', () => {
  const app = useTestApp({ WEBHOOK_SECRET: '' });

  it('log the 503 webhook with dup and result', async () => {
    const t = app();
    const res = await t.postSigned(message());
    expect(res.statusCode).toBe(503);
    const line = lineOf(t, res);
    expect(line).toMatchObject({ path: '/webhook', status: 503, dup: false });
    expect(typeof line.result).toBe('string');
  });
});

describe('malformed request lines', () => {
  const app = useTestApp();

  it('still get their log line and an X-Request-ID', async () => {
    const t = app();
    const res = await t.app.inject({ method: 'GET', url: '/%' });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.headers['x-request-id']).toEqual(expect.stringMatching(/\S/));
    expect(lineOf(t, res).status).toBe(res.statusCode);
  });
});

describe('LOG_LEVEL', () => {
  describe('ERROR', () => {
    const app = useTestApp({ LOG_LEVEL: 'ERROR' });

    it('drops lines below ERROR and keeps an invalid signature', async () => {
      const t = app();
      await t.app.inject({ method: 'GET', url: '/health/live' });
      await t.postSigned(message());
      await t.app.inject({ method: 'GET', url: '/messages?limit=0' });
      expect(t.logs.filter((l) => typeof l.status === 'number')).toEqual([]);
      const res = await t.app.inject({ method: 'POST', url: '/webhook', payload: '{}' });
      expect(lineOf(t, res)).toMatchObject({ level: 'ERROR', status: 401 });
    });
  });

  describe('warning (any case)', () => {
    const app = useTestApp({ LOG_LEVEL: 'warning' });

    it('drops INFO lines and keeps client-error and ERROR lines', async () => {
      const t = app();
      await t.app.inject({ method: 'GET', url: '/health/live' });
      expect(t.logs.filter((l) => typeof l.status === 'number')).toEqual([]);
      const invalid = await t.postSigned('[]');
      expect(lineOf(t, invalid).status).toBe(422);
      const forged = await t.app.inject({ method: 'POST', url: '/webhook', payload: '{}' });
      expect(lineOf(t, forged).level).toBe('ERROR');
    });
  });
});
