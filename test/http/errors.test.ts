// Unknown routes and hostile or malformed client input: a 4xx with a JSON body,
// never a 500, never a stack trace.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { hmacHex } from '../helpers/sign.js';
import { message, storedCount, useTestApp } from './support.js';

function expectClientError(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
  // No stack trace or internals reach the client.
  expect(res.body, label).not.toMatch(/\n\s+at |node_modules|\.ts:\d+|SqliteError|SQLITE_/);
}

describe('unknown routes', () => {
  const app = useTestApp();

  it('answer 404 with a JSON body and X-Request-ID', async () => {
    const t = app();
    // `/` is the dashboard (test/http/dashboard.test.ts).
    for (const url of ['/nope', '/nope/1', '/messages/m1', '/webhook/extra', '/health', '/health/ready/now', '/metrics.json']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/json/);
      expect(() => res.json(), url).not.toThrow();
      expect(res.headers['x-request-id'], url).toEqual(expect.stringMatching(/\S/));
    }
  });

  it('answer 404 for POST to an unknown path, storing nothing', async () => {
    const t = app();
    const body = JSON.stringify(message());
    const res = await t.app.inject({
      method: 'POST',
      url: '/webhooks',
      payload: body,
      headers: { 'x-signature': hmacHex('test-secret', body) },
    });
    expect(res.statusCode).toBe(404);
    expect(await storedCount(t)).toBe(0);
  });

  it('answer a wrong method on a known path with a client error, storing nothing', async () => {
    const t = app();
    for (const [method, url] of [
      ['GET', '/webhook'],
      ['PUT', '/webhook'],
      ['DELETE', '/messages'],
      ['POST', '/messages'],
      ['POST', '/stats'],
      ['PATCH', '/health/live'],
    ] as const) {
      expectClientError(
        await t.app.inject({ method, url, payload: method === 'GET' || method === 'DELETE' ? undefined : '{}' }),
        `${method} ${url}`,
      );
    }
    expect(await storedCount(t)).toBe(0);
  });
});

