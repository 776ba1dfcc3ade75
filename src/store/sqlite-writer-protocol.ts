// Messages between the main thread and the SQLite writer thread.

import type { Delivery, DeliveryOutcome, IncomingMessage, InsertOutcome } from './store.js';

export type WriterRequest =
  | { readonly type: 'write'; readonly id: number; readonly messages: readonly IncomingMessage[]; readonly createdAt: string }
  | { readonly type: 'deliver'; readonly id: number; readonly delivery: Delivery; readonly createdAt: string }
  | { readonly type: 'close' };

export type WriterReply =
  | { readonly type: 'ready' }
  | { readonly id: number; readonly outcomes: InsertOutcome[] }
  | { readonly id: number; readonly delivered: DeliveryOutcome }
  | { readonly id: number; readonly error: string };
