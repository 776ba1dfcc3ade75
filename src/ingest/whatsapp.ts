// Reads Meta's WhatsApp Cloud API webhook envelope (signature already verified) into messages,
// delivery statuses and dead letters for every item that cannot be read. Pure: no I/O, no clock.

import { codePointLength, type Parsed, type ValidationIssue } from './issues.js';
import { boundedJsonText, CUT_DESCRIPTION } from './json-text.js';
import { type IncomingMessage, MAX_MESSAGE_ID_CODE_POINTS, MAX_TEXT_CODE_POINTS } from './message.js';
import { instantKey } from './timestamp.js';

export interface WhatsAppMessage extends IncomingMessage {
  readonly type: string;
}

/** A message's life in order: a later status in this list comes later when two share an instant. */
export const DELIVERY_STATUS_NAMES = ['sent', 'delivered', 'read', 'failed'] as const;
export type DeliveryStatusName = (typeof DELIVERY_STATUS_NAMES)[number];

/** Where in an envelope an unreadable item was found. */
export const DEAD_LETTER_KINDS = ['entry', 'change', 'message', 'status'] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];

export interface DeliveryStatus {
  /** The status item's `id`: the wamid of the message it is about. */
  readonly messageId: string;
  readonly status: DeliveryStatusName;
  /** UTC form `YYYY-MM-DDTHH:MM:SSZ`, from the Unix-seconds `timestamp`. */
  readonly ts: string;
  readonly tsKey: string;
  readonly recipientId: string | null;
  /** JSON text of the item's `errors` array, when it has one; cut when nested too deep (see boundedJsonText). */
  readonly errors: string | null;
}

export interface DeadLetter {
  readonly kind: DeadLetterKind;
  /** Human-readable; names every field that is wrong, separated by "; ". */
  readonly reason: string;
  /**
   * JSON text of the unreadable item, kept whole unless it nests too deep to serialise again; then
   * cut (see boundedJsonText), and the reason says so.
   */
  readonly item: string;
  /** The item's `id`, when it had one that could itself be stored as a message id. */
  readonly itemId: string | null;
}

export interface EnvelopeContents {
  readonly messages: WhatsAppMessage[];
  readonly statuses: DeliveryStatus[];
  readonly deadLetters: DeadLetter[];
  /** `field` of every change other than "messages": acknowledged and counted, not stored. */
  readonly ignoredFields: string[];
}

const ENVELOPE_OBJECT = 'whatsapp_business_account';
/** Media types whose object may carry a `caption`, which becomes the message text. */
const CAPTIONED_MEDIA: ReadonlySet<string> = new Set(['image', 'video', 'document', 'sticker']);
const SENDER_DIGITS = /^[0-9]{1,15}$/;
/** What people write inside a phone number; Meta's display_phone_number may carry them. */
const PHONE_PUNCTUATION = /[ .()-]/g;
const UNIX_SECONDS_DIGITS = /^[0-9]+$/;
/** 9999-12-31T23:59:59Z: the last second a four-digit timestamp can name. */
const MAX_UNIX_SECONDS = 253_402_300_799;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