describe('never a 500 for client input', () => {
  const app = useTestApp();

  async function get(t: TestApp, url: string): Promise<void> {
    expectClientErrorOrOk(await t.app.inject({ method: 'GET', url }), url);
  }

  function expectClientErrorOrOk(res: LightMyRequestResponse, label: string): void {
    expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
    expect(res.body, label).not.toMatch(/\n\s+at |node_modules|\.ts:\d+|SqliteError|SQLITE_|DatabaseError|SQLSTATE/);
  }

  it('on odd query strings for /messages', async () => {
    const t = app();
    for (const query of [
      '?limit=99999999999999999999999',
      '?offset=99999999999999999999999',
      '?offset=9007199254740993',
      '?limit=1&limit=2',
      '?from=a&from=b',
      '?q=%',
      '?q=%FF',
      '?q=%E0%A4%A',
      '?q=%00',
      '?q=ab%00cd',
      `?q=${'a'.repeat(5000)}`,
      `?q=${encodeURIComponent('"')}`,
      `?q=${encodeURIComponent('" OR 1=1 --')}`,
      `?q=${encodeURIComponent('NEAR(a b)')}`,
      `?q=${encodeURIComponent('abc*')}`,
      `?q=${encodeURIComponent("'); DROP TABLE messages; --")}`,
      '?from=%00',
      `?from=${'9'.repeat(5000)}`,
      '?since=%00',
      '?since=9999-12-31T23:59:59.999999999999Z',
      '?since=0000-01-01T00:00:00Z',
      '?since[]=x',
      '?limit[]=1',
      '?__proto__=x&constructor=y',
      '?cursor=%00',
      `?cursor=${Buffer.from('["2025-01-15T10:00:00","m\\u0000x"]').toString('base64url')}`,
      `?cursor=${Buffer.from('["x","y"]').toString('base64url')}`,
      `?cursor=${Buffer.from('[1,2]').toString('base64url')}`,
      '?cursor=AAAA',
      '?&&&=&=',
    ]) {
      await get(t, `/messages${query}`);
    }
    // The store still works afterwards.
    expect((await t.app.inject({ method: 'GET', url: '/messages' })).statusCode).toBe(200);
  });

  it('on malformed URLs', async () => {
    const t = app();
    for (const url of ['/%', '/%E0%A4%A', '/messages/%', '/%00', `/${'x'.repeat(5000)}`, '/..%2F..%2Fetc%2Fpasswd']) {
      expectClientError(await t.app.inject({ method: 'GET', url }), url);
    }
  });

  it('on hostile signed webhook bodies', async () => {
    const t = app();
    const bodies: (string | Buffer)[] = [
      '[',
      '{"a":'.repeat(10_000),
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      '{"message_id": "m1", "from": "+1", "to": "+2", "ts": "2025-01-15T10:00:00Z", "text": "\\ud800"}',
      '{"message_id": "\\udfff", "from": "+1", "to": "+2", "ts": "2025-01-15T10:00:00Z"}',
      '{"message_id": "m1", "from": "+1", "to": "+2", "ts": "2025-01-15T10:00:00Z", "text": 1e999}',
      '{"message_id": 1e999, "from": -0, "to": [], "ts": {}}',
      '{"constructor": {"prototype": {"x": 1}}, "message_id": "m", "from": "+1", "to": "+2", "ts": "2025-01-15T10:00:00Z"}',
      Buffer.from([0x00, 0x01, 0x02, 0xff]),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(message({ message_id: 'bom' })))]),
      '\u0000',
      ' ',
    ];
    for (const body of bodies) {
      const res = await t.postSigned(body);
      expectClientErrorOrOk(res, (Buffer.isBuffer(body) ? body.toString('hex') : body).slice(0, 60));
    }
  });

  it('on odd but valid webhook values', async () => {
    const t = app();
    const payloads = [
      message({ message_id: 'x'.repeat(512) }),
      message({ message_id: '😀'.repeat(512) }),
      message({ message_id: "'; DROP TABLE messages; --" }),
      message({ message_id: 'ctl', text: 'before\u0001\u001f\u007fafter' }),
      message({ message_id: 'rtl', text: '\u202eevil\u202c' }),
      message({ message_id: '9999', ts: '9999-12-31T23:59:59.999999999Z' }),
      message({ message_id: '0001', ts: '0001-01-01T00:00:00Z' }),
    ];
    for (const payload of payloads) {
      const res = await t.postSigned(payload);
      expect(res.statusCode, String(payload.message_id).slice(0, 40)).toBe(200);
    }
    expect(await storedCount(t)).toBe(payloads.length);
    expect((await t.app.inject({ method: 'GET', url: '/stats' })).statusCode).toBe(200);
  });

  it('on odd headers', async () => {
    const t = app();
    const body = JSON.stringify(message({ message_id: 'h' }));
    const signature = hmacHex('test-secret', body);
    const cases: Record<string, string | string[]>[] = [
      { 'x-signature': [signature, signature] },
      { 'x-signature': signature, 'content-type': 'application/json; charset=latin1' },
      { 'x-signature': signature, 'content-type': ';;;' },
      { 'x-signature': signature, 'content-encoding': 'gzip' },
      { 'x-signature': signature, 'x-request-id': 'x'.repeat(1000) },
      { 'x-signature': signature, 'x-request-id': ['a', 'b'] },
      { 'x-signature': signature, 'x-request-id': '' },
      { 'x-signature': ` ${signature} ` },
    ];
    for (const headers of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/webhook', payload: body, headers });
      expectClientErrorOrOk(res, JSON.stringify(headers).slice(0, 80));
      expect(res.headers['x-request-id'], JSON.stringify(headers).slice(0, 80)).toEqual(expect.stringMatching(/^[\x21-\x7e]+$/));
    }
  });
});
