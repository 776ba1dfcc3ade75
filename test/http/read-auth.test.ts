// API_TOKEN through app.inject: reads of stored data need `Authorization: Bearer <token>`
// (RFC 6750 challenge on refusal); probes, metrics and webhooks stay open.

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { message, requestLine, sampleValue, scrape, useTestApp } from './support.js';

const READS = ['/messages', '/messages/m1', '/dead-letters', '/stats'];
const REALM = 'Bearer realm="webhook-inbox"';

function read(t: TestApp, url: string, authorization?: string): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });
}

async function unauthorizedCount(t: TestApp): Promise<number | undefined> {
  return sampleValue(await scrape(t), 'webhook_requests_total', { result: 'unauthorized' });
}

/** Checks a refusal: 401, a {"detail": string} body that leaks no data, and the challenge header. */
function expectRefused(res: LightMyRequestResponse, label: string, tokenSent: boolean): void {
  expect(res.statusCode, label).toBe(401);
  const body = res.json<Record<string, unknown>>();
  expect(Object.keys(body), label).toEqual(['detail']);
  expect(typeof body.detail, label).toBe('string');
  expect(res.body, label).not.toContain('+919876543210');
  const challenge = res.headers['www-authenticate'];
  expect(typeof challenge, label).toBe('string');
  expect(String(challenge), label).toMatch(/^Bearer realm="webhook-inbox"/);
  if (tokenSent) expect(String(challenge), label).toContain('error="invalid_token"');
  else expect(challenge, label).toBe(REALM);
}

describe('API_TOKEN set: reads need a bearer token', () => {
  // t2 is the previous token of a rotation, accepted beside the current one.
  const app = useTestApp({ API_TOKEN: 't1', API_TOKEN_PREVIOUS: 't2' });

  it('refuses every read without an Authorization header, with the Bearer challenge', async () => {
    const t = app();
    expect((await t.postSigned(message())).statusCode).toBe(200);
    for (const url of READS) expectRefused(await read(t, url), url, false);
    expect(await unauthorizedCount(t)).toBe(READS.length);
  });

  it('refuses a wrong token with error="invalid_token"', async () => {
    const t = app();
    await t.postSigned(message());
    const wrong = ['Bearer t3', 'Bearer t1,t2', 'Bearer T1', 'Bearer t', 'Bearer t1x'];
    for (const url of READS) {
      for (const authorization of wrong) expectRefused(await read(t, url, authorization), `${url} ${authorization}`, true);
    }
    expect(await unauthorizedCount(t)).toBe(READS.length * wrong.length);
  });

  it('refuses credentials that are not a bearer token', async () => {
    const t = app();
    const malformed = [
      't1',
      'Basic dDE6',
      `Basic ${Buffer.from('t1:').toString('base64')}`,
      'Bearer',
      'Bearer ',
      'Bearer t1 t2',
      'Token t1',
      'Bearert1',
      '',
    ];
    for (const authorization of malformed) {
      const res = await read(t, '/stats', authorization);
      expect(res.statusCode, JSON.stringify(authorization)).toBe(401);
      expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer realm="webhook-inbox"/);
    }
    expect(await unauthorizedCount(t)).toBe(malformed.length);
  });

  it('serves each read to either token, whatever the case of the scheme', async () => {
    const t = app();
    await t.postSigned(message());
    for (const authorization of ['Bearer t1', 'Bearer t2', 'bearer t1', 'BEARER t2', 'BeArEr t1']) {
      for (const url of READS) {
        const res = await read(t, url, authorization);
        expect(res.statusCode, `${url} ${authorization}`).toBe(200);
        expect(res.headers['www-authenticate']).toBeUndefined();
      }
    }
    const messages = await read(t, '/messages', 'Bearer t1');
    expect(messages.json<{ total: number }>().total).toBe(1);
    expect(await unauthorizedCount(t)).toBe(0);
  });

  it('checks the token before the query: a bad query without a token is 401, with one 422', async () => {
    const t = app();
    expect((await read(t, '/messages?limit=0')).statusCode).toBe(401);
    expect((await read(t, '/dead-letters?offset=-1')).statusCode).toBe(401);
    expect((await read(t, '/messages/unknown')).statusCode).toBe(401);
    expect((await read(t, '/messages?limit=0', 'Bearer t1')).statusCode).toBe(422);
    expect((await read(t, '/dead-letters?offset=-1', 'Bearer t2')).statusCode).toBe(422);
    expect((await read(t, '/messages/unknown', 'Bearer t2')).statusCode).toBe(404);
  });

  it('logs a refused read with result unauthorized, at WARNING, and never the token', async () => {
    const t = app();
    const res = await read(t, '/stats', 'Bearer not-the-token-xyz');
    expect(requestLine(t, res)).toMatchObject({ path: '/stats', status: 401, result: 'unauthorized', level: 'WARNING' });
    const ok = await read(t, '/stats', 'Bearer t1');
    expect(ok.statusCode).toBe(200);
    const logged = JSON.stringify(t.logs);
    expect(logged).not.toContain('not-the-token-xyz');
    expect(logged).not.toContain('Bearer t1');
  });

  it('leaves health probes, metrics and webhooks open', async () => {
    const t = app();
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      const res = await read(t, url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    expect((await t.postSigned(message())).statusCode).toBe(200);
    // A wrong token on an open route changes nothing either.
    expect((await read(t, '/health/live', 'Bearer wrong')).statusCode).toBe(200);
    expect((await t.postSigned(message({ message_id: 'm2' }), { authorization: 'Bearer wrong' })).statusCode).toBe(200);
    expect(await unauthorizedCount(t)).toBe(0);
    expect((await read(t, '/messages', 'Bearer t2')).json<{ total: number }>().total).toBe(2);
  });
});

describe('API_TOKEN with a comma: one token, never its pieces', () => {
  const app = useTestApp({ API_TOKEN: 'k9Qz!mR2#vL8,a', API_TOKEN_PREVIOUS: 'old,b' });

  it('opens reads to each whole value and to none of their pieces', async () => {
    const t = app();
    await t.postSigned(message());
    for (const token of ['k9Qz!mR2#vL8,a', 'old,b']) {
      expect((await read(t, '/messages', `Bearer ${token}`)).statusCode, token).toBe(200);
    }
    const pieces = ['a', 'b', 'old', 'k9Qz!mR2#vL8', 'k9Qz!mR2#vL8,', ',a', 'k9Qz!mR2#vL8,a,old,b'];
    for (const token of pieces) {
      expectRefused(await read(t, '/messages', `Bearer ${token}`), token, true);
    }
    expect(await unauthorizedCount(t)).toBe(pieces.length);
  });
});

describe('API_TOKEN unset: reads are open', () => {
  const app = useTestApp();

  it('serves every read without a token, and ignores one sent anyway', async () => {
    const t = app();
    await t.postSigned(message());
    for (const url of READS) {
      expect((await read(t, url)).statusCode, url).toBe(200);
      expect((await read(t, url, 'Bearer anything')).statusCode, url).toBe(200);
    }
    expect(await unauthorizedCount(t)).toBe(0);
  });
});
