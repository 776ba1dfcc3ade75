// Shared pieces of the HTTP-tier tests: a fresh app per test, message payloads, typed response
// bodies and a small reader for the Prometheus text format.

import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach } from 'vitest';
import { makeTestApp, type TestApp, type TestAppOptions, testStoreKind } from '../helpers/app.js';
import { useTestDatabase } from '../helpers/postgres.js';

/**
 * Builds a fresh app (own log capture, and an empty store: its own SQLite file, or on PostgreSQL
 * this block's own database, emptied) before each test and closes it after.
 */
export function useTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): () => TestApp {
  const database = testStoreKind() === 'postgres' ? useTestDatabase('http') : null;
  let current: TestApp | undefined;
  beforeEach(async () => {
    current = await makeTestApp(env, database === null ? undefined : await database(), options);
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('useTestApp: the app exists only inside a test');
    return current;
  };
}

export interface MessagePayload {
  message_id?: unknown;
  from?: unknown;
  to?: unknown;
  ts?: unknown;
  text?: unknown;
  [extra: string]: unknown;
}

/** A valid webhook payload; `overrides` replace fields, and a field set to undefined is left out. */
export function message(overrides: MessagePayload = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    message_id: 'm1',
    from: '+919876543210',
    to: '+14155550100',
    ts: '2025-01-15T10:00:00Z',
    text: 'Hello',
  };
  const merged: Record<string, unknown> = { ...base, ...overrides };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return merged;
}

export interface MessageItem {
  message_id: string;
  from: string;
  to: string;
  ts: string;
  text: string | null;
}

export interface MessagesBody {
  data: MessageItem[];
  total: number;
  limit: number;
  offset: number;
}

export interface StatsBody {
  total_messages: number;
  senders_count: number;
  messages_per_sender: { from: string; count: number }[];
  first_message_ts: string | null;
  last_message_ts: string | null;
}

export interface ValidationBody {
  detail: { loc: (string | number)[]; msg: string; type: string }[];
}

export async function getMessages(t: TestApp, query = ''): Promise<MessagesBody> {
  const res = await t.app.inject({ method: 'GET', url: `/messages${query}` });
  if (res.statusCode !== 200) throw new Error(`GET /messages${query} answered ${res.statusCode}: ${res.body}`);
  return res.json<MessagesBody>();
}

/** Every stored message, in API order (at most 100, which is all these tests store). */
export async function allMessages(t: TestApp): Promise<MessageItem[]> {
  return (await getMessages(t, '?limit=100')).data;
}

export async function storedCount(t: TestApp): Promise<number> {
  return (await getMessages(t)).total;
}

/** Posts each payload signed, one after another, and insists every one is accepted. */
export async function storeAll(t: TestApp, payloads: readonly Record<string, unknown>[]): Promise<void> {
  for (const payload of payloads) {
    const res = await t.postSigned(payload);
    if (res.statusCode !== 200) throw new Error(`storing ${JSON.stringify(payload)} answered ${res.statusCode}: ${res.body}`);
  }
}

/** The locations named by a 422 body, each joined with '.', e.g. 'body.from' or 'query.limit'. */
export function failingLocations(res: LightMyRequestResponse): string[] {
  const body = res.json<ValidationBody>();
  return body.detail.map((d) => d.loc.join('.'));
}

/** Checks the FastAPI/Pydantic-style 422 shape and returns the body. */
export function expectValidationShape(res: LightMyRequestResponse): ValidationBody {
  if (res.statusCode !== 422) throw new Error(`expected 422, got ${res.statusCode}: ${res.body}`);
  const body = res.json<ValidationBody>();
  if (!Array.isArray(body.detail) || body.detail.length === 0) throw new Error(`422 without a detail list: ${res.body}`);
  for (const d of body.detail) {
    const ok =
      Array.isArray(d.loc) && d.loc.length > 0 && typeof d.msg === 'string' && d.msg !== '' && typeof d.type === 'string';
    if (!ok) throw new Error(`422 detail entry not in loc/msg/type form: ${JSON.stringify(d)}`);
  }
  return body;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the sample lines of a Prometheus text exposition (comments skipped). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name = '', rawLabels = '', value = ''] = m;
    const labels: Record<string, string> = {};
    for (const lm of rawLabels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      const [, key = '', val = ''] = lm;
      labels[key] = val.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name, labels, value: value === '+Inf' ? Number.POSITIVE_INFINITY : Number(value) });
  }
  return samples;
}

