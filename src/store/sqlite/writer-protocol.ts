// Messages between the main thread and the SQLite writer thread.

import type { DeliveryOutcome, Removal } from '../store.js';
import type { CheckpointSettings } from './checkpoint.js';
import type { FileIdentities } from './connection.js';
import type { RemovalRequest, WritePart } from './writer.js';

/**
 * An insertMany batch or an import travels as a part with messages only, a provider delivery as
 * itself; an erasure or a retention batch as what it removes.
 */
export type WriterRequest =
  /** `sequence`: the id of the ImportSequence an import belongs to. */
  | { readonly type: 'commit'; readonly id: number; readonly part: WritePart; readonly sequence?: number }
  | { readonly type: 'remove'; readonly id: number; readonly removal: RemovalRequest }
  | { readonly type: 'close' };

/**
 * What became of one request. `unavailable`: the error was a StoreUnavailable (the database files
 * gone from their path), which a structured clone would turn into a plain Error.
 */
export type WriterAnswer =
  | { readonly id: number; readonly outcome: DeliveryOutcome }
  /** writerMs: how long the removal's transaction ran on the thread (see PurgeBatch). */
  | { readonly id: number; readonly removed: Removal; readonly writerMs: number }
  | { readonly id: number; readonly error: string; readonly unavailable: boolean };

/** What the thread is started with: the path, the files the main thread opened on it, and its settings. */
export interface WriterData extends CheckpointSettings {
  readonly file: string;
  readonly opened: FileIdentities;
  /** The write connection's page cache, when not the writer role's (see BULK_WRITER_CACHE_KIB). */
  readonly cacheKiB?: number;
  /** The connection's wal_autocheckpoint, in pages, instead of the default (see openConnection). */
  readonly autocheckpointPages?: number;
}

/**
 * `answers`: every request one transaction held, in one message, so a commit that merged many
 * requests costs the main thread one message event rather than one per request.
 */
export type WriterReply = { readonly type: 'ready' } | { readonly type: 'answers'; readonly answers: readonly WriterAnswer[] };
