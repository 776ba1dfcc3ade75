// Bearer-token access to the read API (API_TOKEN) and to what changes or removes stored data
// (ADMIN_TOKEN), and the constant-time token comparison that the WhatsApp subscription handshake
// uses too.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { MessageStore } from '../store/store.js';
import { Forbidden, Unauthorized } from './errors.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * True when `candidate` equals one of `tokens`. Both sides are hashed first so that every
 * comparison is of 32 bytes (the length of a token leaks nothing), and every token is compared,
 * so the time taken does not say which one matched or how many there are to try.
 */
export function tokenMatches(candidate: string, tokens: readonly string[]): boolean {
  const presented = digest(candidate);
  let matched = false;
  for (const token of tokens) {
    if (timingSafeEqual(presented, digest(token))) matched = true;
  }
  return matched;
}

/** What every route plugin that reads stored data is given: the store, and the hook that guards it. */
export interface ReadRoutesOptions {
  readonly store: MessageStore;
  readonly auth: onRequestAsyncHookHandler;
}

/** RFC 6750: the scheme is case-insensitive; the token is what follows one or more spaces. */
const BEARER = /^Bearer +(\S+)$/i;

/** Refuses (401) a request without `Authorization: Bearer <one of the tokens>`. */
function checkBearer(request: FastifyRequest, tokens: readonly string[]): void {
  const header = request.headers.authorization;
  const token = typeof header === 'string' ? BEARER.exec(header.trim())?.[1] : undefined;
  if (token === undefined) {
    request.webhookOutcome = { result: 'unauthorized' };
    throw new Unauthorized('missing bearer token', false);
  }
  if (!tokenMatches(token, tokens)) {
    request.webhookOutcome = { result: 'unauthorized' };
    throw new Unauthorized('invalid bearer token', true);
  }
}

/**
 * The hook that guards a read route: with no tokens configured reads are open (start-up warns);
 * otherwise a request needs `Authorization: Bearer <one of the tokens>`.
 */
export function requireBearerToken(tokens: readonly string[]): onRequestAsyncHookHandler {
  return async (request: FastifyRequest) => {
    if (tokens.length > 0) checkBearer(request, tokens);
  };
}

export const ADMIN_DISABLED = 'ADMIN_TOKEN is not set on the server: this endpoint is disabled';

/**
 * The hook that guards what changes or removes stored data: with no admin token configured such
 * requests are refused (403) whatever they carry, so an erasure can never be open to anyone;
 * otherwise a request needs `Authorization: Bearer <one of the admin tokens>` (a read token is not
 * one of them: config.ts refuses a value shared with API_TOKEN).
 */
export function requireAdminToken(tokens: readonly string[]): onRequestAsyncHookHandler {
  return async (request: FastifyRequest) => {
    if (tokens.length === 0) throw new Forbidden(ADMIN_DISABLED);
    checkBearer(request, tokens);
  };
}
