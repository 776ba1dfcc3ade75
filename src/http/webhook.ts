// POST /webhook: verify the signature on the raw bytes, validate, store once, acknowledge after commit.

import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { parseJsonObject, validateMessage } from '../ingest/message.js';
import { verifySignature } from '../ingest/signature.js';
import type { GroupCommitter } from '../store/group-commit.js';
import { InvalidSignature, ServiceUnavailable, ValidationFailed } from './errors.js';

export interface WebhookRouteOptions {
  readonly secret: string | null;
  readonly committer: GroupCommitter;
}

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function webhookRoutes(app: FastifyInstance, { secret, committer }: WebhookRouteOptions): void {
  // A body over the limit is refused while it is read, before the handler runs: record its outcome here.
  const onError = async (request: FastifyRequest, _reply: unknown, error: FastifyError) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') request.webhookOutcome ??= { result: 'payload_too_large' };
  };
  app.post('/webhook', { onError }, async (request) => {
    if (secret === null) {
      request.webhookOutcome = { result: 'unavailable' };
      throw new ServiceUnavailable('WEBHOOK_SECRET is not set; retry later');
    }
    // Every content type arrives here as the raw bytes (see app.ts); none is parsed before this check.
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (!verifySignature(secret, body, singleHeader(request, 'x-signature'))) {
      request.webhookOutcome = { result: 'invalid_signature' };
      throw new InvalidSignature('invalid signature');
    }
    const json = parseJsonObject(body);
    const parsed = json.ok ? validateMessage(json.value) : json;
    if (!parsed.ok) {
      const claimedId = json.ok ? json.value.message_id : undefined;
      request.webhookOutcome = {
        result: 'validation_error',
        ...(typeof claimedId === 'string' && claimedId !== '' ? { messageId: claimedId } : {}),
      };
      throw new ValidationFailed(parsed.issues);
    }
    const messageId = parsed.value.messageId;
    let outcome: Awaited<ReturnType<GroupCommitter['submit']>>;
    try {
      outcome = await committer.submit(parsed.value);
    } catch (error) {
      request.log.error({ err: error, message_id: messageId }, 'storing the message failed');
      request.webhookOutcome = { result: 'unavailable', messageId };
      throw new ServiceUnavailable('storage unavailable; retry later');
    }
    request.webhookOutcome = { result: outcome, messageId, dup: outcome === 'duplicate' };
    return { status: 'ok' };
  });
}
