// The pieces of the API's schemas that several routes share: the error bodies, a message, a
// delivery status, a dead letter. Declared once with TypeBox; they type the handlers, serialise
// the responses and make up the OpenAPI document (GET /openapi.json).

import { type StringOptions, type TObject, Type } from '@sinclair/typebox';
import { MESSAGE_SOURCES, type MessageSource } from '../ingest/message.js';
import { DEAD_LETTER_KINDS, DELIVERY_STATUS_NAMES } from '../ingest/whatsapp.js';

/**
 * A string or null, the shape of every optional field of a stored row: written as
 * `type: ["string", "null"]` rather than an anyOf, because the response serialiser writes the
 * former directly but checks every value against each branch of the latter (measured: +15% on a
 * page of 50 messages).
 */
export const NullableString = (options: StringOptions = {}) =>
  Type.Unsafe<string | null>({ ...options, type: ['string', 'null'] });

/** One of a few strings, as `enum` (see NullableString for why not an anyOf of literals). */
export const StringEnum = <T extends string>(values: readonly T[], options: StringOptions = {}) =>
  Type.Unsafe<T>({ ...options, type: 'string', enum: [...values] });

export const Detail = Type.Object(
  { detail: Type.String({ description: 'What went wrong, in words.' }) },
  { $id: 'Detail', title: 'Error', additionalProperties: false },
);

export const ValidationIssue = Type.Object(
  {
    loc: Type.Array(Type.Unsafe<string | number>({ type: ['string', 'integer'] }), {
      description: 'Where the failure is: ["body"], ["body", "from"], ["query", "limit"].',
    }),
    type: Type.String({ description: "A stable code, in Pydantic's vocabulary where one exists (missing, string_type, …)." }),
    msg: Type.String({ description: 'What is wrong, in words.' }),
  },
  { $id: 'ValidationIssue', additionalProperties: false },
);

export const ValidationError = Type.Object(
  { detail: Type.Array(Type.Ref(ValidationIssue), { description: 'Every failing field, each once.' }) },
  {
    $id: 'ValidationError',
    title: 'Validation error',
    additionalProperties: false,
    examples: [
      {
        detail: [
          {
            loc: ['body', 'from'],
            type: 'string_pattern_mismatch',
            msg: "String should match pattern '^\\+[0-9]{1,15}$' (+ and 1 to 15 digits)",
          },
          {
            loc: ['body', 'ts'],
            type: 'datetime_format',
            msg: 'Timestamp should be YYYY-MM-DDTHH:MM:SS[.fraction]Z (at most 64 fraction digits) naming a real UTC instant',
          },
        ],
      },
    ],
  },
);

/** A response documented as `{"detail": "…"}`, with what it means on this route. */
export function detail(description: string, example?: string) {
  return Type.Ref(Detail, { description, ...(example !== undefined ? { examples: [{ detail: example }] } : {}) });
}

export function validationError(description = 'A parameter or the body is malformed; every failing field is named.') {
  return Type.Ref(ValidationError, { description });
}

const UNAVAILABLE = 'The database cannot serve now (or the server is overloaded or shutting down): retry later.';

/** The 401 of a read without a valid bearer token (only when API_TOKEN is set). */
export const unauthorizedRead = detail(
  'API_TOKEN is set and the request has no valid `Authorization: Bearer` token; `WWW-Authenticate` says which.',
  'missing bearer token',
);

export const unavailable = detail(UNAVAILABLE, 'database unavailable; retry later');

export const PHONE = '^\\+[0-9]{1,15}$';

/** The provider's message type, as a message reads it back. */
export const MESSAGE_TYPE = NullableString({
  description: "The provider's message type (text, image, location, …); null for a message of the core form.",
  examples: ['image'],
});

const SOURCE_DESCRIPTION =
  'How it arrived: "spec" (X-Signature), "standard" (Standard Webhooks) or "whatsapp". For messages stored before sources were kept: "whatsapp" when they have a type, else "spec".';
const RECEIVED_AT_DESCRIPTION = 'Server time (UTC, milliseconds) when the store took the message in.';

/** `source` where a message may be unknown (GET /messages/{message_id} of statuses only). */
export const NullableSource = Type.Unsafe<MessageSource | null>({
  type: ['string', 'null'],
  enum: [...MESSAGE_SOURCES, null],
  description: `${SOURCE_DESCRIPTION} Null when only statuses are known.`,
});

/** `received_at` where a message may be unknown. */
export const NullableReceivedAt = NullableString({
  format: 'date-time',
  description: `${RECEIVED_AT_DESCRIPTION} Null when only statuses are known.`,
});

