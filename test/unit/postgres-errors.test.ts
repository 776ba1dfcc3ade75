// How the PostgreSQL store classifies what pg throws: not now (StoreUnavailable, 503), a read
// stopped at its time limit (QueryTimeout, 503 "query took too long"), or a bug (passed through, 500).

import { describe, expect, it } from 'vitest';
import { classify } from '../../src/store/postgres/errors.js';
import { QueryTimeout, StoreUnavailable } from '../../src/store/store.js';

function pgError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classify', () => {
  it.each([
    ['EPIPE', 'write EPIPE'],
    ['ECONNRESET', 'read ECONNRESET'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['ETIMEDOUT', 'read ETIMEDOUT'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN db'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH'],
  ])(
    'makes the system error %s unavailable, for reads and writes alike (EPIPE is five letters, like a SQLSTATE)',
    (code, message) => {
      for (const during of ['read', 'write'] as const) {
        const classified = classify(pgError(message, code), during);
        expect(classified, during).toBeInstanceOf(StoreUnavailable);
        expect((classified as Error).message).toContain(message);
      }
    },
  );

  it('makes SQLSTATE classes 08, 40, 53, 57, 58 unavailable, and leaves other SQLSTATEs as they are', () => {
    for (const code of ['08006', '40001', '40P01', '53300', '57P01', '58030', '55P03', '25006']) {
      expect(classify(pgError('not now', code), 'write'), code).toBeInstanceOf(StoreUnavailable);
    }
    for (const code of ['23505', '42P01', '22P02', 'XX000']) {
      const error = pgError('a bug', code);
      expect(classify(error, 'read'), code).toBe(error);
    }
  });

  it('makes a read cancelled by statement_timeout (57014) a QueryTimeout, and such a write unavailable', () => {
    const cancelled = pgError('canceling statement due to statement timeout', '57014');
    const read = classify(cancelled, 'read');
    expect(read).toBeInstanceOf(QueryTimeout);
    expect(read).not.toBeInstanceOf(StoreUnavailable);
    expect((read as Error).cause).toBe(cancelled);
    expect(classify(cancelled, 'write')).toBeInstanceOf(StoreUnavailable);
  });
});
