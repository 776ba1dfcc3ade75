// What both stores share about retention and removals, without a database: which of the oldest
// rows a purge batch takes, what removed messages take out of the aggregates, and the instants a
// cutoff or an imported row is compared as.

import { describe, expect, it } from 'vitest';
import { removalDeltas } from '../../src/store/aggregates.js';
import { type PurgeCandidate, purgeBatch, storedInstant } from '../../src/store/retention.js';

const message = (messageId: string, statuses: string[] = []): PurgeCandidate => ({ kind: 'message', messageId, statuses });
const status = (messageId: string, name: string): PurgeCandidate => ({ kind: 'status', messageId, status: name });
const letter = (id: number): PurgeCandidate => ({ kind: 'deadLetter', id });

describe('purgeBatch', () => {
  it('takes the oldest candidates while the rows they remove stay within the limit, and stops at the first that would pass it', () => {
    const oldest = [message('a', ['sent', 'read']), letter(1), status('x', 'sent'), message('b'), letter(2)];
    expect(purgeBatch(oldest, 5)).toEqual({ messages: ['a'], statuses: [['x', 'sent']], deadLetters: [1] });
    expect(purgeBatch(oldest, 6)).toEqual({ messages: ['a', 'b'], statuses: [['x', 'sent']], deadLetters: [1] });
    expect(purgeBatch(oldest, 100)).toEqual({ messages: ['a', 'b'], statuses: [['x', 'sent']], deadLetters: [1, 2] });
    // Never the dead letter after a message that did not fit: the next batch starts at that message.
    expect(purgeBatch([message('a', ['sent']), message('b', ['sent', 'read']), letter(1)], 4)).toEqual({
      messages: ['a'],
      statuses: [],
      deadLetters: [],
    });
  });

  it('always takes the first candidate, even a message with more statuses than the limit', () => {
    expect(purgeBatch([message('a', ['sent', 'delivered', 'read']), letter(1)], 1)).toEqual({
      messages: ['a'],
      statuses: [],
      deadLetters: [],
    });
    expect(purgeBatch([], 10)).toEqual({ messages: [], statuses: [], deadLetters: [] });
  });

  it('counts a status once, whether it comes before or after its message, and lets it go with the message', () => {
    const before = [status('a', 'sent'), message('a', ['sent', 'read']), status('a', 'read'), letter(7)];
    // sent (1), then a with read (2), then read again (nothing), then the letter (1).
    expect(purgeBatch(before, 4)).toEqual({ messages: ['a'], statuses: [], deadLetters: [7] });
    expect(purgeBatch(before, 3)).toEqual({ messages: ['a'], statuses: [], deadLetters: [] });
    expect(purgeBatch(before, 1)).toEqual({ messages: [], statuses: [['a', 'sent']], deadLetters: [] });
  });
});

describe('removalDeltas', () => {
  it('counts what removed messages take from each sender, recipient, type, hour and conversation', () => {
    const deltas = removalDeltas([
      { messageId: 'm1', from: '+2', to: '+9', tsKey: '2025-01-15T10:00:00', type: 'text' },
      { messageId: 'm2', from: '+1', to: '+9', tsKey: '2025-01-15T10:59:59.5', type: null },
      { messageId: 'm3', from: '+2', to: '+9', tsKey: '2025-01-15T11:00:00', type: 'text' },
    ]);
    expect(deltas.perSender).toEqual(
      new Map([
        ['+2', 2],
        ['+1', 1],
      ]),
    );
    expect(deltas.perRecipient).toEqual(new Map([['+9', 3]]));
    expect(deltas.perType).toEqual(new Map([['text', 2]]));
    expect(deltas.perHour).toEqual(
      new Map([
        ['2025-01-15T10', 2],
        ['2025-01-15T11', 1],
      ]),
    );
    expect(deltas.conversations).toEqual([
      { from: '+1', to: '+9', count: 1, messageIds: new Set(['m2']) },
      { from: '+2', to: '+9', count: 2, messageIds: new Set(['m1', 'm3']) },
    ]);
  });
});

describe('storedInstant', () => {
  it('writes any spelling of an instant as the stores write their own times, and refuses what is not one', () => {
    expect(storedInstant('2030-01-02T03:04:05Z', 'x')).toBe('2030-01-02T03:04:05.000Z');
    expect(storedInstant('2030-01-02T05:04:05.5+02:00', 'x')).toBe('2030-01-02T03:04:05.500Z');
    expect(() => storedInstant('soon', 'the cutoff')).toThrow(/the cutoff is not an instant/);
    expect(() => storedInstant('', 'x')).toThrow(RangeError);
  });
});