function field(obj: JsonObject, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

/** What a value is, for a reason: "got a number". */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** A value quoted for a reason: JSON escapes keep NUL and lone surrogates out; long ones are cut. */
function quoted(value: string): string {
  const codePoints = Array.from(value);
  return codePoints.length <= 40 ? JSON.stringify(value) : `${JSON.stringify(codePoints.slice(0, 40).join(''))}…`;
}

/**
 * What stops a string from being stored in every store, or null when nothing does. PostgreSQL
 * text holds neither U+0000 nor an unpaired surrogate, and the message id limit keeps a value
 * small enough for an index entry (see MAX_MESSAGE_ID_CODE_POINTS).
 */
function unstorable(value: string, maxCodePoints: number): string | null {
  const length = codePointLength(value);
  if (length < 0) return 'contains an unpaired UTF-16 surrogate';
  if (value.includes('\0')) return 'contains the NUL character (U+0000)';
  if (length > maxCodePoints) return `expected at most ${maxCodePoints} characters`;
  return null;
}

function idProblem(value: string): string | null {
  return value === '' ? 'expected at least 1 character' : unstorable(value, MAX_MESSAGE_ID_CODE_POINTS);
}

/** A required non-empty string of at most MAX_MESSAGE_ID_CODE_POINTS; pushes what is wrong. */
function requiredId(obj: JsonObject, name: string, problems: string[]): string | undefined {
  const value = field(obj, name);
  if (value === undefined) problems.push(`${name}: field required`);
  else if (typeof value !== 'string') problems.push(`${name}: expected a string, got ${kindOf(value)}`);
  else {
    const problem = idProblem(value);
    if (problem === null) return value;
    problems.push(`${name}: ${problem}`);
  }
  return undefined;
}

/** Unix seconds from a `timestamp`, or what is wrong with it. Meta sends digits; a whole number means the same. */
function unixSeconds(value: unknown): number | string {
  if (value === undefined) return 'field required';
  if (typeof value === 'string') return UNIX_SECONDS_DIGITS.test(value) ? Number(value) : 'expected Unix seconds, digits only';
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 ? value : 'expected Unix seconds, a whole number not below 0';
  }
  return `expected Unix seconds as a string or number, got ${kindOf(value)}`;
}

