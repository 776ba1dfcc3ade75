// POST /webhook in its three signed forms, and GET /webhook, Meta's subscription handshake.
// Every form verifies its signature on the raw bytes first, then reads, then stores, and answers
// only after the commit. Which form a request is comes from its signature header.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { ValidationIssue } from '../ingest/issues.js';
import { bodyOrigin, parseJsonObject, validateMessage } from '../ingest/message.js';
import { verifyMetaSignature, verifySignature } from '../ingest/signature.js';
import { verifyStandardWebhook } from '../ingest/standard-webhooks.js';
import { type EnvelopeContents, readWhatsAppEnvelope } from '../ingest/whatsapp.js';
import type { Metrics } from '../observability/metrics.js';
import type { GroupCommitter } from '../store/group-commit.js';
import type { DeliveryOutcome, IncomingMessage, MessageStore } from '../store/store.js';
import { tokenMatches } from './auth.js';
import {
  BodiesInFlightFull,
  Forbidden,
  InvalidSignature,
  PayloadTooLarge,
  RequestTimeout,
  ServiceUnavailable,
  StaleTimestamp,
  ValidationFailed,
} from './errors.js';
import { WEBHOOK_SECURITY } from './openapi.js';
import { detail, NullableString, PHONE, validationError } from './schemas.js';

export type WebhookConfig = Pick<
  Config,
  'webhookSecrets' | 'whatsappAppSecrets' | 'whatsappVerifyTokens' | 'standardWebhooksKeys' | 'webhookToleranceSeconds'
>;

export interface WebhookRouteOptions {
  readonly config: WebhookConfig;
  readonly committer: GroupCommitter;
  readonly store: MessageStore;
  readonly metrics: Metrics;
  /** Wall clock in milliseconds, for the Standard Webhooks replay window; tests may pin it. */
  readonly now?: () => number;
  /** Called after a delivery stored something new: the feed has moved. */
  readonly onStored?: () => void;
  /** Called as a delivery is handed to the store to be written (retention gives way while they come). */
  readonly onWrite?: () => void;
}

/** The longest hub.challenge echoed back; Meta's are short numbers. */
const MAX_CHALLENGE_LENGTH = 1024;

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

type Scheme = 'whatsapp' | 'standard' | 'spec';

/**
 * Meta signs with X-Hub-Signature-256, Standard Webhooks senders with webhook-* headers; anything
 * else is the core form (X-Signature), so a request with no signature at all keeps its core-form answer.
 */
function schemeOf(request: FastifyRequest): Scheme {
  const headers = request.headers;
  if (headers['x-hub-signature-256'] !== undefined) return 'whatsapp';
  if (
    headers['webhook-signature'] !== undefined ||
    headers['webhook-id'] !== undefined ||
    headers['webhook-timestamp'] !== undefined
  ) {
    return 'standard';
  }
  return 'spec';
}

