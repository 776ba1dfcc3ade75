// What the messages one transaction creates add to the aggregates, computed once for both stores:
// the counts per sender, recipient, type and hour, and per conversation its count, first and last
// message and latest contact name. Each store applies the deltas with upserts in the same
// transaction as the rows, so reads answer totals, conversations and timeseries without counting.
// Pure.

import { hourKey } from './count-plan.js';
import type { IncomingMessage } from './store.js';

/**
 * Code point order, which is the byte order of UTF-8 in which both databases compare text.
 * JavaScript's `<` compares UTF-16 code units instead, and puts a character above U+FFFF (two
 * surrogates, D800–DFFF) before one in E000–FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff && y >= 0xe000) return 1;
    if (y >= 0xd800 && y <= 0xdfff && x >= 0xe000) return -1;
    return x - y;
  }
  return a.length - b.length;
}

/** A message's place in the order: by instant key (ASCII), then message_id. */
function before(a: { tsKey: string; messageId: string }, b: { tsKey: string; messageId: string }): boolean {
  return a.tsKey < b.tsKey || (a.tsKey === b.tsKey && compareCodePoints(a.messageId, b.messageId) < 0);
}

export interface ConversationDelta {
  readonly from: string;
  readonly to: string;
  /** Messages created in this conversation by the transaction. */
  readonly count: number;
  /** The earliest of them. */
  readonly first: { readonly tsKey: string; readonly messageId: string; readonly ts: string };
  /** The latest of them. */
  readonly last: {
    readonly tsKey: string;
    readonly messageId: string;
    readonly ts: string;
    readonly text: string | null;
    readonly type: string | null;
  };
  /** The latest of them that has a contact name, if any. */
  readonly contact: { readonly tsKey: string; readonly messageId: string; readonly name: string } | null;
}

export interface AggregateDeltas {
  readonly perSender: Map<string, number>;
  readonly perRecipient: Map<string, number>;
  /** Messages without a type count nowhere here. */
  readonly perType: Map<string, number>;
  readonly perHour: Map<string, number>;
  /** In (from, to) byte order, so that every writer upserts them in one order. */
  readonly conversations: ConversationDelta[];
}

function add(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** The deltas of messages that a transaction has just created (duplicates already left out). */
export function aggregateDeltas(created: readonly IncomingMessage[]): AggregateDeltas {
  const perSender = new Map<string, number>();
  const perRecipient = new Map<string, number>();
  const perType = new Map<string, number>();
  const perHour = new Map<string, number>();
  const conversations = new Map<string, { -readonly [K in keyof ConversationDelta]: ConversationDelta[K] }>();
  for (const m of created) {
    add(perSender, m.from);
    add(perRecipient, m.to);
    if (m.type !== undefined) add(perType, m.type);
    add(perHour, hourKey(m.tsKey));
    const key = JSON.stringify([m.from, m.to]);
    const last = { tsKey: m.tsKey, messageId: m.messageId, ts: m.ts, text: m.text, type: m.type ?? null };
    const name = m.origin?.contactName ?? null;
    const contact = name === null ? null : { tsKey: m.tsKey, messageId: m.messageId, name };
    const delta = conversations.get(key);
    if (delta === undefined) {
      conversations.set(key, { from: m.from, to: m.to, count: 1, first: last, last, contact });
      continue;
    }
    delta.count++;
    if (before(m, delta.first)) delta.first = last;
    if (before(delta.last, m)) delta.last = last;
    if (contact !== null && (delta.contact === null || before(delta.contact, contact))) delta.contact = contact;
  }
  const ordered = [...conversations.values()].sort((a, b) => compareCodePoints(a.from, b.from) || compareCodePoints(a.to, b.to));
  return { perSender, perRecipient, perType, perHour, conversations: ordered };
}

/** What a message being removed takes out of the aggregates: the columns they are keyed by. */
export interface RemovedMessage {
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
  readonly tsKey: string;
  readonly type: string | null;
}

/** The messages a removal takes out of one conversation. */
export interface ConversationRemoval {
  readonly from: string;
  readonly to: string;
  readonly count: number;
  /** A conversation whose first, last or contact message is among these takes its new one from what is left. */
  readonly messageIds: ReadonlySet<string>;
}

export interface RemovalDeltas {
  readonly perSender: Map<string, number>;
  readonly perRecipient: Map<string, number>;
  readonly perType: Map<string, number>;
  readonly perHour: Map<string, number>;
  /** In (from, to) byte order, like AggregateDeltas.conversations. */
  readonly conversations: ConversationRemoval[];
}

/** What removing these messages (each stored once) subtracts from the aggregates; counts are positive. */
export function removalDeltas(removed: readonly RemovedMessage[]): RemovalDeltas {
  const perSender = new Map<string, number>();
  const perRecipient = new Map<string, number>();
  const perType = new Map<string, number>();
  const perHour = new Map<string, number>();
  const conversations = new Map<string, { from: string; to: string; count: number; messageIds: Set<string> }>();
  for (const m of removed) {
    add(perSender, m.from);
    add(perRecipient, m.to);
    if (m.type !== null) add(perType, m.type);
    add(perHour, hourKey(m.tsKey));
    const key = JSON.stringify([m.from, m.to]);
    const pair = conversations.get(key);
    if (pair === undefined) conversations.set(key, { from: m.from, to: m.to, count: 1, messageIds: new Set([m.messageId]) });
    else {
      pair.count++;
      pair.messageIds.add(m.messageId);
    }
  }
  const ordered = [...conversations.values()].sort((a, b) => compareCodePoints(a.from, b.from) || compareCodePoints(a.to, b.to));
  return { perSender, perRecipient, perType, perHour, conversations: ordered };
}
