// Every Prometheus metric the service exports (SPEC A.7), declared here and nowhere else.
// Labels come from bounded sets only: route templates and result names.

import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Outcomes of POST /webhook, each exported from start at 0. */
export const WEBHOOK_RESULTS = [
  'created',
  'duplicate',
  'invalid_signature',
  'validation_error',
  'payload_too_large',
  'unavailable',
] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

/** The `path` label of requests that matched no route, so unknown URLs cannot grow the label set. */
export const UNMATCHED_PATH = 'unmatched';

export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'path' | 'status'>;
  readonly webhookRequests: Counter<'result'>;
  readonly requestLatency: Histogram;
}

export function createMetrics(): Metrics {
  // A registry per app, not prom-client's global one: tests build many apps in one process.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template and status code.',
    labelNames: ['path', 'status'] as const,
    registers: [registry],
  });
  const webhookRequests = new Counter({
    name: 'webhook_requests_total',
    help: 'POST /webhook requests, by outcome.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const result of WEBHOOK_RESULTS) webhookRequests.inc({ result }, 0);
  const requestLatency = new Histogram({
    name: 'request_latency_ms',
    help: 'Time from request received to response sent, in milliseconds.',
    buckets: LATENCY_BUCKETS_MS,
    registers: [registry],
  });
  return { registry, httpRequests, webhookRequests, requestLatency };
}
