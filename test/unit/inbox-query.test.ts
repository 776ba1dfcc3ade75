// The parsers of the inbox reads: parseMessageQuery (order, until, to, type, include, cursor),
// parseConversationQuery and parseTimeseriesQuery (its bucket layout included). Every parameter's
// valid and invalid forms, the issue each gives (loc and type), repeated parameters, which cursor
// a listing accepts, and where the buckets of a window fall, from a fixed `now`.

import { describe, expect, it } from 'vitest';
import { parseConversationQuery } from '../../src/http/conversations.js';
import { parseMessageQuery } from '../../src/http/messages.js';
import { encodeCursor } from '../../src/http/query.js';
import { parseTimeseriesQuery } from '../../src/http/timeseries.js';
import type { Parsed, ValidationIssue } from '../../src/ingest/issues.js';

type Query = Record<string, string | string[] | undefined>;

/** The issues of a failed parse, each checked for the loc/msg/type shape. */
function issuesOf<T>(result: Parsed<T>): ValidationIssue[] {
  if (result.ok) throw new Error(`expected a validation failure, got ${JSON.stringify(result.value)}`);
  expect(result.issues.length).toBeGreaterThan(0);
  for (const issue of result.issues) {
    expect(issue.loc[0]).toBe('query');
    expect(issue.loc).toHaveLength(2);
    expect(typeof issue.msg).toBe('string');
    expect(issue.msg).not.toBe('');
    expect(typeof issue.type).toBe('string');
    expect(issue.type).not.toBe('');
  }
  return result.issues;
}

/** [name, type] of every issue, e.g. ['order', 'enum']. */
function named<T>(result: Parsed<T>): [string, string][] {
  return issuesOf(result).map((issue) => [String(issue.loc[1]), issue.type]);
}

