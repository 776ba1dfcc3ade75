// Retention, decided once for both stores: which of the oldest rows one purge batch removes, so
// that a batch stays within its size whatever mix of messages, statuses and dead letters is
// oldest, and the instants a cutoff or an imported row is compared as. Pure.

import type { Removal } from './store.js';

/** Nothing removed. */
export const NOTHING_REMOVED: Removal = { messages: 0, statuses: 0, deadLetters: 0 };

/** The counts of a removal alone (a PurgeBatch without its timing). */
export function removalCounts(removal: Removal): Removal {
  return { messages: removal.messages, statuses: removal.statuses, deadLetters: removal.deadLetters };
}

/**
 * The instant a client gave (a cutoff, an imported received_at), as the stores write their own
 * server times: ISO-8601 UTC with milliseconds and Z. Both stores compare received_at in that
 * form (SQLite as text), so a value in any other spelling would compare wrongly.
 */
export function storedInstant(value: string, what: string): string {
  const time = Date.parse(value);
  if (!Number.isFinite(time)) throw new RangeError(`${what} is not an instant: ${JSON.stringify(value)}`);
  return new Date(time).toISOString();
}

/** One of the oldest rows received before the cutoff, as a store lists them oldest first. */
export type PurgeCandidate =
  /** `statuses`: every status its message id has now, whatever its age: they go with it. */
  | { readonly kind: 'message'; readonly messageId: string; readonly statuses: readonly string[] }
  | { readonly kind: 'status'; readonly messageId: string; readonly status: string }
  | { readonly kind: 'deadLetter'; readonly id: number };

/** The rows one purge batch removes. */
export interface PurgeBatch {
  /** Each with every status of its id. */
  readonly messages: string[];
  /** Statuses removed on their own, as [message id, status]: none of them belongs to `messages`. */
  readonly statuses: [string, string][];
  readonly deadLetters: number[];
}

/**
 * Takes candidates oldest first while the rows they remove (a message with its statuses) stay
 * within `limit`, and stops at the first that would pass it, so every batch removes the oldest
 * rows and the next batch goes on from there. The first candidate is always taken, even a message
 * with more statuses than the limit, so that every batch makes progress.
 */
export function purgeBatch(candidates: readonly PurgeCandidate[], limit: number): PurgeBatch {
  const batch: PurgeBatch = { messages: [], statuses: [], deadLetters: [] };
  const key = (messageId: string, status: string) => JSON.stringify([messageId, status]);
  const taken = new Set<string>();
  const wholeIds = new Set<string>();
  let used = 0;
  for (const c of candidates) {
    let cost: number;
    if (c.kind === 'message') cost = 1 + c.statuses.filter((s) => !taken.has(key(c.messageId, s))).length;
    else if (c.kind === 'status') cost = taken.has(key(c.messageId, c.status)) || wholeIds.has(c.messageId) ? 0 : 1;
    else cost = 1;
    if (cost === 0) continue;
    if (used > 0 && used + cost > limit) break;
    used += cost;
    if (c.kind === 'message') {
      batch.messages.push(c.messageId);
      wholeIds.add(c.messageId);
      for (const s of c.statuses) taken.add(key(c.messageId, s));
    } else if (c.kind === 'status') {
      batch.statuses.push([c.messageId, c.status]);
      taken.add(key(c.messageId, c.status));
    } else {
      batch.deadLetters.push(c.id);
    }
  }
  // A status taken on its own before its message was taken goes with the message instead.
  return { ...batch, statuses: batch.statuses.filter(([id]) => !wholeIds.has(id)) };
}
