// The pieces of the API's schemas that several routes share: the error bodies, a message, a
// delivery status, a dead letter. Declared once with TypeBox; they type the handlers, serialise
// the responses and make up the OpenAPI document (GET /openapi.json).

import { type StringOptions, type TObject, Type } from '@sinclair/typebox';
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

/** A message in the list: exactly the five keys of the core contract. */
export const MessageItem = Type.Object(
  {
    message_id: Type.String({ examples: ['m1'] }),
    from: Type.String({ pattern: PHONE, examples: ['+919876543210'] }),
    to: Type.String({ pattern: PHONE, examples: ['+14155550100'] }),
    ts: Type.String({ description: 'As the sender wrote it.', examples: ['2025-01-15T10:00:00Z'] }),
    text: NullableString({ maxLength: 4096 }),
  },
  { $id: 'MessageItem', additionalProperties: false },
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
];
