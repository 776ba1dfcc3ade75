// The end-to-end tests' HTTP client side: signed webhooks over real HTTP, reading every stored
// message back through GET /messages, and a small bounded-concurrency pool.

import { connect, type Socket } from 'node:net';
import { hmacHex } from '../helpers/sign.js';

export interface WebhookBody {
  message_id: string;
  from: string;
  to: string;
  ts: string;
  text?: string | null;
}

export function message(id: string, text = `hello ${id}`): WebhookBody {
  return { message_id: id, from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text };
}

/** POSTs `body` (an object is serialised once, so the signature covers exactly the bytes sent). */
export async function postWebhook(
  baseUrl: string,
  secret: string,
  body: object | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; requestId: string | null }> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`${baseUrl}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-signature': hmacHex(secret, raw), ...headers },
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text === '' ? null : JSON.parse(text),
    requestId: response.headers.get('x-request-id'),
  };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text) };
}

interface MessagesPage {
  data: { message_id: string }[];
  total: number;
}

function isMessagesPage(value: unknown): value is MessagesPage {
  if (typeof value !== 'object' || value === null) return false;
  const page = value as Partial<MessagesPage>;
  return Array.isArray(page.data) && typeof page.total === 'number';
}

/** Every stored message_id, in API order, read page by page; fails if the pages disagree with `total`. */
export async function listAllMessageIds(baseUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 100) {
    const { status, json } = await getJson(`${baseUrl}/messages?limit=100&offset=${offset}`);
    if (status !== 200 || !isMessagesPage(json)) throw new Error(`GET /messages answered ${status}: ${JSON.stringify(json)}`);
    ids.push(...json.data.map((item) => item.message_id));
    if (json.data.length < 100) {
      if (ids.length !== json.total) throw new Error(`GET /messages listed ${ids.length} messages but total is ${json.total}`);
      return ids;
    }
  }
}

/** Runs `worker` over `items` with at most `concurrency` at a time; stops taking new items once `stop()` is true. */
export async function runPool<T>(
  items: Iterable<T>,
  concurrency: number,
  worker: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const lane = async (): Promise<void> => {
    for (;;) {
      if (stop()) return;
      const next = iterator.next();
      if (next.done) return;
      await worker(next.value);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

/** How many times each value occurs. */
export function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

/** Raw HTTP over TCP, for what fetch cannot do: send part of a request and stop. */
export interface RawExchange {
  readonly socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  readonly closed: Promise<string>;
}

/** Opens a connection and writes `head` (and nothing more); the caller decides what follows. */
export function rawRequest(port: number, head: string | Buffer): RawExchange {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const closed = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  socket.write(head);
  return { socket, closed };
}

export function webhookHead(contentLength: number | 'chunked', extra = ''): string {
  const length = contentLength === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${contentLength}`;
  return `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${length}\r\nX-Signature: ${'0'.repeat(64)}\r\n${extra}\r\n`;
}

export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? Number.NaN);
}

export function bodyOf(response: string): unknown {
  const at = response.indexOf('\r\n\r\n');
  return JSON.parse(response.slice(at + 4));
}

/** The value of one sample in the server's /metrics, e.g. `webhook_requests_total{result="created"}`. */
export async function metricValue(baseUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}