function successOf<T>(result: Parsed<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.issues)}`);
  return result.value;
}

const messages = (query: Query) => successOf(parseMessageQuery(query));
const messageIssues = (query: Query) => named(parseMessageQuery(query));
const conversations = (query: Query) => successOf(parseConversationQuery(query));
const conversationIssues = (query: Query) => named(parseConversationQuery(query));

/** The next_cursor a /messages listing of this query would give after (tsKey, messageId). */
function messageCursor(query: Query, tsKey: string, messageId: string): string {
  return encodeCursor([tsKey, messageId, messages(query).scope]);
}

/** The next_cursor a /conversations listing of this query would give after (lastTsKey, from, to). */
function conversationCursor(query: Query, lastTsKey: string, from: string, to: string): string {
  return encodeCursor([lastTsKey, from, to, conversations(query).scope]);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

describe('parseMessageQuery: order', () => {
  it('defaults to ascending', () => {
    expect(messages({}).page.order ?? 'asc').toBe('asc');
    expect(messages({ order: 'asc' }).page.order ?? 'asc').toBe('asc');
  });

  it('reads desc', () => {
    expect(messages({ order: 'desc' }).page.order).toBe('desc');
  });

  it.each(['DESC', 'Asc', 'descending', 'down', '', ' desc', 'desc ', 'asc,desc', '-1'])(
    'order=%j is one enum issue at ["query","order"]',
    (order) => {
      expect(messageIssues({ order })).toEqual([['order', 'enum']]);
    },
  );
});

describe('parseMessageQuery: until', () => {
  it.each([
    ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00'],
    ['2025-01-15T10:00:00.000Z', '2025-01-15T10:00:00'],
    ['2025-01-15T10:00:00.5Z', '2025-01-15T10:00:00.5'],
    ['2025-01-15T10:00:00.500000000Z', '2025-01-15T10:00:00.5'],
    ['2024-02-29T23:59:59.999Z', '2024-02-29T23:59:59.999'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00'],
    ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999999999'],
  ])('until=%s filters before key %s', (until, untilKey) => {
    expect(messages({ until }).filter).toEqual({ untilKey });
  });

  it.each([
    '',
    'now',
    'tomorrow',
    '2025-01-15',
    '2025-01-15T10:00',
    '2025-01-15T10:00:00',
    '2025-01-15 10:00:00Z',
    '2025-01-15T10:00:00+00:00',
    '2025-01-15T10:00:00z',
    '2025-02-29T00:00:00Z',
    '2025-13-01T00:00:00Z',
    '2025-01-15T24:00:00Z',
    '2025-01-15T23:59:60Z',
    '0000-01-01T00:00:00Z',
    '2025-01-15T10:00:00.Z',
    '1736935200',
  ])('until=%j is one datetime_format issue at ["query","until"]', (until) => {
    expect(messageIssues({ until })).toEqual([['until', 'datetime_format']]);
  });

  it('takes since and until together, in either order of instants', () => {
    expect(messages({ since: '2025-01-15T10:00:00Z', until: '2025-01-15T11:00:00Z' }).filter).toEqual({
      sinceKey: '2025-01-15T10:00:00',
      untilKey: '2025-01-15T11:00:00',
    });
    // An empty window is a valid question with an empty answer.
    expect(messages({ since: '2025-01-15T11:00:00Z', until: '2025-01-15T10:00:00Z' }).filter).toEqual({
      sinceKey: '2025-01-15T11:00:00',
      untilKey: '2025-01-15T10:00:00',
    });
  });
});

describe('parseMessageQuery: to', () => {
  it.each([
    ['+14155550100', '+14155550100'],
    [' 14155550100', '+14155550100'],
    ['+1', '+1'],
    [' 1', '+1'],
    ['+123456789012345', '+123456789012345'],
  ])('to=%j filters on %j', (to, expected) => {
    expect(messages({ to }).filter).toEqual({ to: expected });
  });

  it.each([
    '',
    ' ',
    '+',
    '14155550100',
    '+1234567890123456',
    '+1415555010a',
    '+1 415 555 0100',
    '+1-415-555-0100',
    '  14155550100',
    '++14155550100',
    '+14155550100 ',
    '+١٤١٥',
    '%2B14155550100',
  ])('to=%j is one string_pattern_mismatch issue at ["query","to"]', (to) => {
    expect(messageIssues({ to })).toEqual([['to', 'string_pattern_mismatch']]);
  });

  it('keeps from lenient (an exact match on any value) while to is strict', () => {
    expect(messages({ from: 'abc' }).filter).toEqual({ from: 'abc' });
    expect(messageIssues({ from: 'abc', to: 'abc' })).toEqual([['to', 'string_pattern_mismatch']]);
  });
});

describe('parseMessageQuery: type', () => {
  it.each(['text', 'image', 'interactive', 'a', 'x'.repeat(512), '🎉'.repeat(512), 'Ünïcödé', ' image '])(
    'type=%j filters on exactly that value',
    (type) => {
      expect(messages({ type }).filter).toEqual({ type });
    },
  );

  it.each([
    ['', 'string_too_short'],
    ['x'.repeat(513), 'string_too_long'],
    ['🎉'.repeat(513), 'string_too_long'],
    ['a\0b', 'string_unicode'],
    ['\uD800', 'string_unicode'],
    ['x\uDC00', 'string_unicode'],
  ])('type=%j is one %s issue at ["query","type"]', (type, issueType) => {
    expect(messageIssues({ type })).toEqual([['type', issueType]]);
  });
});

describe('parseMessageQuery: include', () => {
  it('adds nothing when absent or empty', () => {
    expect(messages({}).include).toEqual([]);
    expect(messages({ include: '' }).include).toEqual([]);
  });

  it.each([
    ['type', ['type']],
    ['raw', ['raw']],
    ['phone_number_id', ['phone_number_id']],
    ['raw,type', ['type', 'raw']],
    ['reply_to,contact_name,received_at', ['received_at', 'contact_name', 'reply_to']],
    [
      'raw,phone_number_id,reply_to,contact_name,received_at,source,type',
      ['type', 'source', 'received_at', 'contact_name', 'reply_to', 'phone_number_id', 'raw'],
    ],
  ])('include=%s adds %j, in the canonical order', (include, expected) => {
    expect(messages({ include }).include).toEqual(expected);
  });

  it('reads details only when a name other than type asks for them', () => {
    expect(messages({ include: 'type' }).page.details ?? false).toBe(false);
    expect(messages({}).page.details ?? false).toBe(false);
    for (const name of ['source', 'received_at', 'contact_name', 'reply_to', 'phone_number_id', 'raw']) {
      expect(messages({ include: name }).page.details, name).toBe(true);
      expect(messages({ include: `type,${name}` }).page.details, name).toBe(true);
    }
  });

  it.each([
    'foo',
    'Type',
    'TYPE',
    'type,foo',
    'foo,bar',
    ' type',
    'type ',
    'type,',
    ',type',
    'type;raw',
    'message_id',
    'text',
    'statuses',
    'all',
    '*',
  ])('include=%j is one enum issue at ["query","include"]', (include) => {
    expect(messageIssues({ include })).toEqual([['include', 'enum']]);
  });

  it('names the unknown names in its message', () => {
    const [issue] = issuesOf(parseMessageQuery({ include: 'type,colour,raw' }));
    expect(issue?.msg).toContain('colour');
  });
});

describe('parseMessageQuery: repeated parameters', () => {
  it.each([
    ['order', ['asc', 'desc']],
    ['order', ['desc', 'desc']],
    ['until', ['2025-01-15T10:00:00Z', '2025-01-16T10:00:00Z']],
    ['to', ['+1', '+2']],
    ['to', ['+1', '+1']],
    ['type', ['text', 'image']],
    ['include', ['type', 'raw']],
    ['cursor', ['', '']],
    ['limit', ['1', '2']],
    ['offset', ['0', '0']],
    ['from', ['+1', '+2']],
    ['since', ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00Z']],
    ['q', ['a', 'b']],
  ])('%s=%j is one query_repeated issue at ["query", name]', (name, value) => {
    expect(messageIssues({ [name]: value })).toEqual([[name, 'query_repeated']]);
  });

  it('names each of several repeated or bad parameters once', () => {
    const found = messageIssues({ order: ['asc', 'desc'], to: 'x', type: '', until: 'later', include: 'nope' });
    expect(found).toHaveLength(5);
    expect(found).toEqual(
      expect.arrayContaining([
        ['order', 'query_repeated'],
        ['to', 'string_pattern_mismatch'],
        ['type', 'string_too_short'],
        ['until', 'datetime_format'],
        ['include', 'enum'],
      ]),
    );
  });
});

describe('parseMessageQuery: every parameter together', () => {
  it('combines the new filters with the old ones', () => {
    const value = messages({
      limit: '10',
      from: ' 919876543210',
      to: ' 14155550100',
      type: 'image',
      since: '2025-01-15T10:00:00.000Z',
      until: '2025-01-16T00:00:00.5Z',
      q: 'hi',
      order: 'desc',
      include: 'raw,type',
    });
    expect(value.filter).toEqual({
      from: '+919876543210',
      to: '+14155550100',
      type: 'image',
      sinceKey: '2025-01-15T10:00:00',
      untilKey: '2025-01-16T00:00:00.5',
      q: 'hi',
    });
    expect(value.page).toMatchObject({ limit: 10, offset: 0, order: 'desc' });
    expect(value.include).toEqual(['type', 'raw']);
    expect(value.keyset).toBe(false);
  });
});

describe('parseMessageQuery: cursor', () => {
  const base: Query = { order: 'desc', from: '+919876543210', to: '+14155550100', type: 'text', q: 'hello' };
  const place = { tsKey: '2025-01-15T10:00:00.5', messageId: 'm7' };
  const cursor = messageCursor(base, place.tsKey, place.messageId);

  it('an empty cursor asks for the first keyset page', () => {
    const value = messages({ cursor: '' });
    expect(value.keyset).toBe(true);
    expect(value.page.after).toBeUndefined();
  });

  it('a cursor given back with the same order and filters continues after its place', () => {
    const value = messages({ ...base, cursor });
    expect(value.keyset).toBe(true);
    expect(value.page.after).toEqual(place);
  });

  it('accepts the same order and filters written differently, and another limit or include', () => {
    for (const query of [
      { ...base, from: ' 919876543210' },
      { ...base, to: ' 14155550100' },
      { ...base, limit: '7' },
      { ...base, include: 'raw,type' },
      { ...base, offset: '0' },
    ]) {
      expect(messages({ ...query, cursor }).page.after, JSON.stringify(query)).toEqual(place);
    }
    const windowed: Query = { since: '2025-01-15T10:00:00Z', until: '2025-01-16T00:00:00.5Z', q: '' };
    const windowCursor = messageCursor(windowed, place.tsKey, place.messageId);
    for (const query of [
      { since: '2025-01-15T10:00:00.000Z', until: '2025-01-16T00:00:00.50Z' },
      { since: '2025-01-15T10:00:00Z', until: '2025-01-16T00:00:00.5Z', order: 'asc' },
    ]) {
      expect(messages({ ...query, cursor: windowCursor }).page.after, JSON.stringify(query)).toEqual(place);
    }
  });

  it.each([
    ['another order', { ...base, order: 'asc' }],
    ['the default order', { ...base, order: undefined }],
    ['another from', { ...base, from: '+447700900123' }],
    ['no from', { ...base, from: undefined }],
    ['another to', { ...base, to: '+15550783881' }],
    ['no to', { ...base, to: undefined }],
    ['another type', { ...base, type: 'image' }],
    ['no type', { ...base, type: undefined }],
    ['another q', { ...base, q: 'HELLO' }],
    ['no q', { ...base, q: undefined }],
    ['an added since', { ...base, since: '2025-01-15T10:00:00Z' }],
    ['an added until', { ...base, until: '2025-01-15T10:00:00Z' }],
  ])('a cursor reused with %s is one cursor_mismatch issue at ["query","cursor"]', (_label, query) => {
    expect(messageIssues({ ...query, cursor })).toEqual([['cursor', 'cursor_mismatch']]);
  });

  it('refuses a cursor whose since or until differ', () => {
    const windowed: Query = { since: '2025-01-15T10:00:00Z', until: '2025-01-16T00:00:00Z' };
    const c = messageCursor(windowed, place.tsKey, place.messageId);
    for (const query of [
      { since: '2025-01-15T10:00:00.001Z', until: '2025-01-16T00:00:00Z' },
      { since: '2025-01-15T10:00:00Z', until: '2025-01-16T00:00:00.001Z' },
      { since: '2025-01-15T10:00:00Z' },
      { until: '2025-01-16T00:00:00Z' },
      { since: '2025-01-16T00:00:00Z', until: '2025-01-15T10:00:00Z' },
    ]) {
      expect(messageIssues({ ...query, cursor: c }), JSON.stringify(query)).toEqual([['cursor', 'cursor_mismatch']]);
    }
  });

  it.each([
    ['not base64url', 'not a cursor!'],
    ['padded base64', `${b64(['2025-01-15T10:00:00', 'm1', 'x'])}=`],
    ['plain words', 'garbage'],
    ['JSON that is not an array', b64({ tsKey: '2025-01-15T10:00:00', messageId: 'm1' })],
    ['an empty array', b64([])],
    ['a place without a scope', b64(['2025-01-15T10:00:00', 'm1'])],
    ['a place of three parts', b64(['2025-01-15T10:00:00', 'm1', 'extra', 'scope'])],
    ['a non-canonical instant key', b64(['2025-01-15T10:00:00.500', 'm1', 'scope'])],
    ['an instant key with Z', b64(['2025-01-15T10:00:00Z', 'm1', 'scope'])],
    ['an impossible instant', b64(['2025-02-30T10:00:00', 'm1', 'scope'])],
    ['a number for the id', b64(['2025-01-15T10:00:00', 7, 'scope'])],
    ['a conversation cursor', conversationCursor({}, '2025-01-15T10:00:00', '+1', '+2')],
    ['text that is not JSON', Buffer.from('hello there').toString('base64url')],
  ])('a cursor of %s is one cursor_invalid issue at ["query","cursor"]', (_label, bad) => {
    expect(messageIssues({ cursor: bad })).toEqual([['cursor', 'cursor_invalid']]);
  });

  it('refuses a cursor with a non-zero offset, naming offset', () => {
    expect(messageIssues({ cursor: '', offset: '3' })).toEqual([['offset', 'offset_with_cursor']]);
    expect(messageIssues({ ...base, cursor, offset: '1' })).toEqual([['offset', 'offset_with_cursor']]);
    expect(messages({ cursor: '', offset: '0' }).keyset).toBe(true);
  });

  it('checks the scope only when the rest of the query is valid, but a malformed cursor always', () => {
    // Other parameters are wrong: the cursor's scope cannot be compared with a listing.
    expect(messageIssues({ ...base, order: 'sideways', cursor })).toEqual([['order', 'enum']]);
    expect(messageIssues({ limit: '0', cursor })).toEqual([['limit', 'greater_than_equal']]);
    expect(messageIssues({ limit: '0', cursor: 'garbage' })).toEqual(
      expect.arrayContaining([
        ['limit', 'greater_than_equal'],
        ['cursor', 'cursor_invalid'],
      ]),
    );
  });
});

describe('parseConversationQuery', () => {
  it('defaults to limit 50, no filter, the first page', () => {
    const value = conversations({});
    expect(value.limit).toBe(50);
    expect(value.filter).toEqual({});
    expect(value.after).toBeUndefined();
    expect(conversations({ cursor: '' }).after).toBeUndefined();
  });

  it.each([
    ['1', 1],
    ['100', 100],
    ['37', 37],
  ])('limit=%s gives %d', (limit, expected) => {
    expect(conversations({ limit }).limit).toBe(expected);
  });

  it.each([
    ['0', 'greater_than_equal'],
    ['101', 'less_than_equal'],
    ['-1', 'int_parsing'],
    ['abc', 'int_parsing'],
    ['1.5', 'int_parsing'],
    ['', 'int_parsing'],
    ['1e2', 'int_parsing'],
  ])('limit=%j is one %s issue at ["query","limit"]', (limit, type) => {
    expect(conversationIssues({ limit })).toEqual([['limit', type]]);
  });

  it('filters on from (lenient, leading space read as +) and to (strict)', () => {
    expect(conversations({ from: ' 919876543210', to: ' 14155550100' }).filter).toEqual({
      from: '+919876543210',
      to: '+14155550100',
    });
    expect(conversations({ from: '+1' }).filter).toEqual({ from: '+1' });
    for (const to of ['', '14155550100', '+', '+1234567890123456', 'abc']) {
      expect(conversationIssues({ to }), to).toEqual([['to', 'string_pattern_mismatch']]);
    }
  });

  it.each([
    ['limit', ['1', '2']],
    ['from', ['+1', '+2']],
    ['to', ['+1', '+1']],
    ['cursor', ['', '']],
  ])('%s=%j is one query_repeated issue', (name, value) => {
    expect(conversationIssues({ [name]: value })).toEqual([[name, 'query_repeated']]);
  });

  it('continues after the place of a cursor made for the same filters', () => {
    const query = { from: '+919876543210', to: '+14155550100' };
    const cursor = conversationCursor(query, '2025-01-15T10:00:00.5', '+919876543210', '+14155550100');
    const place = { lastTsKey: '2025-01-15T10:00:00.5', from: '+919876543210', to: '+14155550100' };
    expect(conversations({ ...query, cursor }).after).toEqual(place);
    expect(conversations({ from: ' 919876543210', to: ' 14155550100', limit: '3', cursor }).after).toEqual(place);
  });

  it('refuses a cursor made for other filters with cursor_mismatch', () => {
    const cursor = conversationCursor({ from: '+919876543210' }, '2025-01-15T10:00:00', '+919876543210', '+1');
    for (const query of [{}, { from: '+447700900123' }, { from: '+919876543210', to: '+14155550100' }, { to: '+1' }]) {
      expect(conversationIssues({ ...query, cursor }), JSON.stringify(query)).toEqual([['cursor', 'cursor_mismatch']]);
    }
  });

  it.each([
    ['garbage', 'garbage'],
    ['not base64url', '***'],
    ['a messages cursor', messageCursor({}, '2025-01-15T10:00:00', 'm1')],
    ['a place without a scope', b64(['2025-01-15T10:00:00', '+1', '+2'])],
    ['a non-canonical instant key', b64(['2025-01-15T10:00:00.10', '+1', '+2', 'scope'])],
    ['a number for from', b64(['2025-01-15T10:00:00', 1, '+2', 'scope'])],
  ])('refuses a cursor of %s with cursor_invalid', (_label, cursor) => {
    expect(conversationIssues({ cursor })).toEqual([['cursor', 'cursor_invalid']]);
  });

  it('a messages cursor never continues a conversation listing, nor the other way round', () => {
    const conversationScope = conversations({}).scope;
    const messageScope = messages({}).scope;
    expect(conversationScope).not.toBe(messageScope);
  });
});

// ---------------------------------------------------------------------------------------------------
// Timeseries.

const NOW = new Date('2025-01-15T10:30:00.250Z');
const timeseries = (query: Query, now: Date = NOW) => successOf(parseTimeseriesQuery(query, now));
const timeseriesIssues = (query: Query, now: Date = NOW) => named(parseTimeseriesQuery(query, now));

/** Start keys ('YYYY-MM-DDTHH:MM:SS'), `count` of them, `stepMs` apart from `first` (years 1970+). */
function startsFrom(first: string, count: number, stepMs: number): string[] {
  const t0 = Date.parse(`${first}Z`);
  return Array.from({ length: count }, (_, i) => new Date(t0 + i * stepMs).toISOString().slice(0, 19));
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('parseTimeseriesQuery: parameters', () => {
  it('requires bucket', () => {
    expect(timeseriesIssues({})).toEqual([['bucket', 'missing']]);
    expect(timeseriesIssues({ since: '2025-01-15T10:00:00Z' })).toEqual([['bucket', 'missing']]);
  });

  it.each(['', 'HOUR', 'Day', 'week', 'minute', 'hours', ' hour', 'hour,day'])(
    'bucket=%j is one enum issue at ["query","bucket"]',
    (bucket) => {
      expect(timeseriesIssues({ bucket })).toEqual([['bucket', 'enum']]);
    },
  );

  it.each([
    ['bucket', ['hour', 'hour']],
    ['bucket', ['hour', 'day']],
    ['since', ['2025-01-15T10:00:00Z', '2025-01-15T11:00:00Z']],
    ['until', ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00Z']],
  ])('%s=%j is one query_repeated issue', (name, value) => {
    expect(timeseriesIssues({ bucket: 'hour', [name]: value })).toEqual([[name, 'query_repeated']]);
  });

  it.each(['', 'yesterday', '2025-01-15', '2025-01-15T10:00:00', '2025-01-15T10:00:00+01:00', '2025-02-29T00:00:00Z'])(
    'since or until %j is a datetime_format issue naming it',
    (value) => {
      expect(timeseriesIssues({ bucket: 'day', since: value })).toEqual([['since', 'datetime_format']]);
      expect(timeseriesIssues({ bucket: 'day', until: value })).toEqual([['until', 'datetime_format']]);
    },
  );

  it('names every bad parameter at once', () => {
    const found = timeseriesIssues({ since: 'x', until: 'y' });
    expect(found).toHaveLength(3);
    expect(found).toEqual(
      expect.arrayContaining([
        ['bucket', 'missing'],
        ['since', 'datetime_format'],
        ['until', 'datetime_format'],
      ]),
    );
  });
});

describe('parseTimeseriesQuery: bucket layout', () => {
  it('starts at since rounded down to its hour, and stops before until', () => {
    const w = timeseries({ bucket: 'hour', since: '2025-01-15T10:30:00Z', until: '2025-01-15T13:00:00Z' });
    expect(w.bucket).toBe('hour');
    expect(w.sinceKey).toBe('2025-01-15T10:30:00');
    expect(w.untilKey).toBe('2025-01-15T13:00:00');
    expect(w.starts).toEqual(['2025-01-15T10:00:00', '2025-01-15T11:00:00', '2025-01-15T12:00:00']);
  });

  it('rounds a since with a fraction down, to the hour and to the day', () => {
    expect(
      timeseries({ bucket: 'hour', since: '2025-01-15T10:59:59.999999Z', until: '2025-01-15T11:00:00.001Z' }).starts,
    ).toEqual(['2025-01-15T10:00:00', '2025-01-15T11:00:00']);
    expect(timeseries({ bucket: 'day', since: '2025-01-15T23:59:59.5Z', until: '2025-01-16T00:00:00.5Z' }).starts).toEqual([
      '2025-01-15T00:00:00',
      '2025-01-16T00:00:00',
    ]);
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T10:00:00.000000001Z', until: '2025-01-15T11:00:00Z' }).starts).toEqual(
      ['2025-01-15T10:00:00'],
    );
  });

  it('treats until as exclusive, fractions included', () => {
    const at = (until: string) => timeseries({ bucket: 'hour', since: '2025-01-15T10:00:00Z', until }).starts;
    expect(at('2025-01-15T12:00:00Z')).toEqual(['2025-01-15T10:00:00', '2025-01-15T11:00:00']);
    expect(at('2025-01-15T12:00:00.000Z')).toEqual(['2025-01-15T10:00:00', '2025-01-15T11:00:00']);
    expect(at('2025-01-15T12:00:00.001Z')).toEqual(['2025-01-15T10:00:00', '2025-01-15T11:00:00', '2025-01-15T12:00:00']);
    expect(at('2025-01-15T11:59:59.999999999Z')).toEqual(['2025-01-15T10:00:00', '2025-01-15T11:00:00']);
    expect(at('2025-01-15T10:00:00.5Z')).toEqual(['2025-01-15T10:00:00']);
    const day = (until: string) => timeseries({ bucket: 'day', since: '2025-01-15T00:00:00Z', until }).starts;
    expect(day('2025-01-17T00:00:00Z')).toEqual(['2025-01-15T00:00:00', '2025-01-16T00:00:00']);
    expect(day('2025-01-17T00:00:00.1Z')).toEqual(['2025-01-15T00:00:00', '2025-01-16T00:00:00', '2025-01-17T00:00:00']);
  });

  it('gives no bucket when since rounded down is not before until', () => {
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T10:00:00Z', until: '2025-01-15T10:00:00Z' }).starts).toEqual([]);
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T11:00:00Z', until: '2025-01-15T10:00:00Z' }).starts).toEqual([]);
    expect(timeseries({ bucket: 'day', since: '2025-01-16T00:00:00Z', until: '2025-01-15T12:00:00Z' }).starts).toEqual([]);
  });

  it('gives the bucket of since when until lies inside it, even after since', () => {
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T10:30:00Z', until: '2025-01-15T10:45:00Z' }).starts).toEqual([
      '2025-01-15T10:00:00',
    ]);
    // since rounded down is before until even though since itself is not: the bucket is there (with nothing to count).
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T10:30:00Z', until: '2025-01-15T10:15:00Z' }).starts).toEqual([
      '2025-01-15T10:00:00',
    ]);
  });

  it('crosses days, months, years and leap days in UTC', () => {
    expect(timeseries({ bucket: 'day', since: '2024-12-30T12:00:00Z', until: '2025-01-02T00:00:00.001Z' }).starts).toEqual([
      '2024-12-30T00:00:00',
      '2024-12-31T00:00:00',
      '2025-01-01T00:00:00',
      '2025-01-02T00:00:00',
    ]);
    expect(timeseries({ bucket: 'day', since: '2024-02-28T00:00:00Z', until: '2024-03-01T00:00:00Z' }).starts).toEqual([
      '2024-02-28T00:00:00',
      '2024-02-29T00:00:00',
    ]);
    expect(timeseries({ bucket: 'day', since: '1900-02-28T00:00:00Z', until: '1900-03-01T00:00:00Z' }).starts).toEqual([
      '1900-02-28T00:00:00',
    ]);
    expect(timeseries({ bucket: 'day', since: '2000-02-28T00:00:00Z', until: '2000-03-01T00:00:00Z' }).starts).toEqual([
      '2000-02-28T00:00:00',
      '2000-02-29T00:00:00',
    ]);
    expect(timeseries({ bucket: 'hour', since: '2024-12-31T22:10:00Z', until: '2025-01-01T01:00:00Z' }).starts).toEqual([
      '2024-12-31T22:00:00',
      '2024-12-31T23:00:00',
      '2025-01-01T00:00:00',
    ]);
  });

  it('defaults until to now and since to 24 hours before it (hour)', () => {
    const w = timeseries({ bucket: 'hour' });
    expect(w.untilKey).toBe('2025-01-15T10:30:00.25');
    expect(w.sinceKey).toBe('2025-01-14T10:30:00.25');
    expect(w.starts).toEqual(startsFrom('2025-01-14T10:00:00', 25, HOUR));
    expect(w.starts.at(-1)).toBe('2025-01-15T10:00:00');
  });

  it('defaults since to 30 days before until (day)', () => {
    const w = timeseries({ bucket: 'day' });
    expect(w.untilKey).toBe('2025-01-15T10:30:00.25');
    expect(w.sinceKey).toBe('2024-12-16T10:30:00.25');
    expect(w.starts).toEqual(startsFrom('2024-12-16T00:00:00', 31, DAY));
    expect(w.starts.at(-1)).toBe('2025-01-15T00:00:00');
  });

  it('gives exactly 24 hours or 30 days when now is on a bucket boundary (now itself is excluded)', () => {
    const onHour = new Date('2025-01-15T10:00:00.000Z');
    expect(timeseries({ bucket: 'hour' }, onHour).starts).toEqual(startsFrom('2025-01-14T10:00:00', 24, HOUR));
    const midnight = new Date('2025-01-15T00:00:00.000Z');
    expect(timeseries({ bucket: 'day' }, midnight).starts).toEqual(startsFrom('2024-12-16T00:00:00', 30, DAY));
  });

  it('defaults since from a given until, and until to now when only since is given', () => {
    expect(timeseries({ bucket: 'hour', until: '2025-03-01T05:15:00Z' }).starts).toEqual(
      startsFrom('2025-02-28T05:00:00', 25, HOUR),
    );
    expect(timeseries({ bucket: 'day', until: '2025-03-01T00:00:00Z' }).starts).toEqual(
      startsFrom('2025-01-30T00:00:00', 30, DAY),
    );
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T08:59:00Z' }).starts).toEqual(
      startsFrom('2025-01-15T08:00:00', 3, HOUR),
    );
    // since after now: nothing to count.
    expect(timeseries({ bucket: 'hour', since: '2025-01-15T11:00:00Z' }).starts).toEqual([]);
  });

  it('allows 10,000 buckets and refuses 10,001, naming since', () => {
    const since = '2020-01-01T00:00:00Z';
    const hourUntil = new Date(Date.parse(since) + 10_000 * HOUR).toISOString();
    const hours = timeseries({ bucket: 'hour', since, until: hourUntil }).starts;
    expect(hours).toHaveLength(10_000);
    expect(hours[0]).toBe('2020-01-01T00:00:00');
    expect(hours.at(-1)).toBe(new Date(Date.parse(since) + 9_999 * HOUR).toISOString().slice(0, 19));
    const oneMore = new Date(Date.parse(since) + 10_000 * HOUR + 1).toISOString();
    expect(timeseriesIssues({ bucket: 'hour', since, until: oneMore })).toEqual([['since', 'too_many_buckets']]);

    const dayUntil = new Date(Date.parse(since) + 10_000 * DAY).toISOString();
    expect(timeseries({ bucket: 'day', since, until: dayUntil }).starts).toHaveLength(10_000);
    const dayMore = new Date(Date.parse(since) + 10_000 * DAY + 1).toISOString();
    expect(timeseriesIssues({ bucket: 'day', since, until: dayMore })).toEqual([['since', 'too_many_buckets']]);
    // The same window is fine in days.
    expect(timeseries({ bucket: 'day', since, until: oneMore }).starts).toHaveLength(417);
  });

  it('counts the bucket of a since rounded down towards the limit', () => {
    // since 00:30 rounds to 00:00: 10,000 hours from 00:00 end at the 10,000th start; one more start is too many.
    const since = '2020-01-01T00:30:00Z';
    const until = new Date(Date.parse('2020-01-01T00:00:00Z') + 10_000 * HOUR).toISOString();
    expect(timeseries({ bucket: 'hour', since, until }).starts).toHaveLength(10_000);
    const later = new Date(Date.parse(until) + 1000).toISOString();
    expect(timeseriesIssues({ bucket: 'hour', since, until: later })).toEqual([['since', 'too_many_buckets']]);
  });

  it('lays out buckets at the first years', () => {
    expect(timeseries({ bucket: 'hour', since: '0001-01-01T00:00:00Z', until: '0001-01-01T03:00:00Z' }).starts).toEqual([
      '0001-01-01T00:00:00',
      '0001-01-01T01:00:00',
      '0001-01-01T02:00:00',
    ]);
    expect(timeseries({ bucket: 'day', since: '0001-01-01T12:00:00Z', until: '0001-01-03T00:00:00.5Z' }).starts).toEqual([
      '0001-01-01T00:00:00',
      '0001-01-02T00:00:00',
      '0001-01-03T00:00:00',
    ]);
    // Years 0 to 99 are not read as 1900 to 1999.
    expect(timeseries({ bucket: 'day', since: '0050-02-28T00:00:00Z', until: '0050-03-02T00:00:00Z' }).starts).toEqual([
      '0050-02-28T00:00:00',
      '0050-03-01T00:00:00',
    ]);
    expect(timeseries({ bucket: 'day', since: '0004-02-28T00:00:00Z', until: '0004-03-01T00:00:00Z' }).starts).toEqual([
      '0004-02-28T00:00:00',
      '0004-02-29T00:00:00',
    ]);
    expect(timeseries({ bucket: 'hour', since: '0099-12-31T23:00:00Z', until: '0100-01-01T01:00:00Z' }).starts).toEqual([
      '0099-12-31T23:00:00',
      '0100-01-01T00:00:00',
    ]);
  });

  it('starts a default window no earlier than the first instant there is', () => {
    expect(timeseries({ bucket: 'hour', until: '0001-01-01T05:00:00Z' }).starts).toEqual([
      '0001-01-01T00:00:00',
      '0001-01-01T01:00:00',
      '0001-01-01T02:00:00',
      '0001-01-01T03:00:00',
      '0001-01-01T04:00:00',
    ]);
    const days = timeseries({ bucket: 'day', until: '0001-01-10T00:00:00Z' });
    expect(days.starts).toHaveLength(9);
    expect(days.starts[0]).toBe('0001-01-01T00:00:00');
    expect(days.starts.at(-1)).toBe('0001-01-09T00:00:00');
  });

  it('lays out buckets at the last years, ending with the last hour and day there are', () => {
    expect(timeseries({ bucket: 'hour', since: '9999-12-31T22:30:00Z', until: '9999-12-31T23:59:59.999999Z' }).starts).toEqual([
      '9999-12-31T22:00:00',
      '9999-12-31T23:00:00',
    ]);
    expect(timeseries({ bucket: 'day', since: '9999-12-30T00:00:00Z', until: '9999-12-31T23:59:59Z' }).starts).toEqual([
      '9999-12-30T00:00:00',
      '9999-12-31T00:00:00',
    ]);
    const w = timeseries({ bucket: 'day', until: '9999-12-31T23:59:59.999999999Z' });
    expect(w.sinceKey).toBe('9999-12-01T23:59:59.999999999');
    expect(w.starts).toHaveLength(31);
    expect(w.starts.at(-1)).toBe('9999-12-31T00:00:00');
    const h = timeseries({ bucket: 'hour', until: '9999-12-31T23:59:59Z' });
    expect(h.starts).toHaveLength(25);
    expect(h.starts[0]).toBe('9999-12-30T23:00:00');
    expect(h.starts.at(-1)).toBe('9999-12-31T23:00:00');
  });

  it('answers the same window for every way of writing its instants', () => {
    const a = timeseries({ bucket: 'hour', since: '2025-01-15T10:00:00Z', until: '2025-01-15T12:00:00.5Z' });
    const b = timeseries({ bucket: 'hour', since: '2025-01-15T10:00:00.000Z', until: '2025-01-15T12:00:00.500000Z' });
    expect(b).toEqual(a);
  });
});
