// `webhook-inbox tail`: follows GET /events (Server-Sent Events) and prints one line per event. A
// dropped connection is opened again with Last-Event-ID, so nothing is missed or printed twice;
// Ctrl-C ends it with exit code 0.

import { type Command, InvalidArgumentError, Option } from 'commander';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { PHONE_PATTERN } from '../ingest/message.js';
import { FEED_EVENT_TYPES, type FeedEventType } from '../store/store.js';
import { CliError, callService, describeAnswer, type ServiceOptions, withServiceOptions } from './command.js';

interface TailOptions extends ServiceOptions {
  readonly after?: number;
  readonly from?: string;
  readonly to?: string;
  readonly types?: string;
  readonly json?: boolean;
}

/** Waits before opening a dropped stream again: the first time at once-ish, then longer, up to the last. */
const RECONNECT_DELAYS_MS = [250, 1000, 2000, 5000];
/**
 * The service sends a comment at least every 15 s: a stream silent for longer is a connection
 * that died without a word (a peer gone, a proxy that dropped it), to be opened again.
 */
const SILENCE_LIMIT_MS = 45_000;

function position(raw: string): number {
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw new InvalidArgumentError('expected a position, 0 or more');
  return Number(raw);
}

function phone(raw: string): string {
  if (!PHONE_PATTERN.test(raw)) throw new InvalidArgumentError('expected + and 1 to 15 digits');
  return raw;
}

function eventTypes(raw: string): string {
  const unknown = raw.split(',').filter((type) => !(FEED_EVENT_TYPES as readonly string[]).includes(type));
  if (unknown.length > 0) throw new InvalidArgumentError(`expected a comma-separated list of ${FEED_EVENT_TYPES.join(', ')}`);
  return raw;
}

export function tailCommand(program: Command): Command {
  return withServiceOptions(
    program
      .command('tail')
      .summary('follow the feed of stored events, live')
      .description(
        'Follows GET /events and prints one line per stored event: messages, delivery statuses and dead letters, ' +
          'in commit order. Starts at the current end (or after --after N); after a dropped connection it resumes ' +
          'after the last event printed. Ctrl-C stops it (exit code 0).',
      )
      .addOption(
        new Option('--after <position>', 'start after this position of the feed (default: the current end)').argParser(position),
      )
      .addOption(new Option('--from <phone>', 'only messages from this sender').argParser(phone))
      .addOption(new Option('--to <phone>', 'only messages to this recipient').argParser(phone))
      .addOption(
        new Option('--types <types>', `only these event types, comma-separated: ${FEED_EVENT_TYPES.join(', ')}`).argParser(
          eventTypes,
        ),
      )
      .option('--json', 'print each feed item as one line of JSON, as GET /feed gives it'),
  ).action(async (_options: unknown, command: Command) => {
    await tail(command.opts<TailOptions>());
  });
}

interface FeedItemLine {
  readonly position: number;
  readonly type: FeedEventType;
  readonly received_at: string;
  readonly data: Record<string, unknown>;
}

const show = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** One line for people: position, time stored, type, then what the event is about. */
export function humanLine(item: FeedItemLine): string {
  const d = item.data;
  const head = `#${item.position} ${item.received_at} ${item.type}`;
  switch (item.type) {
    case 'message.created': {
      const text = d.text === null || d.text === undefined ? `(${show(d.type ?? 'no text')})` : JSON.stringify(d.text);
      return `${head} ${show(d.message_id)} ${show(d.from)} → ${show(d.to)} ${text}`;
    }
    case 'status.created':
      return `${head} ${show(d.message_id)} ${show(d.status)}${d.recipient_id ? ` (recipient ${show(d.recipient_id)})` : ''}`;
    case 'dead_letter.created':
      return `${head} ${show(d.kind)}${d.item_id ? ` ${show(d.item_id)}` : ''}: ${show(d.reason)}`;
    default:
      return `${head} ${JSON.stringify(d)}`;
  }
}

/** Answers that no retry can change: a bad token, a bad parameter, a URL that is not the service. */
function permanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

async function tail(options: TailOptions): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const query = new URLSearchParams();
  if (options.from !== undefined) query.set('from', options.from);
  if (options.to !== undefined) query.set('to', options.to);
  if (options.types !== undefined) query.set('types', options.types);
  if (options.after !== undefined) query.set('after', String(options.after));
  const path = `/events${query.size > 0 ? `?${query}` : ''}`;

  let lastId: string | undefined;
  let connectedOnce = false;
  let failures = 0;
  const print = (event: EventSourceMessage) => {
    if (event.id !== undefined) lastId = event.id;
    if (options.json === true) {
      process.stdout.write(`${event.data}\n`);
      return;
    }
    let item: FeedItemLine;
    try {
      item = JSON.parse(event.data) as FeedItemLine;
    } catch {
      process.stdout.write(`${event.event ?? 'message'} ${event.data}\n`);
      return;
    }
    process.stdout.write(`${humanLine(item)}\n`);
  };

  try {
    while (!stop.signal.aborted) {
      // The header wins over ?after= on the service: a reconnection resumes after the last event printed.
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastId !== undefined) headers['last-event-id'] = lastId;
      const connection = new AbortController();
      const abortConnection = () => connection.abort();
      stop.signal.addEventListener('abort', abortConnection, { once: true });
      let silence: NodeJS.Timeout | undefined;
      const heard = () => {
        clearTimeout(silence);
        silence = setTimeout(abortConnection, SILENCE_LIMIT_MS);
      };
      let reason: string;
      try {
        const response = await callService(options, path, { headers, signal: connection.signal });
        if (response.status !== 200) {
          const answer = await describeAnswer(response);
          if (permanent(response.status) || !connectedOnce) throw new CliError(answer);
          reason = answer;
        } else {
          if (response.body === null) throw new CliError('the service answered without a body');
          connectedOnce = true;
          failures = 0;
          const parser = createParser({ onEvent: print });
          const decoder = new TextDecoder();
          heard();
          for await (const chunk of response.body) {
            heard();
            parser.feed(decoder.decode(chunk, { stream: true }));
          }
          reason = 'the service ended the stream';
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        if (error instanceof CliError && !connectedOnce) throw error;
        reason =
          error instanceof Error ? (error.message === 'terminated' ? 'the connection was lost' : error.message) : String(error);
      } finally {
        clearTimeout(silence);
        stop.signal.removeEventListener('abort', abortConnection);
      }
      if (stop.signal.aborted) break;
      const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)] ?? 1000;
      failures++;
      process.stderr.write(
        `webhook-inbox tail: ${reason}; reconnecting in ${delay / 1000} s${lastId === undefined ? '' : ` to resume after #${lastId}`}\n`,
      );
      await sleep(delay, stop.signal);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
