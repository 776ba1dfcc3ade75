// Messages between the main thread and the SQLite writer thread.

import type { IncomingMessage, InsertOutcome } from './store.js';

export type WriterRequest =
  | { readonly type: 'write'; readonly id: number; readonly messages: readonly IncomingMessage[]; readonly createdAt: string }
  | { readonly type: 'close' };

export type WriterReply =
  | { readonly type: 'ready' }
  | { readonly id: number; readonly outcomes: InsertOutcome[] }
  | { readonly id: number; readonly error: string };
