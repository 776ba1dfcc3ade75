// Which aggregate answers the total of a message listing, and how a time window splits into whole
// hours (from hour_counts) and the rows of its edge hours, decided once for both databases: each
// store turns a plan into its own SQL. The aggregates (totals, sender_counts, recipient_counts,
// type_counts, conversations, hour_counts) are kept in the same transaction as the messages, so a
// plan's answer is as exact as counting.

import type { MessageFilter } from './store.js';

/** The characters of an instant key that name its UTC hour: 'YYYY-MM-DDTHH'. */
const HOUR_KEY_LENGTH = 13;

/** The hour_counts key of a message: the UTC hour of its instant key. */
export function hourKey(tsKey: string): string {
  return tsKey.slice(0, HOUR_KEY_LENGTH);
}

/**
 * Instant keys counted from the messages themselves: fromKey <= ts_key < toKey. An hour key is a
 * bound too: 'YYYY-MM-DDTHH' sorts before every key of its hour, and 'YYYY-MM-DDTHH;' after them
 * (';' follows ':' in byte order).
 */
export interface KeyRange {
  readonly fromKey: string;
  readonly toKey: string;
}

/**
 * The messages with sinceKey <= instant < untilKey (either bound may be open), counted as the
 * hour_counts rows strictly between `afterHour` and `beforeHour` (each bound only when set) plus
 * the messages of the `ranges`: the parts of the edge hours inside the window. `empty` when no
 * instant can be inside.
 */
export type HourWindow =
  | { readonly empty: true }
  | {
      readonly empty: false;
      /** Whole hours, or none when the window lies inside one hour. */
      readonly hours: { readonly afterHour?: string; readonly beforeHour?: string } | null;
      readonly ranges: readonly KeyRange[];
    };

/** The key just past every key of an hour. */
export function hourEnd(hour: string): string {
  return `${hour};`;
}

export function hourWindow(sinceKey: string | undefined, untilKey: string | undefined): HourWindow {
  if (sinceKey !== undefined && untilKey !== undefined && sinceKey >= untilKey) return { empty: true };
  const sinceHour = sinceKey === undefined ? undefined : hourKey(sinceKey);
  const untilHour = untilKey === undefined ? undefined : hourKey(untilKey);
  if (sinceKey !== undefined && untilKey !== undefined && sinceHour === untilHour) {
    return { empty: false, hours: null, ranges: [{ fromKey: sinceKey, toKey: untilKey }] };
  }
  const ranges: KeyRange[] = [];
  if (sinceKey !== undefined && sinceHour !== undefined) ranges.push({ fromKey: sinceKey, toKey: hourEnd(sinceHour) });
  if (untilKey !== undefined && untilHour !== undefined) ranges.push({ fromKey: untilHour, toKey: untilKey });
  return {
    empty: false,
    hours: {
      ...(sinceHour !== undefined ? { afterHour: sinceHour } : {}),
      ...(untilHour !== undefined ? { beforeHour: untilHour } : {}),
    },
    ranges,
  };
}

export type CountPlan =
  /** No filter: the totals row. */
  | { readonly kind: 'total' }
  /** Only a sender: its sender_counts row (none: 0). */
  | { readonly kind: 'sender'; readonly from: string }
  /** Only a recipient: its recipient_counts row. */
  | { readonly kind: 'recipient'; readonly to: string }
  /** Only a type: its type_counts row. */
  | { readonly kind: 'type'; readonly type: string }
  /** Exactly a sender and a recipient: their conversation's message count. */
  | { readonly kind: 'conversation'; readonly from: string; readonly to: string }
  /** Only `since` and/or `until`: the hours of the window (see hourWindow). */
  | { readonly kind: 'window'; readonly window: HourWindow }
  /** A search term or another mix of filters: no aggregate fits, so the matching messages are counted. */
  | { readonly kind: 'scan' };

export function countPlan(filter: MessageFilter): CountPlan {
  const { from, to, type, sinceKey, untilKey, q } = filter;
  const time = sinceKey !== undefined || untilKey !== undefined;
  const set = [from, to, type, q].filter((value) => value !== undefined).length;
  if (q !== undefined || (time && set > 0)) return { kind: 'scan' };
  if (time) return { kind: 'window', window: hourWindow(sinceKey, untilKey) };
  if (set === 0) return { kind: 'total' };
  if (set === 1) {
    if (from !== undefined) return { kind: 'sender', from };
    if (to !== undefined) return { kind: 'recipient', to };
    if (type !== undefined) return { kind: 'type', type };
  }
  if (set === 2 && from !== undefined && to !== undefined) return { kind: 'conversation', from, to };
  return { kind: 'scan' };
}
