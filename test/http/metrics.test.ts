// GET /metrics through app.inject: the exposition format and the three named metrics.

import { describe, expect, it } from 'vitest';
import { hmacHex } from '../helpers/sign.js';
import { message, parseSamples, type Sample, sampleValue, scrape, useTestApp } from './support.js';

const WEBHOOK_RESULTS = ['created', 'duplicate', 'invalid_signature', 'validation_error'];

function pathLabels(samples: readonly Sample[]): string[] {
  return [...new Set(samples.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.path ?? ''))].sort();
}

describe('GET /metrics', () => {
  const app = useTestApp();

  it('answers Prometheus text format version 0.0.4', async () => {
    const res = await app().app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; ?version=0\.0\.4/);
    expect(() => parseSamples(res.body)).not.toThrow();
  });

  it('has HELP and TYPE lines for every contract metric', async () => {
    const t = app();
    await t.app.inject({ method: 'GET', url: '/health/live' });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    const lines = res.body.split('\n');
    for (const [name, type] of [
      ['http_requests_total', 'counter'],
      ['webhook_requests_total', 'counter'],
      ['request_latency_ms', 'histogram'],
    ]) {
      expect(lines.some((l) => l.startsWith(`# HELP ${name} `) && l.length > `# HELP ${name} `.length)).toBe(true);
      expect(lines).toContain(`# TYPE ${name} ${type}`);
    }
  });

  it('exports every webhook result at 0 from start', async () => {
    const samples = await scrape(app());
    for (const result of WEBHOOK_RESULTS) {
      expect(sampleValue(samples, 'webhook_requests_total', { result }), result).toBe(0);
    }
  });

  it('counts each webhook outcome under its result', async () => {
    const t = app();
    await t.postSigned(message({ message_id: 'a' }));
    await t.postSigned(message({ message_id: 'b' }));
    await t.postSigned(message({ message_id: 'a' }));
    await t.app.inject({ method: 'POST', url: '/webhook', payload: '{}', headers: { 'x-signature': 'bad' } });
    await t.postSigned({ message_id: 'c' });
    const samples = await scrape(t);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'created' })).toBe(2);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'duplicate' })).toBe(1);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'invalid_signature' })).toBe(1);
    expect(sampleValue(samples, 'webhook_requests_total', { result: 'validation_error' })).toBe(1);
  });

  it('labels http_requests_total with the route template and the status, never the raw URL', async () => {
    const t = app();
    await t.app.inject({ method: 'GET', url: '/messages?limit=5&q=secret-search' });
    await t.app.inject({ method: 'GET', url: '/messages?offset=1' });
    await t.app.inject({ method: 'GET', url: '/messages?limit=0' });
    await t.app.inject({ method: 'GET', url: '/stats' });
    await t.app.inject({ method: 'GET', url: '/health/live' });
    await t.app.inject({ method: 'GET', url: '/health/ready' });
    await t.postSigned(message());
    const body = JSON.stringify(message({ message_id: 'x' }));
    await t.app.inject({
      method: 'POST',
      url: '/webhook?debug=1',
      payload: body,
      headers: { 'x-signature': hmacHex('nope', body) },
    });
    const samples = await scrape(t);
    expect(sampleValue(samples, 'http_requests_total', { path: '/messages', status: '200' })).toBe(2);
    expect(sampleValue(samples, 'http_requests_total', { path: '/messages', status: '422' })).toBe(1);
    expect(sampleValue(samples, 'http_requests_total', { path: '/stats', status: '200' })).toBe(1);
    expect(sampleValue(samples, 'http_requests_total', { path: '/health/live', status: '200' })).toBe(1);
    expect(sampleValue(samples, 'http_requests_total', { path: '/health/ready', status: '200' })).toBe(1);
    expect(sampleValue(samples, 'http_requests_total', { path: '/webhook', status: '200' })).toBe(1);
    expect(sampleValue(samples, 'http_requests_total', { path: '/webhook', status: '401' })).toBe(1);
    for (const path of pathLabels(samples)) expect(path).not.toMatch(/[?=&]/);
  });

  it('counts /metrics itself under its template', async () => {
    const t = app();
    await scrape(t);
    expect(sampleValue(await scrape(t), 'http_requests_total', { path: '/metrics', status: '200' })).toBe(1);
  });

  it('gives all unknown URLs one shared path label', async () => {
    const t = app();
    for (const url of ['/nope/1', '/nope/2', '/wp-admin.php?x=1', '/messages/123/extra']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode).toBe(404);
    }
    const samples = await scrape(t);
    const notFound = samples.filter((s) => s.name === 'http_requests_total' && s.labels.status === '404');
    expect(notFound).toHaveLength(1);
    expect(notFound[0]?.value).toBe(4);
    const label = notFound[0]?.labels.path ?? '';
    expect(label).not.toMatch(/nope|wp-admin|123/);
    expect(pathLabels(samples)).toEqual([label]);
  });

  it('exports request_latency_ms as a histogram in milliseconds', async () => {
    const t = app();
    for (let i = 0; i < 5; i++) await t.app.inject({ method: 'GET', url: '/health/live' });
    const samples = await scrape(t);
    const buckets = samples.filter((s) => s.name === 'request_latency_ms_bucket');
    expect(buckets.length).toBeGreaterThan(1);
    for (const b of buckets) expect(b.labels.le).toBeDefined();
    const count = sampleValue(samples, 'request_latency_ms_count');
    const sum = sampleValue(samples, 'request_latency_ms_sum');
    expect(count).toBe(5);
    expect(sum).toBeGreaterThan(0);
    // A handful of in-process requests take well under a second each: a sum in seconds would be tiny,
    // and one in microseconds huge.
    expect(sum).toBeLessThan(5 * 1000);
    const inf = buckets.find((b) => b.labels.le === '+Inf');
    expect(inf?.value).toBe(5);
    const finite = buckets.filter((b) => b.labels.le !== '+Inf').map((b) => ({ le: Number(b.labels.le), value: b.value }));
    const sorted = [...finite].sort((a, b) => a.le - b.le);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]?.value).toBeGreaterThanOrEqual(sorted[i - 1]?.value ?? 0);
    // Millisecond buckets reach into the seconds range (1000 ms and beyond).
    expect(sorted.some((b) => b.le >= 1000)).toBe(true);
    expect(sorted.some((b) => b.le <= 10)).toBe(true);
  });
});
