// The end-to-end tests' HTTP client side: signed webhooks over real HTTP, reading every stored
// message back through GET /messages, a small bounded-concurrency pool, and a GET /events client
// that reads the text/event-stream itself.

import { type ClientRequest, type IncomingHttpHeaders, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { waitFor } from '../helpers/server.js';
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

/** One Server-Sent Event as the stream framed it. */
export interface ServerSentEvent {
  /** The id field of this event's own lines (not carried over from an earlier event, as EventSource's lastEventId is). */
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
  /** The field lines of the event exactly as received, without the blank line that ends it. */
  readonly lines: readonly string[];
}

/**
 * One GET /events request with its own connection. The body is parsed here, by hand, as
 * text/event-stream is specified, so that the tests check the server's framing independently of
 * any library (the service's own `tail` command reads it with eventsource-parser): lines end with
 * CRLF, LF or CR; a line starting with ':' is a comment; `field: value` (one space after the colon
 * dropped); a blank line dispatches the event, if it has data. Once `close()` is called nothing
 * more is recorded, so the last id kept is the last event the client had whole.
 */
export class EventStream {
  status = 0;
  headers: IncomingHttpHeaders = {};
  /** The whole body, when the answer is not a stream. */
  body = '';
  readonly events: ServerSentEvent[] = [];
  readonly comments: string[] = [];
  /** True once the server ended the response (or the connection closed). */
  ended = false;
  readonly #request: ClientRequest;
  #closed = false;
  #pending = '';
  #lines: string[] = [];
  #fields: { id?: string; event?: string; data: string[] } = { data: [] };

  private constructor(req: ClientRequest) {
    this.#request = req;
  }

  /** Resolves once the response head has arrived. `headers` go with the request (a bearer token, Last-Event-ID). */
  static open(baseUrl: string, urlPath: string, headers: Record<string, string> = {}): Promise<EventStream> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(urlPath, baseUrl), { agent: false, headers: { accept: 'text/event-stream', ...headers } });
      const stream = new EventStream(req);
      req.on('error', (error) => {
        if (stream.status === 0) reject(error);
        stream.ended = true;
      });
      req.on('response', (res) => {
        stream.status = res.statusCode ?? 0;
        stream.headers = res.headers;
        // Decoded as a stream, so that a character split across two chunks arrives whole.
        res.setEncoding('utf8');
        const isStream = String(res.headers['content-type']).startsWith('text/event-stream');
        res.on('data', (chunk: string) => {
          if (isStream) stream.#parse(chunk);
          else stream.body += chunk;
        });
        const end = () => {
          stream.ended = true;
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
        resolve(stream);
      });
      req.end();
    });
  }

  /** Sends the request and goes away at once, without waiting for any answer. */
  static abandon(baseUrl: string, urlPath: string, headers: Record<string, string> = {}): void {
    const req = request(new URL(urlPath, baseUrl), { agent: false, headers: { accept: 'text/event-stream', ...headers } });
    req.on('error', () => {});
    req.end(() => setImmediate(() => req.destroy()));
  }

  #parse(chunk: string): void {
    if (this.#closed) return;
    this.#pending += chunk;
    // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
    const cut = this.#pending.endsWith('\r') ? this.#pending.length - 1 : this.#pending.length;
    const parts = this.#pending.slice(0, cut).split(/\r\n|\r|\n/);
    this.#pending = (parts.pop() ?? '') + this.#pending.slice(cut);
    for (const line of parts) this.#line(line);
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#fields.data.length > 0) {
        this.events.push({
          id: this.#fields.id,
          event: this.#fields.event,
          data: this.#fields.data.join('\n'),
          lines: this.#lines,
        });
      }
      this.#fields = { data: [] };
      this.#lines = [];
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    this.#lines.push(line);
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#fields.data.push(value);
    else if (field === 'id') this.#fields.id = value;
    else if (field === 'event') this.#fields.event = value;
  }

  /** The events' ids, as numbers. */
  get ids(): number[] {
    return this.events.map((event) => Number(event.id));
  }

  /** The last event's id, as a number. */
  get lastId(): number | undefined {
    const id = this.events.at(-1)?.id;
    return id === undefined ? undefined : Number(id);
  }

  /** Waits until at least `count` events have arrived. */
  async waitForEvents(count: number, what = `${count} events`, timeoutMs?: number): Promise<ServerSentEvent[]> {
    await waitFor(what, () => this.events.length >= count || (this.ended && 'ended'), timeoutMs);
    if (this.events.length < count) throw new Error(`the stream ended after ${this.events.length} events, waiting for ${what}`);
    return this.events.slice(0, count);
  }

  /** Waits until the stream has delivered the event at `position` (or a later one). */
  async waitForPosition(position: number, what: string, timeoutMs?: number): Promise<void> {
    await waitFor(what, () => (this.lastId ?? 0) >= position || (this.ended && 'ended'), timeoutMs);
    if ((this.lastId ?? 0) < position) {
      throw new Error(`the stream ended at id ${this.lastId} (status ${this.status}) waiting for ${what}: ${this.body}`);
    }
  }

  /** The client goes away: the connection is destroyed mid-stream, and nothing more is recorded. */
  close(): void {
    this.#closed = true;
    this.#request.destroy();
  }
}
