// Import sequences: the chunks of one file, stored in order, none after one that failed. They let
// `webhook-inbox import` hand a chunk to the store while the one before it is still committing
// (so the SQLite writer thread never waits for the next chunk to be copied over to it) and still
// promise that no line after a failed chunk is stored.

/**
 * Imports that belong together, in order: the chunks of one file. Given to importMessages, it
 * makes each import stored only if every earlier one of the sequence was: one that follows a
 * failure is refused without writing anything, even when it was handed over before that failure
 * was known. Its id is unique within the process (it travels to the SQLite writer thread).
 */
export class ImportSequence {
  static #last = 0;
  readonly id = ++ImportSequence.#last;
}

/** Why an import of a failed sequence was not stored. */
export const IMPORT_REFUSED = 'not stored: an earlier import of the same sequence failed';

/** An import refused, unwritten, because an earlier import of its sequence failed. */
export class ImportRefused extends Error {
  constructor() {
    super(IMPORT_REFUSED);
    this.name = 'ImportRefused';
  }
}

/** A store's record of its import sequences: which failed, and the last import of each still running. */
export class ImportSequences {
  readonly #failed = new Set<number>();
  readonly #last = new Map<number, Promise<unknown>>();

  /**
   * Runs `task`, an import of `sequence` (none: it runs as it is). Refused if the sequence has
   * failed; the sequence fails if the task does. `ordered`: the task first waits for the
   * sequence's import before it, for a store where two imports could otherwise run side by side.
   * Without it the store must keep the order itself, and refuse what follows a failure that it
   * meets before this record learns of it (the SQLite writer thread does both).
   */
  run<T>(sequence: ImportSequence | undefined, task: () => Promise<T>, { ordered }: { ordered: boolean }): Promise<T> {
    if (sequence === undefined) return task();
    const { id } = sequence;
    const previous = ordered ? this.#last.get(id) : undefined;
    const result = (async (): Promise<T> => {
      if (previous !== undefined) await previous.catch(() => {});
      if (this.#failed.has(id)) throw new ImportRefused();
      try {
        return await task();
      } catch (error) {
        this.#failed.add(id);
        throw error;
      }
    })();
    if (ordered) {
      this.#last.set(id, result);
      const forget = (): void => {
        if (this.#last.get(id) === result) this.#last.delete(id);
      };
      result.then(forget, forget);
    }
    return result;
  }
}
