// Turns the raw bytes of a signed POST /webhook body into a valid message, or the list of
// everything wrong with it. Pure: no I/O, no clock.

import { codePointLength, type Parsed, type ValidationIssue } from './issues.js';
import { boundedJsonText } from './json-text.js';
import { instantKey, TIMESTAMP_FORMAT_MESSAGE } from './timestamp.js';

/** Which signed form a message came in: X-Signature, Standard Webhooks or WhatsApp Cloud API. */
export type MessageSource = 'spec' | 'standard' | 'whatsapp';
export const MESSAGE_SOURCES: readonly MessageSource[] = ['spec', 'standard', 'whatsapp'];

/** What ingest keeps about where a message came from, beside its core fields. */
export interface MessageOrigin {
  readonly source: MessageSource;
  /**
   * JSON text of what the provider sent about this message: the signed body object of the core
   * form and Standard Webhooks, the `messages[]` item of a WhatsApp envelope.
   */
  readonly raw: string;
  /** WhatsApp: the sender's `contacts[].profile.name` (matched by `wa_id`). */
  readonly contactName: string | null;
  /** WhatsApp: `context.id`, the message this one answers. */
  readonly replyTo: string | null;
  /** WhatsApp: the envelope's `metadata.phone_number_id`, the business number that received it. */
  readonly phoneNumberId: string | null;
}

export interface IncomingMessage {
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
  /** `ts` exactly as sent, kept for display. */
  readonly ts: string;
  /** The instant `ts` names, as a string whose byte order is chronological (see instantKey). */
  readonly tsKey: string;
  readonly text: string | null;
  /** The provider's message type ("text", "image", …) when it has one; Messages of the core form have none. */
  readonly type?: string;
  /** Where it came from and what was sent; absent only for messages made by tools and tests. */
  readonly origin?: MessageOrigin;
}

export const MAX_TEXT_CODE_POINTS = 4096;
/**
 * Far longer than any provider's ids (WhatsApp's are under 100), and short enough that an id
 * always fits a database index entry: PostgreSQL's B-tree refuses entries over about 2.7 kB, and
 * one such row would fail the whole group-commit batch it was written in, for every store alike.
 */
export const MAX_MESSAGE_ID_CODE_POINTS = 512;
export const PHONE_PATTERN = /^\+[0-9]{1,15}$/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function issue(field: string | null, type: string, msg: string): ValidationIssue {
  return { loc: field === null ? ['body'] : ['body', field], type, msg };
}

const MISSING = (field: string) => issue(field, 'missing', 'Field required');
const NOT_STRING = (field: string) => issue(field, 'string_type', 'Input should be a valid string');
const UNPAIRED = (field: string) => issue(field, 'string_unicode', 'String should not contain unpaired UTF-16 surrogates');
// PostgreSQL text cannot hold U+0000 at all; refusing it for every store keeps them identical, and
// no messaging provider sends it.
const NUL = (field: string) => issue(field, 'string_nul', 'String should not contain the NUL character (U+0000)');

/** Decodes and parses the body; the only accepted top level is a JSON object. */
export function parseJsonObject(body: Buffer): Parsed<Record<string, unknown>> {
  if (body.length === 0) return { ok: false, issues: [issue(null, 'missing', 'Field required: the body is empty')] };
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, issues: [issue(null, 'json_invalid', 'Body is not valid UTF-8')] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid JSON';
    return { ok: false, issues: [issue(null, 'json_invalid', `JSON decode error: ${reason}`)] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, issues: [issue(null, 'model_attributes_type', 'Input should be a valid dictionary or object')] };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function field(obj: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

/** A string field that must be present; pushes what is wrong and returns undefined then. */
function requiredString(obj: Record<string, unknown>, name: string, issues: ValidationIssue[]): string | undefined {
  const value = field(obj, name);
  if (value === undefined) issues.push(MISSING(name));
  else if (typeof value !== 'string') issues.push(NOT_STRING(name));
  else return value;
  return undefined;
}

function phone(obj: Record<string, unknown>, name: string, issues: ValidationIssue[]): string | undefined {
  const value = requiredString(obj, name, issues);
  if (value === undefined || PHONE_PATTERN.test(value)) return value;
  issues.push(issue(name, 'string_pattern_mismatch', "String should match pattern '^\\+[0-9]{1,15}$' (+ and 1 to 15 digits)"));
  return undefined;
}

/** What is wrong with a message_id that is a string, or null when it is fine. */
function messageIdIssue(messageId: string): ValidationIssue | null {
  if (messageId === '') return issue('message_id', 'string_too_short', 'String should have at least 1 character');
  const length = codePointLength(messageId);
  if (length < 0) return UNPAIRED('message_id');
  if (messageId.includes('\0')) return NUL('message_id');
  if (length > MAX_MESSAGE_ID_CODE_POINTS) {
    return issue('message_id', 'string_too_long', `String should have at most ${MAX_MESSAGE_ID_CODE_POINTS} characters`);
  }
  return null;
}

/** Validates a parsed body; names every failing field, in the order of the contract. */
export function validateMessage(obj: Record<string, unknown>): Parsed<IncomingMessage> {
  const issues: ValidationIssue[] = [];

  let messageId = requiredString(obj, 'message_id', issues);
  const idIssue = messageId === undefined ? null : messageIdIssue(messageId);
  if (idIssue !== null) {
    issues.push(idIssue);
    messageId = undefined;
  }

  const from = phone(obj, 'from', issues);
  const to = phone(obj, 'to', issues);

  const ts = requiredString(obj, 'ts', issues);
  const tsKey = ts === undefined ? null : instantKey(ts);
  if (ts !== undefined && tsKey === null) {
    issues.push(issue('ts', 'datetime_format', TIMESTAMP_FORMAT_MESSAGE));
  }

  const rawText = field(obj, 'text');
  let text: string | null = null;
  if (typeof rawText === 'string') {
    const length = codePointLength(rawText);
    if (length < 0) issues.push(UNPAIRED('text'));
    else if (rawText.includes('\0')) issues.push(NUL('text'));
    else if (length > MAX_TEXT_CODE_POINTS) {
      issues.push(issue('text', 'string_too_long', `String should have at most ${MAX_TEXT_CODE_POINTS} characters`));
    } else text = rawText;
  } else if (rawText !== undefined && rawText !== null) {
    issues.push(issue('text', 'string_type', 'Input should be a valid string or null'));
  }

  if (
    issues.length > 0 ||
    messageId === undefined ||
    from === undefined ||
    to === undefined ||
    ts === undefined ||
    tsKey === null
  ) {
    return { ok: false, issues };
  }
  return { ok: true, value: { messageId, from, to, ts, tsKey, text } };
}

/** parseJsonObject then validateMessage. */
export function parseMessage(body: Buffer): Parsed<IncomingMessage> {
  const parsed = parseJsonObject(body);
  return parsed.ok ? validateMessage(parsed.value) : parsed;
}

/**
 * The origin of a core-form or Standard Webhooks message: its signed body object, unknown fields
 * included. A body nested too deep to serialise again keeps its readable levels (see
 * boundedJsonText): the message itself is valid, and refusing it for an extra field it may carry
 * would go against ignoring unknown fields.
 */
export function bodyOrigin(source: 'spec' | 'standard', body: Record<string, unknown>): MessageOrigin {
  return { source, raw: boundedJsonText(body).text, contactName: null, replyTo: null, phoneNumberId: null };
}
