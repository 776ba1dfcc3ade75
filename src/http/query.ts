// The query parameters the read routes share, parsed by hand into exact 422 issues: the schemas
// declared on the routes document the parameters, these functions enforce them (see app.ts on why
// the schema validator is switched off). A cursor is opaque to clients: base64url of a JSON array
// that carries its place and a digest of the order and filters it was made for. Pure.

import { createHash } from 'node:crypto';
import type { Parsed, ValidationIssue } from '../ingest/issues.js';
import { codePointLength } from '../ingest/issues.js';
import { PHONE_PATTERN } from '../ingest/message.js';
import { instantKey, TIMESTAMP_FORMAT_MESSAGE } from '../ingest/timestamp.js';

export type QueryValue = string | string[] | undefined;
export type Query = Record<string, QueryValue>;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 100;

/** One query parameter; a repeated one is ambiguous and rejected rather than guessed at. */
export function single(query: Query, name: string, issues: ValidationIssue[]): string | undefined {
  const value = Object.hasOwn(query, name) ? query[name] : undefined;
  if (Array.isArray(value)) {
    issues.push({ loc: ['query', name], type: 'query_repeated', msg: 'Give this parameter at most once' });
    return undefined;
  }
  return value;
}

export function integerParam(
  query: Query,
  name: string,
  fallback: number,
  min: number,
  max: number,
  issues: ValidationIssue[],
): number {
  const raw = single(query, name, issues);
  if (raw === undefined) return fallback;
  const loc = ['query', name];
  if (!/^[0-9]+$/.test(raw)) {
    issues.push({ loc, type: 'int_parsing', msg: 'Input should be a valid integer, unable to parse string as an integer' });
    return fallback;
  }
  const value = Number(raw);
  if (value < min) issues.push({ loc, type: 'greater_than_equal', msg: `Input should be greater than or equal to ${min}` });
  else if (value > max) issues.push({ loc, type: 'less_than_equal', msg: `Input should be less than or equal to ${max}` });
  return value;
}

/** Validates plain `limit` and `offset` paging (the lists other than /messages). */
export function parsePageQuery(query: Query): Parsed<{ limit: number; offset: number }> {
  const issues: ValidationIssue[] = [];
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT, issues);
  const offset = integerParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, issues);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { limit, offset } };
}

/**
 * A phone number parameter. A raw `+` in a query string decodes to a space, and curl sends `+`
 * raw: a leading space is read back as `+`. With `strict`, anything but `+` and 1 to 15 digits is
 * an issue (every stored number has that form); without, any value is an exact match (the core
 * contract's `from`).
 */
export function phoneParam(query: Query, name: string, strict: boolean, issues: ValidationIssue[]): string | undefined {
  let value = single(query, name, issues);
  if (value?.startsWith(' ')) value = `+${value.slice(1)}`;
  if (value === undefined || !strict || PHONE_PATTERN.test(value)) return value;
  issues.push({
    loc: ['query', name],
    type: 'string_pattern_mismatch',
    msg: "String should match pattern '^\\+[0-9]{1,15}$' (+ and 1 to 15 digits; a leading space is read as +)",
  });
  return undefined;
}

/** A timestamp parameter, as its instant key. */
export function instantParam(query: Query, name: string, issues: ValidationIssue[]): string | undefined {
  const value = single(query, name, issues);
  if (value === undefined) return undefined;
  const key = instantKey(value);
  if (key === null) {
    issues.push({ loc: ['query', name], type: 'datetime_format', msg: TIMESTAMP_FORMAT_MESSAGE });
    return undefined;
  }
  return key;
}

/** One of a few words. */
export function enumParam<T extends string>(
  query: Query,
  name: string,
  values: readonly T[],
  issues: ValidationIssue[],
): T | undefined {
  const value = single(query, name, issues);
  if (value === undefined) return undefined;
  const found = values.find((candidate) => candidate === value);
  if (found === undefined) {
    const words = values.map((v) => `'${v}'`);
    issues.push({
      loc: ['query', name],
      type: 'enum',
      msg: `Input should be ${words.slice(0, -1).join(', ')}${words.length > 1 ? ' or ' : ''}${words.at(-1) ?? ''}`,
    });
  }
  return found;
}

/** A value compared exactly with stored text: at least one character, at most `max`, no U+0000 and no lone surrogate. */
export function textParam(query: Query, name: string, max: number, issues: ValidationIssue[]): string | undefined {
  const value = single(query, name, issues);
  if (value === undefined) return undefined;
  const loc = ['query', name];
  const length = codePointLength(value);
  if (value === '') issues.push({ loc, type: 'string_too_short', msg: 'String should have at least 1 character' });
  else if (length < 0 || value.includes('\0')) {
    issues.push({ loc, type: 'string_unicode', msg: 'String should hold neither U+0000 nor an unpaired surrogate' });
  } else if (length > max) issues.push({ loc, type: 'string_too_long', msg: `String should have at most ${max} characters` });
  else return value;
  return undefined;
}

/**
 * A short digest of what a cursor was made for (the order and filters of the listing): a cursor
 * given back with other filters would land at a place that means nothing in the new listing.
 */
export function scopeDigest(scope: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(scope)).digest('base64url').slice(0, 16);
}

export function encodeCursor(parts: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/** The array a cursor holds, or null when it is not one of ours. */
export function decodeCursor(cursor: string): unknown[] | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Whether a decoded value is an instant key in its canonical form (re-parsing it gives it back). */
export function isInstantKey(value: unknown): value is string {
  return typeof value === 'string' && instantKey(`${value}Z`) === value;
}

export const CURSOR_INVALID: Omit<ValidationIssue, 'loc'> = {
  type: 'cursor_invalid',
  msg: 'Cursor should be a next_cursor value from an earlier page',
};

export const CURSOR_MISMATCH: Omit<ValidationIssue, 'loc'> = {
  type: 'cursor_mismatch',
  msg: 'Cursor was made for another order or other filters; give those again, or start over with an empty cursor',
};

/**
 * The `cursor` parameter: undefined when absent, null for an empty one (the first page), or the
 * place it holds, checked against the scope of this request (null: not checked, because other
 * parameters are wrong and the scope would name no listing). `read` turns the cursor's leading
 * parts into a place, or null when they are not one.
 */
export function cursorParam<P>(
  query: Query,
  scope: string | null,
  read: (parts: readonly unknown[]) => P | null,
  issues: ValidationIssue[],
): { present: boolean; after?: P } {
  const cursor = single(query, 'cursor', issues);
  if (cursor === undefined) return { present: false };
  if (cursor === '') return { present: true };
  const parts = decodeCursor(cursor);
  const after = parts === null || parts.length < 1 ? null : read(parts.slice(0, -1));
  if (parts === null || after === null) {
    issues.push({ loc: ['query', 'cursor'], ...CURSOR_INVALID });
    return { present: true };
  }
  if (scope !== null && parts.at(-1) !== scope) {
    issues.push({ loc: ['query', 'cursor'], ...CURSOR_MISMATCH });
    return { present: true };
  }
  return { present: true, after };
}
