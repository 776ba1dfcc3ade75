// parseMessageQuery: defaults, ranges, the `+` that arrives as a space, and one
// issue per bad parameter.

import { describe, expect, it } from 'vitest';
import { parseMessageQuery } from '../../src/http/messages.js';
import type { Parsed, ValidationIssue } from '../../src/ingest/issues.js';
import type { MessageFilter, Page } from '../../src/store/store.js';

type Query = Record<string, string | string[] | undefined>;

function issuesOf<T>(result: Parsed<T>): ValidationIssue[] {
  if (result.ok) throw new Error(`expected a validation failure, got ${JSON.stringify(result.value)}`);
  for (const issue of result.issues) {
    expect(Array.isArray(issue.loc)).toBe(true);
    expect(issue.loc[0]).toBe('query');
    expect(typeof issue.msg).toBe('string');
    expect(issue.msg).not.toBe('');
    expect(typeof issue.type).toBe('string');
    expect(issue.type).not.toBe('');
  }
  return result.issues;
}

function locs(query: Query): (string | number)[][] {
  return issuesOf(parseMessageQuery(query)).map((issue) => [...issue.loc]);
}

/** The filter and page a valid query gives (the parts the contract defines). */
function parsed(query: Query): { filter: MessageFilter; page: Page } {
  const result = parseMessageQuery(query);
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.issues)}`);
  return { filter: result.value.filter, page: result.value.page };
}

describe('parseMessageQuery: paging', () => {
  it('defaults to limit 50, offset 0 and no filter', () => {
    expect(parsed({})).toEqual({ filter: {}, page: { limit: 50, offset: 0 } });
  });

  it.each([
    ['1', 1],
    ['2', 2],
    ['50', 50],
    ['100', 100],
  ])('limit=%s gives %d', (raw, limit) => {
    expect(parsed({ limit: raw }).page).toEqual({ limit, offset: 0 });
  });

  it.each(['0', '101', '-1', 'abc', '1.5', '', ' 5', '5 ', '1e2', '0x10', '+5', '١٠', '99999999999999999999'])(
    'limit=%j is one issue at ["query","limit"]',
    (raw) => {
      expect(locs({ limit: raw })).toEqual([['query', 'limit']]);
    },
  );

  it.each([
    ['0', 0],
    ['1', 1],
    ['1000000', 1000000],
  ])('offset=%s gives %d', (raw, offset) => {
    expect(parsed({ offset: raw }).page).toEqual({ limit: 50, offset });
  });

  it.each(['-1', 'abc', '1.5', '', 'NaN'])('offset=%j is one issue at ["query","offset"]', (raw) => {
    expect(locs({ offset: raw })).toEqual([['query', 'offset']]);
  });

  it('a plain query keeps offset paging (the core response shape)', () => {
    const result = parseMessageQuery({ limit: '10', offset: '5' });
    expect(result.ok && result.value.keyset).toBe(false);
  });

  it('an undefined value counts as absent', () => {
    expect(parsed({ limit: undefined, offset: undefined })).toEqual({ filter: {}, page: { limit: 50, offset: 0 } });
  });
});

describe('parseMessageQuery: repeated parameters are rejected', () => {
  it.each([
    ['limit', ['1', '2']],
    ['limit', ['10', '10']],
    ['offset', ['0', '5']],
    ['from', ['+1', '+2']],
    ['since', ['2025-01-15T10:00:00Z', '2025-01-16T10:00:00Z']],
    ['q', ['a', 'b']],
  ])('%s=%j is one issue at ["query", name]', (name, value) => {
    expect(locs({ [name]: value })).toEqual([['query', name]]);
  });
});

describe('parseMessageQuery: from', () => {
  it.each([
    ['+919876543210', '+919876543210'],
    [' 919876543210', '+919876543210'],
    [' 1', '+1'],
    ['919876543210', '919876543210'],
  ])('from=%j filters on %j', (raw, from) => {
    expect(parsed({ from: raw }).filter).toEqual({ from });
  });
});

describe('parseMessageQuery: since', () => {
  it.each([
    ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00'],
    ['2025-01-15T10:00:00.500Z', '2025-01-15T10:00:00.5'],
    ['2024-02-29T00:00:00.000Z', '2024-02-29T00:00:00'],
  ])('since=%s filters from key %s', (raw, sinceKey) => {
    expect(parsed({ since: raw }).filter).toEqual({ sinceKey });
  });

  it.each([
    '2025-02-30T00:00:00Z',
    '2025-01-15T10:00:00+00:00',
    '2025-01-15 10:00:00Z',
    '2025-01-15',
    '2025-01-15T10:00:00',
    'yesterday',
    '1736935200',
    '',
  ])('since=%j is one issue at ["query","since"]', (raw) => {
    expect(locs({ since: raw })).toEqual([['query', 'since']]);
  });
});

describe('parseMessageQuery: q', () => {
  it('an empty q filters nothing', () => {
    expect(parsed({ q: '' }).filter).toEqual({});
  });

  it.each(['hello', '%', '_', '\\', '50%_off\\', 'a%b_c', "'; DROP TABLE messages; --", ' spaced ', 'Привет 👋'])(
    'q=%j is passed on literally',
    (q) => {
      expect(parsed({ q }).filter).toEqual({ q });
    },
  );
});

describe('parseMessageQuery: filters and paging together', () => {
  it('combines every parameter', () => {
    expect(parsed({ limit: '10', offset: '20', from: ' 14155550100', since: '2025-01-15T10:00:00Z', q: 'hi' })).toEqual({
      filter: { from: '+14155550100', sinceKey: '2025-01-15T10:00:00', q: 'hi' },
      page: { limit: 10, offset: 20 },
    });
  });

  it('ignores unknown parameters', () => {
    expect(parsed({ sort: 'desc', page: '3' })).toEqual({ filter: {}, page: { limit: 50, offset: 0 } });
  });

  it('reports several bad parameters together', () => {
    const found = locs({ limit: '0', offset: '-1', since: 'bad', from: ['+1', '+2'] });
    expect(found).toHaveLength(4);
    expect(found).toEqual(
      expect.arrayContaining([
        ['query', 'limit'],
        ['query', 'offset'],
        ['query', 'since'],
        ['query', 'from'],
      ]),
    );
  });

  it('reports a bad parameter even when the others are fine', () => {
    expect(locs({ limit: '10', offset: '0', from: '+1', q: 'x', since: '2025-13-01T00:00:00Z' })).toEqual([['query', 'since']]);
  });
});