/** `timestamp` in the core form `YYYY-MM-DDTHH:MM:SSZ`, with its instant key; pushes what is wrong. */
function requiredTimestamp(obj: JsonObject, problems: string[]): { ts: string; tsKey: string } | undefined {
  const seconds = unixSeconds(field(obj, 'timestamp'));
  if (typeof seconds === 'string') {
    problems.push(`timestamp: ${seconds}`);
    return undefined;
  }
  if (seconds > MAX_UNIX_SECONDS) {
    problems.push('timestamp: expected a time no later than 9999-12-31T23:59:59Z');
    return undefined;
  }
  const ts = `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;
  const tsKey = instantKey(ts);
  // Cannot happen for 1970..9999; checked rather than asserted, so the types stay honest.
  if (tsKey === null) {
    problems.push('timestamp: not a valid instant');
    return undefined;
  }
  return { ts, tsKey };
}

/** Text that becomes a message's `text`, checked as the core form's `text` is; `name` is where it was. */
function checkedText(name: string, value: string, problems: string[]): string | undefined {
  const problem = unstorable(value, MAX_TEXT_CODE_POINTS);
  if (problem === null) return value;
  problems.push(`${name}: ${problem}`);
  return undefined;
}

/**
 * The message's text: the body of a text message (required there), the caption of captioned
 * media, the body of a system message; null for every other type, known or not.
 */
function messageText(item: JsonObject, type: string, problems: string[]): string | null | undefined {
  if (type === 'text') {
    const text = field(item, 'text');
    if (!isObject(text)) {
      problems.push(
        text === undefined ? 'text: field required for a text message' : `text: expected an object, got ${kindOf(text)}`,
      );
      return undefined;
    }
    const body = field(text, 'body');
    if (typeof body !== 'string') {
      problems.push(body === undefined ? 'text.body: field required' : `text.body: expected a string, got ${kindOf(body)}`);
      return undefined;
    }
    return checkedText('text.body', body, problems);
  }
  // Captions and system bodies are optional: without one the message is still worth keeping.
  const source = CAPTIONED_MEDIA.has(type) ? 'caption' : type === 'system' ? 'body' : null;
  if (source === null) return null;
  const holder = field(item, type);
  const value = isObject(holder) ? field(holder, source) : undefined;
  return typeof value === 'string' ? checkedText(`${type}.${source}`, value, problems) : null;
}

/**
 * The business number the change's messages were sent to, `+` and digits: Meta sends digits
 * ("15550783881"), and the number as people write it (+, spaces, dashes, dots, parentheses) is
 * tolerated. A string of what is wrong otherwise, which every message of the change will carry.
 */
function businessNumber(value: JsonObject): { ok: true; to: string } | { ok: false; problem: string } {
  const where = 'to (value.metadata.display_phone_number)';
  const metadata = field(value, 'metadata');
  if (metadata === undefined) return { ok: false, problem: `${where}: value.metadata is missing` };
  if (!isObject(metadata)) return { ok: false, problem: `${where}: value.metadata should be an object, got ${kindOf(metadata)}` };
  const raw = field(metadata, 'display_phone_number');
  if (raw === undefined) return { ok: false, problem: `${where}: field required` };
  if (typeof raw !== 'string') return { ok: false, problem: `${where}: expected a string, got ${kindOf(raw)}` };
  const stripped = raw.replace(PHONE_PUNCTUATION, '');
  const digits = stripped.startsWith('+') ? stripped.slice(1) : stripped;
  if (!SENDER_DIGITS.test(digits)) return { ok: false, problem: `${where}: expected 1 to 15 digits, got ${quoted(raw)}` };
  return { ok: true, to: `+${digits}` };
}

type ItemResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A string that can be kept as it is, or null: optional fields whose absence loses nothing else. */
function storableOrNull(value: unknown, maxCodePoints: number): string | null {
  return typeof value === 'string' && value !== '' && unstorable(value, maxCodePoints) === null ? value : null;
}

/** What a change says about every message in it: the business number it went to, and the senders' names. */
interface ChangeContext {
  readonly to: ReturnType<typeof businessNumber>;
  /** `metadata.phone_number_id`: the business number's id, needed to answer through the Cloud API. */
  readonly phoneNumberId: string | null;
  /** `contacts[].profile.name` by `wa_id`; the first contact listed for a wa_id wins. */
  readonly names: ReadonlyMap<string, string>;
}

/**
 * The contacts of a change. Names are optional and never stop a message from being kept: a contact
 * that is not an object, or a name that cannot be stored, is left out.
 */
function contactNames(value: JsonObject): Map<string, string> {
  const names = new Map<string, string>();
  const contacts = field(value, 'contacts');
  if (!isArray(contacts)) return names;
  for (const contact of contacts) {
    if (!isObject(contact)) continue;
    const waId = field(contact, 'wa_id');
    const profile = field(contact, 'profile');
    const name = isObject(profile) ? storableOrNull(field(profile, 'name'), MAX_MESSAGE_ID_CODE_POINTS) : null;
    if (typeof waId === 'string' && name !== null && !names.has(waId)) names.set(waId, name);
  }
  return names;
}

function changeContext(value: JsonObject): ChangeContext {
  const metadata = field(value, 'metadata');
  const phoneNumberId = isObject(metadata)
    ? storableOrNull(field(metadata, 'phone_number_id'), MAX_MESSAGE_ID_CODE_POINTS)
    : null;
  return { to: businessNumber(value), phoneNumberId, names: contactNames(value) };
}

/** `context.id`: the message this one replies to (a forwarded message has a context without one). */
function replyTo(item: JsonObject): string | null {
  const context = field(item, 'context');
  if (!isObject(context)) return null;
  const id = field(context, 'id');
  return typeof id === 'string' && idProblem(id) === null ? id : null;
}

function readMessage(item: unknown, change: ChangeContext): ItemResult<WhatsAppMessage> {
  const to = change.to;
  if (!isObject(item)) return { ok: false, reason: `message: expected an object, got ${kindOf(item)}` };
  const problems: string[] = [];
  const messageId = requiredId(item, 'id', problems);

  const rawFrom = field(item, 'from');
  let from: string | undefined;
  if (rawFrom === undefined) problems.push('from: field required');
  else if (typeof rawFrom !== 'string') problems.push(`from: expected a string of 1 to 15 digits, got ${kindOf(rawFrom)}`);
  else if (!SENDER_DIGITS.test(rawFrom)) problems.push('from: expected 1 to 15 digits');
  else from = `+${rawFrom}`;

  if (!to.ok) problems.push(to.problem);
  const time = requiredTimestamp(item, problems);
  const type = requiredId(item, 'type', problems);
  const text = type === undefined ? undefined : messageText(item, type, problems);

  if (
    problems.length > 0 ||
    messageId === undefined ||
    from === undefined ||
    !to.ok ||
    time === undefined ||
    type === undefined ||
    text === undefined
  ) {
    return { ok: false, reason: problems.join('; ') };
  }
  // The item is what the message keeps of itself: a message whose item cannot be kept whole is not
  // stored half, it becomes a dead letter (cut, with the reason saying so) for a person to look at.
  const raw = boundedJsonText(item);
  if (raw.cut) return { ok: false, reason: `message: the item cannot be kept whole, ${CUT_DESCRIPTION}` };
  const origin = {
    source: 'whatsapp',
    raw: raw.text,
    contactName: change.names.get(from.slice(1)) ?? null,
    replyTo: replyTo(item),
    phoneNumberId: change.phoneNumberId,
  } as const;
  return { ok: true, value: { messageId, from, to: to.to, ts: time.ts, tsKey: time.tsKey, text, type, origin } };
}

function readStatus(item: unknown): ItemResult<DeliveryStatus> {
  if (!isObject(item)) return { ok: false, reason: `status: expected an object, got ${kindOf(item)}` };
  const problems: string[] = [];
  const messageId = requiredId(item, 'id', problems);

  const rawStatus = field(item, 'status');
  const status = DELIVERY_STATUS_NAMES.find((name) => name === rawStatus);
  if (rawStatus === undefined) problems.push('status: field required');
  else if (typeof rawStatus !== 'string') problems.push(`status: expected a string, got ${kindOf(rawStatus)}`);
  else if (status === undefined)
    problems.push(`status: expected one of ${DELIVERY_STATUS_NAMES.join(', ')}, got ${quoted(rawStatus)}`);

  const time = requiredTimestamp(item, problems);

  // Optional: a status about a message to a group names no single recipient.
  const rawRecipient = field(item, 'recipient_id');
  let recipientId: string | null = null;
  if (typeof rawRecipient === 'string') {
    const problem = unstorable(rawRecipient, MAX_MESSAGE_ID_CODE_POINTS);
    if (problem === null) recipientId = rawRecipient;
    else problems.push(`recipient_id: ${problem}`);
  } else if (rawRecipient !== undefined && rawRecipient !== null) {
    problems.push(`recipient_id: expected a string, got ${kindOf(rawRecipient)}`);
  }

  // Kept as JSON text: Meta's error objects vary by code, and JSON escapes make any of them storable.
  // Errors nested too deep are cut, and the status is still kept: its id, state and time are what a
  // user looks for, and they are readable; the marker in `errors` shows what was dropped. Refusing
  // the status for a malformed detail would hide a delivery that did happen.
  const rawErrors = field(item, 'errors');
  const errors = isArray(rawErrors) ? boundedJsonText(rawErrors).text : null;

  if (problems.length > 0 || messageId === undefined || status === undefined || time === undefined) {
    return { ok: false, reason: problems.join('; ') };
  }
  return { ok: true, value: { messageId, status, ts: time.ts, tsKey: time.tsKey, recipientId, errors } };
}

function itemIdOf(value: unknown): string | null {
  if (!isObject(value)) return null;
  const id = field(value, 'id');
  return typeof id === 'string' && idProblem(id) === null ? id : null;
}

/**
 * An unreadable item kept with its reason. An item nested too deep to serialise again is cut rather
 * than refused: the envelope around it must still be acknowledged, or Meta redelivers it for days.
 */
function deadLetter(kind: DeadLetter['kind'], reason: string, item: unknown): DeadLetter {
  const { text, cut } = boundedJsonText(item);
  return { kind, reason: cut ? `${reason}; item cut: ${CUT_DESCRIPTION}` : reason, item: text, itemId: itemIdOf(item) };
}

interface MessagesValue {
  readonly value: JsonObject;
  readonly messages: readonly unknown[];
  readonly statuses: readonly unknown[];
}

/** `value.<name>`, which Meta leaves out when there is nothing of that kind. */
function optionalList(value: JsonObject, name: string, problems: string[]): readonly unknown[] {
  const list = field(value, name);
  if (list === undefined) return [];
  if (isArray(list)) return list;
  problems.push(`value.${name}: expected an array, got ${kindOf(list)}`);
  return [];
}

/** A `field: "messages"` change: its value and lists, or why the change as a whole cannot be read. */
function messagesValue(change: JsonObject): ItemResult<MessagesValue> {
  const value = field(change, 'value');
  if (value === undefined) return { ok: false, reason: 'value: field required' };
  if (!isObject(value)) return { ok: false, reason: `value: expected an object, got ${kindOf(value)}` };
  const problems: string[] = [];
  const messages = optionalList(value, 'messages', problems);
  const statuses = optionalList(value, 'statuses', problems);
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return { ok: true, value: { value, messages, statuses } };
}

function readChange(change: unknown, out: EnvelopeContents): void {
  if (!isObject(change)) {
    out.deadLetters.push(deadLetter('change', `change: expected an object, got ${kindOf(change)}`, change));
    return;
  }
  const name = field(change, 'field');
  if (typeof name !== 'string' || name === '') {
    const reason =
      name === ''
        ? 'field: expected at least 1 character'
        : name === undefined
          ? 'field: field required'
          : `field: expected a string, got ${kindOf(name)}`;
    out.deadLetters.push(deadLetter('change', reason, change));
    return;
  }
  if (name !== 'messages') {
    out.ignoredFields.push(name);
    return;
  }
  const read = messagesValue(change);
  if (!read.ok) {
    out.deadLetters.push(deadLetter('change', read.reason, change));
    return;
  }
  const context = changeContext(read.value.value);
  for (const item of read.value.messages) {
    const message = readMessage(item, context);
    if (message.ok) out.messages.push(message.value);
    else out.deadLetters.push(deadLetter('message', message.reason, item));
  }
  for (const item of read.value.statuses) {
    const status = readStatus(item);
    if (status.ok) out.statuses.push(status.value);
    else out.deadLetters.push(deadLetter('status', status.reason, item));
  }
}

function readEntry(entry: unknown, out: EnvelopeContents): void {
  if (!isObject(entry)) {
    out.deadLetters.push(deadLetter('entry', `entry: expected an object, got ${kindOf(entry)}`, entry));
    return;
  }
  const changes = field(entry, 'changes');
  if (!isArray(changes)) {
    const reason = changes === undefined ? 'changes: field required' : `changes: expected an array, got ${kindOf(changes)}`;
    out.deadLetters.push(deadLetter('entry', reason, entry));
    return;
  }
  for (const change of changes) readChange(change, out);
}

/**
 * Reads a parsed webhook body. A body that is not a WhatsApp Business Account envelope at all is
 * refused with Pydantic-style issues. Otherwise every item comes out exactly once, in order: as a
 * message, a status, or a dead letter saying what is wrong with it; one unreadable item never
 * blocks its siblings, and changes about other fields are listed in `ignoredFields`.
 */
export function readWhatsAppEnvelope(body: Record<string, unknown>): Parsed<EnvelopeContents> {
  const issues: ValidationIssue[] = [];
  const object = field(body, 'object');
  if (object === undefined) issues.push({ loc: ['body', 'object'], type: 'missing', msg: 'Field required' });
  else if (object !== ENVELOPE_OBJECT) {
    issues.push({ loc: ['body', 'object'], type: 'literal_error', msg: `Input should be '${ENVELOPE_OBJECT}'` });
  }
  const entries = field(body, 'entry');
  if (entries === undefined) issues.push({ loc: ['body', 'entry'], type: 'missing', msg: 'Field required' });
  else if (!isArray(entries)) issues.push({ loc: ['body', 'entry'], type: 'list_type', msg: 'Input should be a valid list' });
  if (issues.length > 0 || !isArray(entries)) return { ok: false, issues };

  const out: EnvelopeContents = { messages: [], statuses: [], deadLetters: [], ignoredFields: [] };
  for (const entry of entries) readEntry(entry, out);
  return { ok: true, value: out };
}
