// Messages between the main thread and a SQLite reader thread.

import type { ReadRequest } from './reads.js';

export type ReaderRequest =
  | { readonly type: 'read'; readonly id: number; readonly read: ReadRequest }
  | { readonly type: 'close' };

/** `answer` is the ReadAnswers entry of the request's kind; `error`, the message of what the read threw. */
export type ReaderReply =
  | { readonly type: 'ready' }
  | { readonly type: 'answer'; readonly id: number; readonly answer: unknown }
  | { readonly type: 'failed'; readonly id: number; readonly error: string };
