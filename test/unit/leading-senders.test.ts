import { describe, expect, it } from 'vitest';
import { ahead, LeadingSenders, SHOWN_SENDERS, type Standing } from '../../src/store/sqlite/leading-senders.js';
import { seededRandom } from '../helpers/random.js';

function ranked(counts: Map<string, number>): Standing[] {
  return [...counts]
    .map(([sender, count]) => ({ sender, count }))
    .sort((a, b) => b.count - a.count || (a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : 0));
}

/** The table as the database would hold it after each transaction: the rows written, the bound. */
class Table {
  members = new Map<string, number>();
  bound: Standing | null = null;
  ranks = 0;

  load(capacity: number): LeadingSenders {
    return new LeadingSenders(this.members, this.bound, capacity);
  }

  save(leaders: LeadingSenders): void {
    const { written, gone, bound } = leaders.changes();
    for (const sender of gone) this.members.delete(sender);
    for (const s of written) this.members.set(s.sender, s.count);
    if (bound !== undefined) this.bound = bound;
  }

  /** What the writer's rank() does: the first `capacity` senders of all, the next one as bound. */
  rank(counts: Map<string, number>, capacity: number): void {
    const all = ranked(counts);
    this.members = new Map(all.slice(0, capacity).map((s) => [s.sender, s.count]));
    this.bound = all[capacity] ?? null;
    this.ranks++;
  }

  shown(): Standing[] {
    return ranked(this.members).slice(0, SHOWN_SENDERS);
  }
}

describe('leading senders', () => {
  it('orders by count descending, then by sender', () => {
    expect(ahead({ sender: '+2', count: 5 }, { sender: '+1', count: 4 })).toBe(true);
    expect(ahead({ sender: '+1', count: 5 }, { sender: '+2', count: 5 })).toBe(true);
    expect(ahead({ sender: '+2', count: 5 }, { sender: '+1', count: 5 })).toBe(false);
    expect(ahead({ sender: '+1', count: 5 }, { sender: '+1', count: 5 })).toBe(false);
  });

  it('a sender that overtakes the bound comes in; the last member goes out and becomes the bound', () => {
    const leaders = new LeadingSenders(
      [
        ['+a', 9],
        ['+b', 7],
      ],
      { sender: '+c', count: 5 },
      2,
    );
    leaders.grew('+d', 5); // behind +c (same count, later number): stays out
    expect(leaders.changes()).toEqual({ written: [], gone: [] });
    leaders.grew('+e', 8);
    expect(leaders.changes()).toEqual({ written: [{ sender: '+e', count: 8 }], gone: ['+b'], bound: { sender: '+b', count: 7 } });
    expect(leaders.holds(2)).toBe(true);
  });

  it('a member lowered behind the bound no longer counts; when too few are left, it asks for a new ranking', () => {
    const leaders = new LeadingSenders(
      [
        ['+a', 9],
        ['+b', 7],
      ],
      { sender: '+c', count: 5 },
      2,
    );
    expect(leaders.holds(2)).toBe(true);
    leaders.shrank('+b', 4);
    expect(leaders.holds(2)).toBe(false);
    expect(leaders.holds(1)).toBe(true);
    leaders.shrank('+a', 0);
    expect(leaders.changes()).toEqual({ written: [{ sender: '+b', count: 4 }], gone: ['+a'] });
    expect(leaders.holds(1)).toBe(false);
  });

  it('with nobody outside (no bound), every member counts, and a newcomer fills the table before one is pushed out', () => {
    const leaders = new LeadingSenders([['+a', 1]], null, 2);
    leaders.grew('+b', 1);
    expect(leaders.changes()).toEqual({ written: [{ sender: '+b', count: 1 }], gone: [] });
    leaders.grew('+c', 1); // behind +a and +b: it is the one that stays out, as the bound
    expect(leaders.changes()).toEqual({ written: [{ sender: '+b', count: 1 }], gone: ['+c'], bound: { sender: '+c', count: 1 } });
    expect(leaders.holds(2)).toBe(true);
  });

  for (const [seed, capacity] of [
    [1, 12],
    [2, 12],
    [3, 15],
    [4, 11],
    [5, 20],
  ] as const) {
    it(`random growth and removals: the first ${SHOWN_SENDERS} always equal a recount (seed ${seed}, table of ${capacity})`, () => {
      const random = seededRandom(seed);
      const counts = new Map<string, number>();
      const table = new Table();
      const senders = Array.from({ length: 60 }, (_, i) => `+${100 + i}`);
      // Skewed like real traffic: a few busy numbers, a long tail.
      const someone = () => senders[Math.floor(senders.length * random() ** 3)] ?? '+100';
      for (let step = 0; step < 3000; step++) {
        const leaders = table.load(capacity);
        const grow = random() < 0.7;
        // A transaction touches a few senders, each once, as the writer's deltas do.
        const touched = new Set(Array.from({ length: 1 + Math.floor(random() * 6) }, someone));
        for (const sender of touched) {
          const before = counts.get(sender) ?? 0;
          if (grow) {
            const after = before + 1 + Math.floor(random() * 4);
            counts.set(sender, after);
            leaders.grew(sender, after);
          } else if (before > 0) {
            // Some removals take a sender's every message.
            const after = random() < 0.2 ? 0 : Math.max(0, before - 1 - Math.floor(random() * 6));
            if (after === 0) counts.delete(sender);
            else counts.set(sender, after);
            leaders.shrank(sender, after);
          }
        }
        table.save(leaders);
        if (!grow && !leaders.holds()) table.rank(counts, capacity);
        expect(table.shown(), `step ${step}`).toEqual(ranked(counts).slice(0, SHOWN_SENDERS));
        expect(table.members.size).toBeLessThanOrEqual(capacity);
      }
      // The comparison above ran through new rankings, not only through growth.
      expect(table.ranks).toBeGreaterThan(0);
    });
  }
});