/** What a message keeps besides the core fields: in GET /messages/{message_id}, and in list items on request. */
export const MESSAGE_DETAILS = {
  source: StringEnum(MESSAGE_SOURCES, { description: SOURCE_DESCRIPTION }),
  received_at: Type.String({
    format: 'date-time',
    description: RECEIVED_AT_DESCRIPTION,
    examples: ['2025-01-15T10:00:01.234Z'],
  }),
  contact_name: NullableString({
    description: "WhatsApp: the sender's profile name from the envelope's contacts (matched by wa_id); else null.",
    examples: ['Asha Rao'],
  }),
  reply_to: NullableString({
    description: 'WhatsApp: the message_id this message answers (context.id); else null.',
  }),
  phone_number_id: NullableString({
    description:
      "WhatsApp: the envelope's metadata.phone_number_id, the id of the business number that received it (needed to answer through the Cloud API); else null.",
    examples: ['106540352242922'],
  }),
  raw: Type.Unknown({
    description:
      'What the provider sent about this message, as JSON: the signed body object (unknown fields included) for spec and standard, the messages[] item exactly as received for whatsapp. Null for messages stored before it was kept.',
  }),
};

/** The keys `include` may add to a list item, in the order they are written. */
export const INCLUDABLE = ['type', 'source', 'received_at', 'contact_name', 'reply_to', 'phone_number_id', 'raw'] as const;
export type Includable = (typeof INCLUDABLE)[number];

/** A message in the list: exactly the five keys of the core contract, and those `include` names. */
export const MessageItem = Type.Object(
  {
    message_id: Type.String({ examples: ['m1'] }),
    from: Type.String({ pattern: PHONE, examples: ['+919876543210'] }),
    to: Type.String({ pattern: PHONE, examples: ['+14155550100'] }),
    ts: Type.String({ description: 'As the sender wrote it.', examples: ['2025-01-15T10:00:00Z'] }),
    text: NullableString({ maxLength: 4096 }),
    type: Type.Optional(MESSAGE_TYPE),
    source: Type.Optional(MESSAGE_DETAILS.source),
    received_at: Type.Optional(MESSAGE_DETAILS.received_at),
    contact_name: Type.Optional(MESSAGE_DETAILS.contact_name),
    reply_to: Type.Optional(MESSAGE_DETAILS.reply_to),
    phone_number_id: Type.Optional(MESSAGE_DETAILS.phone_number_id),
    raw: Type.Optional(MESSAGE_DETAILS.raw),
  },
  {
    $id: 'MessageItem',
    additionalProperties: false,
    description: 'The five core keys; the others only when `include` names them.',
  },
);

export const StatusItem = Type.Object(
  {
    status: StringEnum(DELIVERY_STATUS_NAMES),
    ts: Type.String({ examples: ['2025-01-15T10:00:05Z'] }),
    recipient_id: NullableString(),
    errors: Type.Unknown({ description: "The provider's errors array as received, or null." }),
  },
  { $id: 'StatusItem', additionalProperties: false },
);

export const DeadLetterItem = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    received_at: Type.String({ format: 'date-time' }),
    source: Type.String({ examples: ['whatsapp'] }),
    kind: StringEnum(DEAD_LETTER_KINDS),
    reason: Type.String({ examples: ['from: expected 1 to 15 digits'] }),
    item_id: NullableString(),
    item: Type.Unknown({ description: 'The unreadable item as received (cut below 64 levels of nesting).' }),
  },
  { $id: 'DeadLetterItem', additionalProperties: false },
);

/** A message.created event's data: the message as GET /messages/{message_id} gives it, without statuses. */
export const MessageEvent = Type.Object(
  {
    message_id: Type.String(),
    from: Type.String({ pattern: PHONE }),
    to: Type.String({ pattern: PHONE }),
    ts: Type.String(),
    text: NullableString(),
    type: MESSAGE_TYPE,
    ...MESSAGE_DETAILS,
  },
  { $id: 'MessageEvent', additionalProperties: false },
);

/** A status.created event's data: the status with the message id it is about. */
export const StatusEvent = Type.Object(
  {
    message_id: Type.String(),
    status: StringEnum(DELIVERY_STATUS_NAMES),
    ts: Type.String({ examples: ['2025-01-15T10:00:05Z'] }),
    recipient_id: NullableString(),
    errors: Type.Unknown({ description: "The provider's errors array as received, or null." }),
  },
  { $id: 'StatusEvent', additionalProperties: false },
);

/**
 * Every schema referenced by $ref, registered once with the app (and so listed under the OpenAPI
 * document's components). The order of properties in each is the order they are written in.
 */
export const SHARED_SCHEMAS: readonly TObject[] = [
  Detail,
  ValidationIssue,
  ValidationError,
  MessageItem,
  StatusItem,
  DeadLetterItem,
  MessageEvent,
  StatusEvent,
];
