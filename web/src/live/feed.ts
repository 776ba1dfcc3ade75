// Follows GET /events for the whole page and hands each event to the views that listen.
//
// fetch() and eventsource-parser rather than EventSource: EventSource cannot send the
// Authorization header the API wants when API_TOKEN is set. What EventSource would do is done
// here: resume after a drop with Last-Event-ID (the server sends every event after it, so nothing
// is missed while the connection was down), and retry with a growing delay, for as long as the
// page is open, so the stream comes back by itself after a server restart.

import { createParser } from 'eventsource-parser';
import { apiUrl, authHeaders, type FeedItem, reportUnauthorized } from '../api/client';

export type LiveState = 'connecting' | 'live' | 'offline';

type EventListener = (event: FeedItem) => void;
type StateListener = (state: LiveState) => void;

/** The server writes a comment at least every 10 s: a stream silent for longer than this is dead. */
const SILENCE_MS = 35_000;
const FIRST_RETRY_MS = 500;
/** Short enough that a restarted server is noticed within seconds. */
const MAX_RETRY_MS = 5_000;

function isFeedItem(value: unknown): value is FeedItem {
  return (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    typeof value.type === 'string' &&
    'position' in value &&
    'data' in value &&
    typeof value.data === 'object' &&
    value.data !== null
  );
}

export class LiveFeed {
  private readonly eventListeners = new Set<EventListener>();
  private readonly stateListeners = new Set<StateListener>();
  private current: LiveState = 'connecting';
  private lastEventId: string | null = null;
  private controller: AbortController | null = null;
  private generation = 0;

  get state(): LiveState {
    return this.current;
  }

  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** (Re)starts following the stream, e.g. once a token has been entered. */
  start(): void {
    this.stop();
    const generation = ++this.generation;
    void this.run(generation);
  }

  /** Stops following (until start): the state says offline. */
  stop(): void {
    this.generation++;
    this.controller?.abort();
    this.controller = null;
    this.setState('offline');
  }

  private setState(state: LiveState): void {
    if (state === this.current) return;
    this.current = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private async run(generation: number): Promise<void> {
    let failures = 0;
    this.setState('connecting');
    while (generation === this.generation) {
      const outcome = await this.follow(generation);
      if (generation !== this.generation || outcome === 'unauthorized') return;
      if (outcome === 'dropped') {
        // It was live until now: try again at once, showing that it is reconnecting.
        failures = 0;
        this.setState('connecting');
        continue;
      }
      // The attempt failed: offline until an attempt succeeds (not flickering on every retry).
      failures++;
      this.setState('offline');
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
      // Jitter, so that many tabs do not come back at the same instant.
      await new Promise((resolve) => setTimeout(resolve, delay * (0.75 + Math.random() * 0.5)));
    }
  }

  /** One connection: 'dropped' after it was established, 'failed' if it never was. */
  private async follow(generation: number): Promise<'dropped' | 'failed' | 'unauthorized'> {
    const controller = new AbortController();
    this.controller = controller;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const heard = (): void => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    let established = false;
    try {
      const response = await fetch(apiUrl('/events'), {
        headers: {
          Accept: 'text/event-stream',
          ...authHeaders(),
          ...(this.lastEventId !== null ? { 'Last-Event-ID': this.lastEventId } : {}),
        },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 401) {
        this.setState('offline');
        reportUnauthorized();
        return 'unauthorized';
      }
      if (!response.ok || response.body === null) return 'failed';
      established = true;
      this.setState('live');
      heard();
      const parser = createParser({
        onEvent: (message) => {
          if (message.id !== undefined && message.id !== '') this.lastEventId = message.id;
          let item: unknown;
          try {
            item = JSON.parse(message.data);
          } catch {
            return; // Not an event this page can read; the next one may be.
          }
          if (isFeedItem(item)) for (const listener of this.eventListeners) listener(item);
        },
        onComment: heard,
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      while (generation === this.generation) {
        const { done, value } = await reader.read();
        if (done) break;
        heard();
        parser.feed(value);
      }
      return 'dropped';
    } catch {
      return established ? 'dropped' : 'failed';
    } finally {
      clearTimeout(silence);
      controller.abort();
    }
  }
}

/** The page's one subscription. */
export const liveFeed = new LiveFeed();