/** The value of the one sample with this name and exactly these labels, or undefined. */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  const found = samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value;
}

export async function scrape(t: TestApp): Promise<Sample[]> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`);
  return parseSamples(res.body);
}

/** POST /webhook with exactly these bytes and headers (no signature is added). */
export function postWebhook(
  t: TestApp,
  body: string | Buffer | object,
  headers: Record<string, string | string[]> = {},
): Promise<LightMyRequestResponse> {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return t.app.inject({ method: 'POST', url: '/webhook', payload, headers: { 'content-type': 'application/json', ...headers } });
}

/** The raw bytes of a WhatsApp envelope fixture (test/fixtures/whatsapp/<name>.json), exactly as stored. */
export function whatsappFixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/whatsapp/${name}.json`, import.meta.url));
}

/** The value at `path` inside parsed JSON, or undefined when the path leads nowhere. */
export function jsonAt(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[step];
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, step)) {
        return undefined;
      }
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

export interface StatusItem {
  status: string;
  ts: string;
  recipient_id: string | null;
  errors: unknown;
}

export interface MessageDetailBody {
  message_id: string;
  from: string | null;
  to: string | null;
  ts: string | null;
  text: string | null;
  type: string | null;
  statuses: StatusItem[];
}

export interface DeadLetterItem {
  id: number;
  received_at: string;
  source: string;
  kind: string;
  reason: string;
  item_id: string | null;
  item: unknown;
}

export interface DeadLettersBody {
  data: DeadLetterItem[];
  total: number;
  limit: number;
  offset: number;
}

/** GET /messages/{message_id}, the id percent-encoded as a client would. */
export function getMessageDetail(
  t: TestApp,
  messageId: string,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url: `/messages/${encodeURIComponent(messageId)}`, headers });
}

/** The detail of a message that must exist. */
export async function messageDetail(t: TestApp, messageId: string): Promise<MessageDetailBody> {
  const res = await getMessageDetail(t, messageId);
  if (res.statusCode !== 200) throw new Error(`GET /messages/${messageId} answered ${res.statusCode}: ${res.body}`);
  return res.json<MessageDetailBody>();
}

export async function getDeadLetters(t: TestApp, query = ''): Promise<DeadLettersBody> {
  const res = await t.app.inject({ method: 'GET', url: `/dead-letters${query}` });
  if (res.statusCode !== 200) throw new Error(`GET /dead-letters${query} answered ${res.statusCode}: ${res.body}`);
  return res.json<DeadLettersBody>();
}

/** Every dead letter, oldest first, read page by page. */
export async function allDeadLetters(t: TestApp): Promise<DeadLetterItem[]> {
  const all: DeadLetterItem[] = [];
  for (;;) {
    const page = await getDeadLetters(t, `?limit=100&offset=${all.length}`);
    all.push(...page.data);
    if (page.data.length === 0 || all.length >= page.total) return all;
  }
}

export async function getStats(t: TestApp): Promise<StatsBody> {
  const res = await t.app.inject({ method: 'GET', url: '/stats' });
  if (res.statusCode !== 200) throw new Error(`GET /stats answered ${res.statusCode}: ${res.body}`);
  return res.json<StatsBody>();
}

/** The log lines written while serving the request this response answers (found by its X-Request-ID). */
export function logLinesOf(t: TestApp, res: LightMyRequestResponse): Record<string, unknown>[] {
  const id = res.headers['x-request-id'];
  if (typeof id !== 'string') throw new Error(`response without X-Request-ID: ${res.statusCode}`);
  return t.logs.filter((l) => l.request_id === id);
}

/** The one "request completed" line of the request this response answers. */
export function requestLine(t: TestApp, res: LightMyRequestResponse): Record<string, unknown> {
  const lines = logLinesOf(t, res).filter((l) => l.msg === 'request completed');
  const [line] = lines;
  if (lines.length !== 1 || line === undefined) throw new Error(`expected one request line, found ${JSON.stringify(lines)}`);
  return line;
}
