// Every Prometheus metric the service exports, declared here and nowhere else.
// Labels come from bounded sets only: route templates and result names.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { EXPORT_FORMATS } from '../store/export-format.js';
import { FEED_EVENT_TYPES, type FeedHead } from '../store/store.js';

/** Outcomes of webhook requests (and of refused credentials), each exported from start at 0; listed in docs/operations.md. */
export const WEBHOOK_RESULTS = [
  'created',
  'duplicate',
  'invalid_signature',
  'validation_error',
  'payload_too_large',
  'request_timeout',
  'unavailable',
  'stale_timestamp',
  'unauthorized',
  'overloaded',
  'envelope_stored',
  'envelope_partial',
  'envelope_invalid',
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
  readonly whatsappItems: Counter<'kind' | 'result'>;
  /** Reads refused by the store: stopped at READ_TIMEOUT_MS, or shed because every reader was busy. */
  readonly readsRefused: Counter<'reason'>;
  /** Where the request-bodies-in-flight gauge reads its value at each scrape (set by the app). */
  readonly bodiesInFlight: { bytes: () => number };
  /** GET /events subscribers connected now (set by the app). */
  readonly sseClients: { count: () => number };
  /** Events this process appended to the feed, by type. */
  readonly feedEvents: Counter<'type'>;
  /** The newest event of the feed, read at each scrape (set by the app). */
  readonly feedHead: { read: () => Promise<FeedHead> };
  /** Rows the retention task removed, by kind. */
  readonly retentionDeleted: Counter<'kind'>;
  /** Rows removed by DELETE /messages/{message_id} and DELETE /conversations, by kind. */
  readonly erased: Counter<'kind'>;
  /** Messages written to GET /messages/export responses, by format. */
  readonly exportedMessages: Counter<'format'>;
  /** The oldest received_at still kept, read at each scrape (set by the app); null when nothing is kept. */
  readonly oldestReceivedAt: { read: () => Promise<string | null> };
}

/** The `kind` label of the removal counters: what a Removal counts, row by row. */
export const REMOVED_KINDS = ['messages', 'statuses', 'dead_letters'] as const;
export type RemovedKind = (typeof REMOVED_KINDS)[number];

/** Adds what one erasure or purge removed to a counter by kind. */
export function countRemoval(
  counter: Counter<'kind'>,
  removal: { readonly messages: number; readonly statuses: number; readonly deadLetters: number },
): void {
  counter.inc({ kind: 'messages' }, removal.messages);
  counter.inc({ kind: 'statuses' }, removal.statuses);
  counter.inc({ kind: 'dead_letters' }, removal.deadLetters);
}

/** What became of each item of a WhatsApp envelope. */
export type WhatsAppItemKind = 'message' | 'status' | 'entry' | 'change';
export type WhatsAppItemResult = 'created' | 'duplicate' | 'dead_letter' | 'ignored';

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
    help: 'Webhook requests by outcome: POST /webhook deliveries, GET /webhook verification attempts, and reads and erasures refused for their bearer token (result "unauthorized").',
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
  const whatsappItems = new Counter({
    name: 'whatsapp_items_total',
    help: 'Items of WhatsApp Cloud API envelopes, by kind and outcome (ignored: a change of a field that is not stored).',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  });
  for (const kind of ['message', 'status'] as const) {
    for (const result of ['created', 'duplicate', 'dead_letter'] as const) whatsappItems.inc({ kind, result }, 0);
  }
  whatsappItems.inc({ kind: 'entry', result: 'dead_letter' }, 0);
  whatsappItems.inc({ kind: 'change', result: 'dead_letter' }, 0);
  whatsappItems.inc({ kind: 'change', result: 'ignored' }, 0);
  const readsRefused = new Counter({
    name: 'read_queries_refused_total',
    help: 'Reads answered 503 by the store: reason "timeout" (stopped at READ_TIMEOUT_MS) or "busy" (every reader thread taken and the queue full).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['timeout', 'busy'] as const) readsRefused.inc({ reason }, 0);
  const bodiesInFlight = { bytes: () => 0 };
  new Gauge({
    name: 'http_request_bodies_in_flight_bytes',
    help: 'Bytes reserved for request bodies still being received (bounded by MAX_INFLIGHT_BODY_BYTES).',
    registers: [registry],
    collect() {
      this.set(bodiesInFlight.bytes());
    },
  });
  const sseClients = { count: () => 0 };
  new Gauge({
    name: 'sse_clients',
    help: 'GET /events subscribers connected to this process (bounded by SSE_MAX_CLIENTS).',
    registers: [registry],
    collect() {
      this.set(sseClients.count());
    },
  });
  const feedEvents = new Counter({
    name: 'feed_events_total',
    help: 'Events this process appended to the feed (rows it stored), by type.',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  for (const type of FEED_EVENT_TYPES) feedEvents.inc({ type }, 0);
  const feedHead = { read: async (): Promise<FeedHead> => ({ position: 0, receivedAt: null }) };
  // Both read at each scrape; a feed that stops moving while webhooks arrive is stalled.
  let head: Promise<FeedHead> | null = null;
  const readHead = () => {
    head ??= feedHead.read().finally(() => {
      head = null;
    });
    return head;
  };
  new Gauge({
    name: 'feed_head_position',
    help: "Position of the newest event of the feed (every replica's writes; 0 when empty).",
    registers: [registry],
    async collect() {
      this.set((await readHead().catch(() => ({ position: Number.NaN }))).position);
    },
  });
  new Gauge({
    name: 'feed_head_received_at_seconds',
    help: 'When the newest event of the feed was stored, in Unix seconds (0 when empty).',
    registers: [registry],
    async collect() {
      const at = (await readHead().catch(() => ({ receivedAt: null }))).receivedAt;
      this.set(at === null ? 0 : Date.parse(at) / 1000);
    },
  });
  const retentionDeleted = new Counter({
    name: 'retention_deleted_total',
    help: 'Rows the retention task (RETENTION_DAYS) removed from the database, by kind: messages, statuses, dead_letters.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const erased = new Counter({
    name: 'erased_total',
    help: 'Rows removed by DELETE /messages/{message_id} and DELETE /conversations, by kind: messages, statuses, dead_letters.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of REMOVED_KINDS) {
    retentionDeleted.inc({ kind }, 0);
    erased.inc({ kind }, 0);
  }
  const exportedMessages = new Counter({
    name: 'exported_messages_total',
    help: 'Messages written to GET /messages/export responses, by format.',
    labelNames: ['format'] as const,
    registers: [registry],
  });
  for (const format of EXPORT_FORMATS) exportedMessages.inc({ format }, 0);
  const oldestReceivedAt = { read: async (): Promise<string | null> => null };
  new Gauge({
    name: 'oldest_received_at_seconds',
    help: 'When the oldest message, status or dead letter still kept was received, in Unix seconds (NaN when nothing is kept or the database cannot be read).',
    registers: [registry],
    async collect() {
      // NaN rather than 0 for "nothing": an alert on time() minus this (retention falling behind)
      // must not fire on an empty database.
      const at = await oldestReceivedAt.read().catch(() => null);
      this.set(at === null ? Number.NaN : Date.parse(at) / 1000);
    },
  });
  return {
    registry,
    httpRequests,
    webhookRequests,
    requestLatency,
    whatsappItems,
    readsRefused,
    bodiesInFlight,
    sseClients,
    feedEvents,
    feedHead,
    retentionDeleted,
    erased,
    exportedMessages,
    oldestReceivedAt,
  };
}
