// The ingest rate and the webhook results over the last minutes, from GET /metrics polled while the
// overview is open. Counters only say "so many since the process started": the rates come from the
// differences between samples, kept for the page's life (so leaving the overview and coming back
// keeps the history).

import { getText } from '../api/client';
import { parseSamples } from './prometheus';

export const POLL_MS = 5_000;
/** How much history the overview shows. */
export const WINDOW_MS = 10 * 60_000;

const WEBHOOK_RESULTS = 'webhook_requests_total';
/** Rows this process stored, by event type: every message counts, whatever form it came in. */
const FEED_EVENTS = 'feed_events_total';
const NAMES = new Set([WEBHOOK_RESULTS, FEED_EVENTS]);

export interface MetricsSample {
  /** When it was read (ms). */
  readonly at: number;
  /** webhook_requests_total by result. */
  readonly results: Readonly<Record<string, number>>;
  /** feed_events_total of message.created: messages this process has stored. */
  readonly stored: number;
}

const history: MetricsSample[] = [];

export function metricsHistory(): readonly MetricsSample[] {
  return history;
}

/** Reads /metrics once and adds the sample to the history. */
export async function sampleMetrics(signal: AbortSignal): Promise<readonly MetricsSample[]> {
  const text = await getText('/metrics', { signal });
  const results: Record<string, number> = {};
  let stored = 0;
  for (const sample of parseSamples(text, NAMES)) {
    const { result, type } = sample.labels;
    if (sample.name === WEBHOOK_RESULTS && result !== undefined) results[result] = (results[result] ?? 0) + sample.value;
    if (sample.name === FEED_EVENTS && type === 'message.created') stored += sample.value;
  }
  const now = Date.now();
  history.push({ at: now, results, stored });
  while (history.length > 0 && (history[0]?.at ?? now) < now - WINDOW_MS) history.shift();
  return history;
}

/**
 * How much a counter grew between two samples. A counter that went down was reset (the server
 * restarted): what it holds now all came after the restart.
 */
export function growth(before: number | undefined, after: number | undefined): number {
  const a = after ?? 0;
  const b = before ?? 0;
  return a >= b ? a - b : a;
}

/** Messages stored per second between consecutive samples. */
export function ingestRates(samples: readonly MetricsSample[]): { times: number[]; rates: number[] } {
  const times: number[] = [];
  const rates: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const previous = samples[i - 1];
    const current = samples[i];
    if (previous === undefined || current === undefined) continue;
    const seconds = (current.at - previous.at) / 1000;
    if (seconds <= 0) continue;
    times.push(current.at / 1000);
    rates.push(growth(previous.stored, current.stored) / seconds);
  }
  return { times, rates };
}
