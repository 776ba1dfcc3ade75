// Slow and greedy clients against the real server over TCP: a body that stops arriving is answered
// 408 (REQUEST_TIMEOUT_MS), headers that stop arriving too (HEADERS_TIMEOUT_MS), and the bytes held
// for bodies still arriving are bounded (MAX_INFLIGHT_BODY_BYTES): beyond it a request is refused
// 503 at once, while small webhooks keep getting in.

import type { Socket } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jsonLines, type RunningServer, startServer, waitFor } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { bodyOf, getJson, message, metricValue, postWebhook, rawRequest, statusOf, webhookHead } from './client.js';

const SECRET = 'e2e-slow-clients-secret';

describe('slow and greedy clients', () => {
  const tmp = tempDir();
  const servers: RunningServer[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) await server.cleanup();
  });
  afterAll(() => tmp.cleanup());

  const start = async (name: string, env: Record<string, string>): Promise<RunningServer> => {
    const server = await startServer({
      env: { WEBHOOK_SECRET: SECRET, DATABASE_URL: `sqlite:///${path.join(tmp.dir, `${name}.db`)}`, ...env },
    });
    servers.push(server);
    return server;
  };

  it('a body that stops arriving is answered 408, logged and counted, and its connection closed', async () => {
    const server = await start('body-timeout', { REQUEST_TIMEOUT_MS: '1000' });
    const slow = rawRequest(server.port, `${webhookHead(100)}{"a`);
    sockets.push(slow.socket);
    const response = await slow.closed;
    expect(statusOf(response)).toBe(408);
    expect(response.toLowerCase()).toContain('connection: close');
    expect(bodyOf(response)).toEqual({ detail: 'request timeout: the request did not arrive in time' });

    const line = await waitFor('the 408 log line', () =>
      jsonLines(server.stdout).find((l) => l.path === '/webhook' && l.status === 408),
    );
    expect(line).toMatchObject({ level: 'WARNING', method: 'POST', result: 'request_timeout' });
    expect(await metricValue(server.baseUrl, 'webhook_requests_total{result="request_timeout"}')).toBe(1);
    expect(await metricValue(server.baseUrl, 'http_requests_total{path="/webhook",status="408"}')).toBe(1);
    // Nothing was stored, and the server goes on taking webhooks.
    expect((await postWebhook(server.baseUrl, SECRET, message('after'))).status).toBe(200);
    expect((await getJson(`${server.baseUrl}/messages`)).json).toMatchObject({ total: 1 });
  });

  it('headers that stop arriving are answered 408 and the connection closed', async () => {
    const server = await start('headers-timeout', { HEADERS_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '5000' });
    const slow = rawRequest(server.port, 'POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-');
    sockets.push(slow.socket);
    expect(statusOf(await slow.closed)).toBe(408);
    expect((await postWebhook(server.baseUrl, SECRET, message('after'))).status).toBe(200);
  });

  it('bodies in flight share one budget: past it a request is refused 503 at once, small webhooks still get in', async () => {
    // Bodies over 64 KiB may take three quarters of the budget (150,000 bytes), small ones all of it.
    const server = await start('budget', {
      MAX_BODY_BYTES: '70000',
      MAX_INFLIGHT_BODY_BYTES: '200000',
      REQUEST_TIMEOUT_MS: '3000',
    });
    // Two clients declare a large body and send almost none of it: 140,000 bytes reserved.
    const holders = [1, 2].map(() => rawRequest(server.port, `${webhookHead(70000)}{"message_id"`));
    sockets.push(...holders.map((h) => h.socket));
    await waitFor('both bodies to be reserved', async () => {
      return (await metricValue(server.baseUrl, 'http_request_bodies_in_flight_bytes')) === 140000;
    });

    // A third large body does not fit: 503 with Retry-After before any of it is read.
    const third = rawRequest(server.port, webhookHead(66000));
    sockets.push(third.socket);
    const refused = await third.closed;
    expect(statusOf(refused)).toBe(503);
    expect(refused.toLowerCase()).toContain('retry-after: 10');
    expect(bodyOf(refused)).toEqual({ detail: 'too many request bodies in flight; retry later' });

    // A chunked body reserves as it arrives, and is refused as soon as it would not fit (once past
    // 64 KiB it is a large body).
    const chunk = 'x'.repeat(66_000);
    const chunked = rawRequest(server.port, `${webhookHead('chunked')}${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    sockets.push(chunked.socket);
    expect(statusOf(await chunked.closed)).toBe(503);

    // Small bodies still fit, in the quarter kept for them: an ordinary webhook, and one of 50 KB.
    expect((await postWebhook(server.baseUrl, SECRET, message('small'))).status).toBe(200);
    const fifty = JSON.stringify({ ...message('fifty'), padding: 'p'.repeat(50_000) });
    expect((await postWebhook(server.baseUrl, SECRET, fifty)).status).toBe(200);

    // Once the holders time out, their reservation is free again: a body of the largest size gets in.
    for (const holder of holders) expect(statusOf(await holder.closed)).toBe(408);
    const large = JSON.stringify({ ...message('large'), padding: 'p'.repeat(60_000) });
    expect((await postWebhook(server.baseUrl, SECRET, large)).status).toBe(200);
    expect(await metricValue(server.baseUrl, 'webhook_requests_total{result="overloaded"}')).toBe(2);
    const ids = ((await getJson(`${server.baseUrl}/messages`)).json as { data: { message_id: string }[] }).data.map(
      (m) => m.message_id,
    );
    expect(ids.sort()).toEqual(['fifty', 'large', 'small']);
  });
});
