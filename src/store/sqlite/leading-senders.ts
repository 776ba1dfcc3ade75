// The senders /stats names first, kept without an index of every sender by count (migration 10).
//
// An index of sender_counts by (count DESC, sender) moved one entry per sender on every commit:
// a delete at the sender's old count and an insert at its new one, each on a page of its own for
// most senders, about a tenth of the pages a small commit wrote. /stats only ever shows the first
// ten. So the store keeps a short table of the leading senders (LEADING_SENDERS of them) and a
// bound: the standing that no sender outside the table is ahead of. A member ahead of the bound is
// certainly ahead of every sender outside; those members, in order, are the exact head of the
// ranking. Growth never lowers how many such members there are (a sender that overtakes the bound
// comes in, and the table's last member goes out and becomes the bound), so a commit writes the
// table's page and nothing more. Only removals lower counts: when fewer than SHOWN_SENDERS members
// are still ahead of the bound, the writer ranks every sender again, in one scan of sender_counts.

import type Database from 'better-sqlite3';

/** How many senders /stats shows: the table always holds at least these, in order, exactly. */
export const SHOWN_SENDERS = 10;
/** How many the table keeps: the margin lets removals lower members before a new ranking is due. */
export const LEADING_SENDERS = 50;

export interface Standing {
  readonly sender: string;
  readonly count: number;
}

/** Whether `a` ranks before `b`: by count descending, ties by sender ascending. */
export function ahead(a: Standing, b: Standing): boolean {
  return a.count > b.count || (a.count === b.count && a.sender < b.sender);
}

/**
 * The table and its bound as one transaction sees them, with the changes it makes. `bound` null:
 * no sender is outside the table.
 */
export class LeadingSenders {
  readonly #members: Map<string, number>;
  #bound: Standing | null;
  readonly #capacity: number;
  /** Members whose count changed or who came in; members who went out or have no messages left. */
  readonly #written = new Set<string>();
  readonly #gone = new Set<string>();
  #boundMoved = false;

  constructor(members: Iterable<readonly [string, number]>, bound: Standing | null, capacity = LEADING_SENDERS) {
    this.#members = new Map(members);
    this.#bound = bound;
    this.#capacity = capacity;
  }

  /** A sender's count after messages were added to it. */
  grew(sender: string, count: number): void {
    if (this.#members.has(sender)) {
      this.#set(sender, count);
      return;
    }
    const standing = { sender, count };
    // Outside and not ahead of the bound: still no sender outside is ahead of it.
    if (this.#bound !== null && !ahead(standing, this.#bound)) return;
    this.#set(sender, count);
    if (this.#members.size <= this.#capacity) return;
    const last = this.#last();
    this.#members.delete(last.sender);
    this.#written.delete(last.sender);
    this.#gone.add(last.sender);
    if (this.#bound === null || ahead(last, this.#bound)) {
      this.#bound = last;
      this.#boundMoved = true;
    }
  }

  /** A sender's count after messages were removed from it; 0 when none are left. */
  shrank(sender: string, count: number): void {
    // A sender outside only falls further behind the bound.
    if (!this.#members.has(sender)) return;
    if (count > 0) {
      this.#set(sender, count);
      return;
    }
    this.#members.delete(sender);
    this.#written.delete(sender);
    this.#gone.add(sender);
  }

  /** Whether the table's first `shown` members are the first `shown` senders of all. */
  holds(shown = SHOWN_SENDERS): boolean {
    const bound = this.#bound;
    if (bound === null) return true;
    let certain = 0;
    for (const [sender, count] of this.#members) if (ahead({ sender, count }, bound)) certain++;
    return certain >= shown;
  }

  /** The rows to write, the members to delete and the bound, if it moved. */
  changes(): { readonly written: Standing[]; readonly gone: string[]; readonly bound?: Standing | null } {
    const written = [...this.#written].map((sender) => ({ sender, count: this.#members.get(sender) ?? 0 }));
    return { written, gone: [...this.#gone], ...(this.#boundMoved ? { bound: this.#bound } : {}) };
  }

  #set(sender: string, count: number): void {
    this.#members.set(sender, count);
    this.#written.add(sender);
    this.#gone.delete(sender);
  }

  #last(): Standing {
    let last: Standing | undefined;
    for (const [sender, count] of this.#members) {
      const standing = { sender, count };
      if (last === undefined || ahead(last, standing)) last = standing;
    }
    if (last === undefined) throw new Error('the table of leading senders is empty');
    return last;
  }
}

/** The statements that read and write the table (see migration 10), for one writer connection. */
export function leadingSendersTable(db: Database.Database) {
  const members = db.prepare('SELECT sender, count FROM leading_senders').raw();
  const bound = db.prepare('SELECT leading_bound_sender AS sender, leading_bound_count AS count FROM totals WHERE id = 1');
  const write = db.prepare(
    'INSERT INTO leading_senders (sender, count) VALUES (?, ?) ON CONFLICT (sender) DO UPDATE SET count = excluded.count',
  );
  const remove = db.prepare('DELETE FROM leading_senders WHERE sender = ?');
  const setBound = db.prepare('UPDATE totals SET leading_bound_sender = ?, leading_bound_count = ? WHERE id = 1');
  const clear = db.prepare('DELETE FROM leading_senders');
  const rank = db.prepare(RANK_LEADING_SENDERS);
  const rankBound = db.prepare(RANK_LEADING_BOUND);
  return {
    /** The table as it is now, for changes within this transaction. */
    load(): LeadingSenders {
      const row = bound.get() as { sender: string | null; count: number | null } | undefined;
      const limit = row?.sender != null && row.count != null ? { sender: row.sender, count: row.count } : null;
      return new LeadingSenders(members.all() as [string, number][], limit);
    },
    /** Writes what `leaders` changed. */
    save(leaders: LeadingSenders): void {
      const { written, gone, bound: moved } = leaders.changes();
      for (const sender of gone) remove.run(sender);
      for (const s of written) write.run(s.sender, s.count);
      if (moved !== undefined) setBound.run(moved?.sender ?? null, moved?.count ?? null);
    },
    /** Ranks every sender again (one scan of sender_counts): after removals, when `holds` is false. */
    rank(): void {
      clear.run();
      rank.run();
      rankBound.run();
    },
  };
}

/** The table filled from every sender's count (migration 10 runs the same). */
export const RANK_LEADING_SENDERS = `INSERT INTO leading_senders (sender, count)
  SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT ${LEADING_SENDERS}`;
/** The bound: the first sender after the table, or none. */
export const RANK_LEADING_BOUND = `UPDATE totals SET (leading_bound_sender, leading_bound_count) =
  (SELECT sender, count FROM sender_counts ORDER BY count DESC, sender LIMIT 1 OFFSET ${LEADING_SENDERS})
  WHERE id = 1`;
