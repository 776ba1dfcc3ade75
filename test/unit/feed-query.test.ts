// parseFeedQuery (GET /feed) and parseEventsRequest (GET /events): defaults, ranges, the event
// type names, the filters, repeated parameters, and where a subscription resumes (the
// Last-Event-ID header wins over ?after=, and each must be a non-negative integer).

import { describe, expect, it } from 'vitest';
import { parseEventsRequest } from '../../src/http/events.js';
import { parseFeedQuery } from '../../src/http/feed.js';
import type { Parsed, ValidationIssue } from '../../src/ingest/issues.js';

type Query = Record<string, string | string[] | undefined>;

const TYPES = ['message.created', 'status.created', 'dead_letter.created'];

function issuesOf<T>(result: Parsed<T>): ValidationIssue[] {
  if (result.ok) throw new Error(`expected a validation failure, got ${JSON.stringify(result.value)}`);
  for (const issue of result.issues) {
    expect(['query', 'header']).toContain(issue.loc[0]);
    expect(typeof issue.msg).toBe('string');
    expect(issue.msg).not.toBe('');
    expect(typeof issue.type).toBe('string');
    expect(issue.type).not.toBe('');
  }
  return result.issues;
}

function accepted<T>(result: Parsed<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.issues)}`);
  return result.value;
}

const feedLocs = (query: Query) => issuesOf(parseFeedQuery(query)).map((issue) => issue.loc.join('.'));
const eventLocs = (query: Query, lastEventId?: string | string[]) =>
  issuesOf(parseEventsRequest(query, lastEventId)).map((issue) => issue.loc.join('.'));

/** Not a non-negative integer, in every way a client might get it wrong. */
const NOT_POSITIONS = ['-1', 'abc', '1.5', '', ' ', '1e3', '0x10', '+5', '5a', '١٠', '99999999999999999999', '-0', 'null'];

describe('parseFeedQuery', () => {
  it('defaults to after 0, limit 100 and every event', () => {
    expect(accepted(parseFeedQuery({}))).toEqual({ after: 0, limit: 100 });
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['42', 42],
    ['007', 7],
    [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
  ])('after=%s gives %d', (raw, after) => {
    expect(accepted(parseFeedQuery({ after: raw }))).toEqual({ after, limit: 100 });
  });

  it.each(NOT_POSITIONS)('after=%j is one issue at query.after', (raw) => {
    expect(feedLocs({ after: raw })).toEqual(['query.after']);
  });

  it.each([
    ['1', 1],
    ['100', 100],
    ['999', 999],
    ['1000', 1000],
  ])('limit=%s gives %d', (raw, limit) => {
    expect(accepted(parseFeedQuery({ limit: raw }))).toEqual({ after: 0, limit });
  });

  it.each(['0', '1001', '-1', 'abc', '1.5', '', '10000', '1e2', ' 5'])('limit=%j is one issue at query.limit', (raw) => {
    expect(feedLocs({ limit: raw })).toEqual(['query.limit']);
  });

  it('names the range in the message for limit out of range', () => {
    const [tooMany] = issuesOf(parseFeedQuery({ limit: '1001' }));
    expect(tooMany).toMatchObject({ type: 'less_than_equal' });
    expect(tooMany?.msg).toContain('1000');
    const [none] = issuesOf(parseFeedQuery({ limit: '0' }));
    expect(none).toMatchObject({ type: 'greater_than_equal' });
  });

  it.each(['after', 'limit', 'types', 'from', 'to'])('%s given twice is one issue naming it', (name) => {
    const value = name === 'types' ? 'message.created' : name === 'from' || name === 'to' ? '+14155550100' : '5';
    expect(feedLocs({ [name]: [value, value] })).toEqual([`query.${name}`]);
  });

  it('reports every bad parameter at once', () => {
    expect(feedLocs({ after: '-1', limit: '0', types: 'nope', to: 'abc' }).sort()).toEqual(
      ['query.after', 'query.limit', 'query.to', 'query.types'].sort(),
    );
  });

  it.each([
    ['message.created', ['message.created']],
    ['status.created', ['status.created']],
    ['dead_letter.created', ['dead_letter.created']],
    ['dead_letter.created,message.created', ['message.created', 'dead_letter.created']],
    ['status.created,status.created', ['status.created']],
    [TYPES.join(','), TYPES],
  ])('types=%s keeps %j', (raw, types) => {
    expect(accepted(parseFeedQuery({ types: raw }))).toEqual({ after: 0, limit: 100, types });
  });

  it('an empty types is every type', () => {
    expect(accepted(parseFeedQuery({ types: '' }))).toEqual({ after: 0, limit: 100 });
  });

  it.each([
    'message',
    'Message.Created',
    'message.created ',
    ' message.created',
    'message.created,',
    ',message.created',
    'message.created,,status.created',
    'message.created;status.created',
    'message.deleted',
    'status.created,unknown',
    '*',
  ])('types=%j is one issue at query.types', (raw) => {
    const issues = issuesOf(parseFeedQuery({ types: raw }));
    expect(issues.map((issue) => issue.loc.join('.'))).toEqual(['query.types']);
    // The message says which names are accepted.
    for (const type of TYPES) expect(issues[0]?.msg).toContain(type);
  });

  it('from is an exact sender, a leading space read as +', () => {
    expect(accepted(parseFeedQuery({ from: '+919876543210' }))).toEqual({ after: 0, limit: 100, from: '+919876543210' });
    expect(accepted(parseFeedQuery({ from: ' 919876543210' }))).toEqual({ after: 0, limit: 100, from: '+919876543210' });
  });

  it('to is + and 1 to 15 digits, a leading space read as +', () => {
    expect(accepted(parseFeedQuery({ to: ' 14155550100' }))).toEqual({ after: 0, limit: 100, to: '+14155550100' });
    for (const bad of ['14155550100', '+', '+1234567890123456', 'abc', '']) expect(feedLocs({ to: bad })).toEqual(['query.to']);
  });

  it('takes every parameter together', () => {
    expect(
      accepted(parseFeedQuery({ after: '9', limit: '1000', types: 'message.created', from: '+1', to: '+2', other: 'x' })),
    ).toEqual({ after: 9, limit: 1000, types: ['message.created'], from: '+1', to: '+2' });
  });
});

describe('parseEventsRequest: where the stream starts', () => {
  it('with neither after nor Last-Event-ID: at the current end (no position)', () => {
    expect(accepted(parseEventsRequest({}, undefined))).toEqual({});
  });

  it.each([
    ['0', 0],
    ['17', 17],
    ['007', 7],
    [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
  ])('?after=%s resumes after %d', (raw, after) => {
    expect(accepted(parseEventsRequest({ after: raw }, undefined))).toEqual({ after });
  });

  it.each([
    ['0', 0],
    ['17', 17],
    [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
  ])('Last-Event-ID: %s resumes after %d', (raw, after) => {
    expect(accepted(parseEventsRequest({}, raw))).toEqual({ after });
  });

  it('Last-Event-ID wins over ?after, whichever is larger', () => {
    expect(accepted(parseEventsRequest({ after: '3' }, '10'))).toEqual({ after: 10 });
    expect(accepted(parseEventsRequest({ after: '10' }, '3'))).toEqual({ after: 3 });
    expect(accepted(parseEventsRequest({ after: '5' }, '0'))).toEqual({ after: 0 });
  });

  it.each(NOT_POSITIONS)('?after=%j is one issue at query.after', (raw) => {
    expect(eventLocs({ after: raw })).toEqual(['query.after']);
  });

  it.each(NOT_POSITIONS)('Last-Event-ID: %j is one issue at header.last-event-id', (raw) => {
    expect(eventLocs({}, raw)).toEqual(['header.last-event-id']);
  });

  it('a bad ?after is a 422 even beside a good Last-Event-ID, and the other way round', () => {
    expect(eventLocs({ after: 'x' }, '5')).toEqual(['query.after']);
    expect(eventLocs({ after: '5' }, 'x')).toEqual(['header.last-event-id']);
    expect(eventLocs({ after: '-1' }, '-1').sort()).toEqual(['header.last-event-id', 'query.after']);
  });

  it('two Last-Event-ID values, as Node joins them or as a list, are a 422', () => {
    expect(eventLocs({}, '5, 6')).toEqual(['header.last-event-id']);
    expect(eventLocs({}, ['5', '6'])).toEqual(['header.last-event-id']);
  });

  it.each(['after', 'types', 'from', 'to'])('%s given twice is one issue naming it', (name) => {
    const value = name === 'types' ? 'message.created' : name === 'from' || name === 'to' ? '+14155550100' : '5';
    expect(eventLocs({ [name]: [value, value] })).toEqual([`query.${name}`]);
  });

  it('keeps the filters: types, from and to', () => {
    expect(
      accepted(parseEventsRequest({ types: 'status.created,message.created', from: ' 919876543210', to: '+14155550100' }, '4')),
    ).toEqual({ after: 4, types: ['message.created', 'status.created'], from: '+919876543210', to: '+14155550100' });
  });

  it.each(['message', 'message.created,', 'MESSAGE.CREATED', 'message.created,nope'])('types=%j is a 422', (raw) => {
    expect(eventLocs({ types: raw }, '1')).toEqual(['query.types']);
  });

  it('to that is not a phone number is a 422', () => {
    expect(eventLocs({ to: 'someone' })).toEqual(['query.to']);
  });

  it('reports every bad part at once', () => {
    expect(eventLocs({ after: 'a', types: 'b', to: 'c' }, 'd').sort()).toEqual(
      ['header.last-event-id', 'query.after', 'query.to', 'query.types'].sort(),
    );
  });

  it('ignores a limit (the stream has none) and unknown parameters', () => {
    expect(accepted(parseEventsRequest({ limit: 'whatever', other: '1' }, undefined))).toEqual({});
  });
});