function rawBody(request: FastifyRequest): Buffer {
  // Every content type arrives here as the raw bytes (see raw-body.ts); none is parsed before the signature check.
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** How often a scheme whose secret is unset may say so in the log. */
const UNCONFIGURED_LOG_INTERVAL_MS = 60_000;

/**
 * Refuses a webhook whose scheme has no secret, for the sender to retry once it has one. For the
 * core form this is the documented no-secret mode, logged like any 503. A provider's signature
 * header, though, is something anyone can send by the thousand: those refusals are logged at
 * DEBUG, and at WARNING at most once a minute per scheme with how many there were.
 */
function unconfiguredScheme(now: () => number) {
  const lastWarned = new Map<string, { at: number; refused: number }>();
  return (request: FastifyRequest, variable: string, quiet: boolean): never => {
    request.webhookOutcome = { result: 'unavailable', ...(quiet ? { quiet } : {}) };
    if (quiet) {
      const state = lastWarned.get(variable);
      const at = now();
      if (state === undefined || at - state.at >= UNCONFIGURED_LOG_INTERVAL_MS) {
        request.log.warn(
          { variable, refused: (state?.refused ?? 0) + 1, since_ms: state === undefined ? null : at - state.at },
          `${variable} is not set: webhooks signed for it answer 503 (logged at most once a minute)`,
        );
        lastWarned.set(variable, { at, refused: 0 });
      } else state.refused++;
    }
    throw new ServiceUnavailable(`${variable} is not set; retry later`);
  };
}

function forged(request: FastifyRequest): never {
  request.webhookOutcome = { result: 'invalid_signature' };
  throw new InvalidSignature();
}

const SpecMessage = Type.Object(
  {
    message_id: Type.String({ minLength: 1, maxLength: 512 }),
    from: Type.String({ pattern: PHONE }),
    to: Type.String({ pattern: PHONE }),
    ts: Type.String({ description: 'YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real UTC instant.' }),
    text: Type.Optional(NullableString({ maxLength: 4096, description: 'At most 4096 characters (code points).' })),
  },
  {
    title: 'Message (X-Signature or Standard Webhooks)',
    description: 'Unknown extra fields are ignored. Stored once per message_id: the first delivery wins.',
    examples: [{ message_id: 'm1', from: '+919876543210', to: '+14155550100', ts: '2025-01-15T10:00:00Z', text: 'Hello' }],
  },
);

const WhatsAppEnvelope = Type.Object(
  {
    object: Type.Literal('whatsapp_business_account'),
    entry: Type.Array(Type.Unknown(), {
      description:
        'Each entry\'s changes with field "messages" carry value.metadata.display_phone_number (the recipient), value.messages[] and value.statuses[]; every item is stored, or kept as a dead letter with its reason.',
    }),
  },
  {
    title: 'WhatsApp Cloud API envelope (X-Hub-Signature-256)',
    examples: [
      {
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '102290129340398',
            changes: [
              {
                field: 'messages',
                value: {
                  messaging_product: 'whatsapp',
                  metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
                  contacts: [{ profile: { name: 'Asha' }, wa_id: '919876543210' }],
                  messages: [
                    {
                      from: '919876543210',
                      id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
                      timestamp: '1736935200',
                      type: 'text',
                      text: { body: 'Hello' },
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  },
);

const WEBHOOK_RESPONSES = {
  200: Type.Object(
    { status: Type.Literal('ok') },
    {
      additionalProperties: false,
      description:
        'Stored and durably committed (or already stored: a redelivery changes nothing). A WhatsApp envelope is acknowledged once its readable items are stored and the rest kept as dead letters.',
    },
  ),
  401: detail(
    'The signature is missing, malformed or wrong ("invalid signature"), or a Standard Webhooks timestamp is outside the tolerance ("stale timestamp"). Nothing is stored.',
    'invalid signature',
  ),
  408: detail('The request did not arrive within REQUEST_TIMEOUT_MS; the connection is closed.'),
  413: detail('The body is larger than MAX_BODY_BYTES.', 'payload too large'),
  422: validationError('Correctly signed, but not a valid message (or not a WhatsApp envelope). Nothing is stored.'),
  503: detail(
    "Retry later: the scheme's secret is not set, the database is unavailable, the server is overloaded or has no room for more bodies in flight (both with Retry-After), or it is shutting down.",
    'WEBHOOK_SECRET is not set; retry later',
  ),
};

export async function webhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { config, committer, store, metrics } = options;
  const onStored = options.onStored ?? (() => {});
  const onWrite = options.onWrite ?? (() => {});
  const now = options.now ?? Date.now;
  const notConfigured = unconfiguredScheme(now);

  /** Reads a signed message body of the core form (X-Signature or Standard Webhooks) and stores it through the group commit. */
  const storeSpecMessage = async (request: FastifyRequest, body: Buffer, source: 'spec' | 'standard') => {
    const refuse = (issues: ValidationIssue[], claimedId: unknown): never => {
      request.webhookOutcome = {
        result: 'validation_error',
        ...(typeof claimedId === 'string' && claimedId !== '' ? { messageId: claimedId } : {}),
      };
      throw new ValidationFailed(issues);
    };
    const json = parseJsonObject(body);
    if (!json.ok) return refuse(json.issues, undefined);
    const parsed = validateMessage(json.value);
    if (!parsed.ok) return refuse(parsed.issues, json.value.message_id);
    const message: IncomingMessage = { ...parsed.value, origin: bodyOrigin(source, json.value) };
    let outcome: Awaited<ReturnType<GroupCommitter['submit']>>;
    try {
      onWrite();
      outcome = await committer.submit(message);
    } catch (error) {
      request.log.error({ err: error, message_id: message.messageId }, 'storing the message failed');
      request.webhookOutcome = { result: 'unavailable', messageId: message.messageId };
      throw new ServiceUnavailable('storage unavailable; retry later');
    }
    request.webhookOutcome = { result: outcome, messageId: message.messageId, dup: outcome === 'duplicate' };
    if (outcome === 'created') {
      metrics.feedEvents.inc({ type: 'message.created' });
      onStored();
    }
    return { status: 'ok' } as const;
  };

  const countEnvelope = (contents: EnvelopeContents, stored: DeliveryOutcome) => {
    for (const outcome of stored.messages) metrics.whatsappItems.inc({ kind: 'message', result: outcome });
    for (const outcome of stored.statuses) metrics.whatsappItems.inc({ kind: 'status', result: outcome });
    for (const letter of contents.deadLetters) metrics.whatsappItems.inc({ kind: letter.kind, result: 'dead_letter' });
    if (contents.ignoredFields.length > 0)
      metrics.whatsappItems.inc({ kind: 'change', result: 'ignored' }, contents.ignoredFields.length);
  };

  /**
   * A WhatsApp Cloud API envelope. Its readable items are stored, its unreadable ones kept as dead
   * letters, all in one transaction, and the delivery is acknowledged: a 4xx would make Meta retry
   * the whole envelope for days and then drop it, readable items included.
   */
  const storeWhatsAppEnvelope = async (request: FastifyRequest, body: Buffer) => {
    const json = parseJsonObject(body);
    const read = json.ok ? readWhatsAppEnvelope(json.value) : json;
    if (!read.ok) {
      request.webhookOutcome = { result: 'envelope_invalid' };
      throw new ValidationFailed(read.issues);
    }
    const contents = read.value;
    let stored: DeliveryOutcome;
    try {
      onWrite();
      stored = await store.storeDelivery({
        messages: contents.messages,
        statuses: contents.statuses,
        deadLetters: contents.deadLetters,
        source: 'whatsapp',
      });
    } catch (error) {
      request.log.error({ err: error }, 'storing the WhatsApp delivery failed');
      request.webhookOutcome = { result: 'unavailable' };
      throw new ServiceUnavailable('storage unavailable; retry later');
    }
    countEnvelope(contents, stored);
    const messages = stored.messages.filter((o) => o === 'created').length;
    const statuses = stored.statuses.filter((o) => o === 'created').length;
    const deadLetters = stored.deadLetters.filter((o) => o === 'created').length;
    if (messages > 0) metrics.feedEvents.inc({ type: 'message.created' }, messages);
    if (statuses > 0) metrics.feedEvents.inc({ type: 'status.created' }, statuses);
    if (deadLetters > 0) metrics.feedEvents.inc({ type: 'dead_letter.created' }, deadLetters);
    if (messages + statuses + deadLetters > 0) onStored();
    for (const letter of contents.deadLetters) {
      request.log.warn(
        { kind: letter.kind, reason: letter.reason, item_id: letter.itemId ?? undefined },
        'WhatsApp item kept as a dead letter',
      );
    }
    const outcomes = [...stored.messages, ...stored.statuses];
    const [onlyMessage] = contents.messages;
    request.webhookOutcome = {
      result: contents.deadLetters.length > 0 ? 'envelope_partial' : 'envelope_stored',
      ...(contents.messages.length === 1 && onlyMessage !== undefined ? { messageId: onlyMessage.messageId } : {}),
      dup: outcomes.length > 0 && outcomes.every((o) => o === 'duplicate'),
      items: {
        messages: contents.messages.length,
        statuses: contents.statuses.length,
        dead_letters: contents.deadLetters.length,
        ignored_changes: contents.ignoredFields.length,
      },
    };
    return { status: 'ok' } as const;
  };

  // A body refused while it is read (too large, too slow, no room, shutting down) never reaches
  // the handler: record its outcome here.
  const onError = async (request: FastifyRequest, _reply: unknown, error: FastifyError) => {
    if (error instanceof PayloadTooLarge) request.webhookOutcome ??= { result: 'payload_too_large' };
    else if (error instanceof RequestTimeout) request.webhookOutcome ??= { result: 'request_timeout' };
    else if (error instanceof BodiesInFlightFull) request.webhookOutcome ??= { result: 'overloaded' };
    else if (error instanceof ServiceUnavailable) request.webhookOutcome ??= { result: 'unavailable' };
  };

  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post(
    '/webhook',
    {
      onError,
      schema: {
        summary: 'Receive a signed webhook',
        description:
          'Three signed forms, told apart by their signature header: X-Signature (the core form), X-Hub-Signature-256 (WhatsApp Cloud API) and webhook-id/-timestamp/-signature (Standard Webhooks). The signature is checked on the raw body bytes before anything is parsed, whatever the Content-Type. Answered only after the commit.',
        tags: ['webhooks'],
        security: WEBHOOK_SECURITY,
        // The signature headers themselves are the security schemes; these travel with one of them.
        headers: Type.Object({
          'webhook-id': Type.Optional(
            Type.String({ description: 'Standard Webhooks: the delivery id, part of what is signed.', examples: ['msg_1'] }),
          ),
          'webhook-timestamp': Type.Optional(
            Type.String({
              description: 'Standard Webhooks: Unix seconds, part of what is signed; within WEBHOOK_TOLERANCE_SECONDS of now.',
              examples: ['1736935200'],
            }),
          ),
          'x-request-id': Type.Optional(
            Type.String({
              description: 'Reused as the request id in the log and echoed back when it is 1 to 128 visible ASCII characters.',
            }),
          ),
        }),
        body: Type.Union([SpecMessage, WhatsAppEnvelope]),
        response: WEBHOOK_RESPONSES,
      },
    },
    async (request) => {
      const body = rawBody(request);
      switch (schemeOf(request)) {
        case 'whatsapp': {
          if (config.whatsappAppSecrets.length === 0) notConfigured(request, 'WHATSAPP_APP_SECRET', true);
          if (!verifyMetaSignature(config.whatsappAppSecrets, body, singleHeader(request, 'x-hub-signature-256'))) {
            forged(request);
          }
          return storeWhatsAppEnvelope(request, body);
        }
        case 'standard': {
          if (config.standardWebhooksKeys.length === 0) notConfigured(request, 'STANDARD_WEBHOOKS_SECRET', true);
          const verdict = verifyStandardWebhook(
            config.standardWebhooksKeys,
            {
              id: singleHeader(request, 'webhook-id'),
              timestamp: singleHeader(request, 'webhook-timestamp'),
              signature: singleHeader(request, 'webhook-signature'),
            },
            body,
            Math.floor(now() / 1000),
            config.webhookToleranceSeconds,
          );
          if (!verdict.ok && verdict.reason === 'invalid_signature') forged(request);
          if (!verdict.ok) {
            request.webhookOutcome = { result: 'stale_timestamp' };
            throw new StaleTimestamp();
          }
          return storeSpecMessage(request, body, 'standard');
        }
        case 'spec': {
          if (config.webhookSecrets.length === 0) notConfigured(request, 'WEBHOOK_SECRET', false);
          if (!verifySignature(config.webhookSecrets, body, singleHeader(request, 'x-signature'))) forged(request);
          return storeSpecMessage(request, body, 'spec');
        }
      }
    },
  );

  // Meta's subscription handshake: echo hub.challenge when hub.verify_token is ours.
  api.get(
    '/webhook',
    {
      schema: {
        summary: "Meta's subscription handshake",
        description:
          'Meta calls this when the webhook URL is saved in the App Dashboard; the challenge is echoed when the verify token is WHATSAPP_VERIFY_TOKEN (or its previous value).',
        tags: ['webhooks'],
        querystring: Type.Object({
          'hub.mode': Type.Optional(Type.Literal('subscribe')),
          'hub.verify_token': Type.Optional(Type.String()),
          'hub.challenge': Type.Optional(Type.String({ maxLength: MAX_CHALLENGE_LENGTH, examples: ['1158201444'] })),
        }),
        response: {
          200: {
            description: 'hub.challenge, echoed as plain text.',
            content: { 'text/plain': { schema: Type.String({ examples: ['1158201444'] }) } },
          },
          403: detail('The token is wrong, WHATSAPP_VERIFY_TOKEN is not set, or a parameter is missing.', 'verification failed'),
        },
      },
    },
    async (request, reply) => {
      // The schema documents the parameters; the checks below decide (a repeated one is refused).
      const query = request.query as Record<string, string | string[] | undefined>;
      const mode = query['hub.mode'];
      const token = query['hub.verify_token'];
      const challenge = query['hub.challenge'];
      const verified =
        config.whatsappVerifyTokens.length > 0 &&
        mode === 'subscribe' &&
        typeof token === 'string' &&
        tokenMatches(token, config.whatsappVerifyTokens);
      if (!verified || typeof challenge !== 'string' || challenge === '' || challenge.length > MAX_CHALLENGE_LENGTH) {
        request.webhookOutcome = { result: 'unauthorized' };
        throw new Forbidden('verification failed');
      }
      // The challenge is the sender's own text echoed back: plain text, never sniffed as HTML.
      return reply.type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(challenge);
    },
  );
}
