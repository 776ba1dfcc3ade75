// Which aggregate answers the total of a message listing, decided once for both databases: each
// store turns the plan into its own SQL. The aggregates (totals, sender_counts, hour_counts) are
// kept in the same transaction as the messages, so a plan's answer is as exact as counting.

import type { MessageFilter } from './store.js';

/** The characters of an instant key that name its UTC hour: 'YYYY-MM-DDTHH'. */
const HOUR_KEY_LENGTH = 13;

/** The hour_counts key of a message: the UTC hour of its instant key. */
export function hourKey(tsKey: string): string {
  return tsKey.slice(0, HOUR_KEY_LENGTH);
}

export type CountPlan =
  /** No filter: the totals row. */
  | { readonly kind: 'total' }
  /** Only a sender: its sender_counts row (none: 0). */
  | { readonly kind: 'sender'; readonly from: string }
  /**
   * Only `since`: the hour_counts of the whole hours after `hour` (the one sinceKey falls in),
   * plus the messages of that hour at or after sinceKey, that is with sinceKey <= ts_key < hourEnd.
   */
  | { readonly kind: 'since'; readonly sinceKey: string; readonly hour: string; readonly hourEnd: string }
  /** A search term or several filters: no aggregate fits, so the matching messages are counted. */
  | { readonly kind: 'scan' };

export function countPlan(filter: MessageFilter): CountPlan {
  const { from, sinceKey, q } = filter;
  if (q !== undefined) return { kind: 'scan' };
  if (from === undefined && sinceKey === undefined) return { kind: 'total' };
  if (from !== undefined && sinceKey === undefined) return { kind: 'sender', from };
  if (from === undefined && sinceKey !== undefined) {
    const hour = hourKey(sinceKey);
    // ';' follows ':' in byte order, so every key of the hour ('YYYY-MM-DDTHH:…') sorts below hourEnd.
    return { kind: 'since', sinceKey, hour, hourEnd: `${hour};` };
  }
  return { kind: 'scan' };
}
