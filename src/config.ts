// Reads every environment variable the service knows, once, into a typed and frozen Config.
// A value that cannot be used is a ConfigError naming the variable; nothing falls back silently.

import path from 'node:path';
import { parseStandardWebhooksSecret } from './ingest/standard-webhooks.js';
import { DEFAULT_READ_TIMEOUT_MS } from './store/store.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string; readonly url: string }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      /** The most connections one process opens (PG_POOL_MAX); replicas multiply it. */
      readonly poolMax: number;
    }
  /** Benchmarks only (ALLOW_NOOP_DATABASE=1): discards every message (the throughput ceiling). */
  | { readonly kind: 'noop'; readonly url: string };

export interface Config {
  /**
   * HMAC keys for core-form POST /webhook (X-Signature); empty when WEBHOOK_SECRET is unset or
   * empty (the service then refuses such webhooks with 503). Several during a key rotation.
   */
  readonly webhookSecrets: readonly string[];
  /** Meta app secrets for X-Hub-Signature-256 (WHATSAPP_APP_SECRET); empty = WhatsApp deliveries refused. */
  readonly whatsappAppSecrets: readonly string[];
  /** Tokens accepted by the GET /webhook subscription handshake (WHATSAPP_VERIFY_TOKEN). */
  readonly whatsappVerifyTokens: readonly string[];
  /** Standard Webhooks signing keys, decoded from their whsec_ form (STANDARD_WEBHOOKS_SECRET). */
  readonly standardWebhooksKeys: readonly Buffer[];
  /** How far (seconds) a Standard Webhooks timestamp may be from now before it is a replay. */
  readonly webhookToleranceSeconds: number;
  /** Bearer tokens for the read API (API_TOKEN); empty = reads are open. */
  readonly apiTokens: readonly string[];
  /**
   * Bearer tokens for what changes or removes stored data (ADMIN_TOKEN, and ADMIN_TOKEN_PREVIOUS
   * during a rotation); empty = those endpoints answer 403.
   */
  readonly adminTokens: readonly string[];
  /**
   * RETENTION_DAYS: messages, statuses and dead letters received longer ago than this many days are
   * removed in the background; null = kept forever.
   */
  readonly retentionDays: number | null;
  /**
   * Shed load (503 + Retry-After) when the mean event-loop delay exceeds this; 0 = never. Reads
   * are shed first, from half of it (see app.ts).
   */
  readonly maxEventLoopDelayMs: number;
  /** The longest a client may take to send a whole request, headers and body (408 after it). */
  readonly requestTimeoutMs: number;
  /** The longest a client may take to send a request's headers (408 after it). */
  readonly headersTimeoutMs: number;
  /**
   * The most body bytes held in memory for all requests still being received together; a request
   * that would take it over answers 503 with Retry-After before its body is buffered.
   */
  readonly maxInflightBodyBytes: number;
  /** On SIGTERM/SIGINT: how long requests still being received may take before they are cut off. */
  readonly shutdownGraceMs: number;
  /** SQLite: threads that run reads off the event loop (0 = reads on the main thread). */
  readonly readWorkers: number;
  /** GET /events subscribers this process serves at once (SSE_MAX_CLIENTS). */
  readonly sseMaxClients: number;
  /** The longest one read query may run before it is stopped and answered 503. */
  readonly readTimeoutMs: number;
  readonly database: DatabaseConfig;
  readonly logLevel: LogLevel;
  readonly port: number;
  readonly host: string;
  readonly maxBodyBytes: number;
  /** Group commit: the most webhook rows written in one transaction. */
  readonly batchMaxSize: number;
  /** Group commit: how long (ms) the first queued row may wait for company; 0 = next event-loop turn. */
  readonly batchMaxWaitMs: number;
}

/**
 * Whether any webhook scheme has its secret (WEBHOOK_SECRET, WHATSAPP_APP_SECRET or
 * STANDARD_WEBHOOKS_SECRET); without one, POST /webhook can take in nothing.
 */
export function ingestConfigured(
  config: Pick<Config, 'webhookSecrets' | 'whatsappAppSecrets' | 'standardWebhooksKeys'>,
): boolean {
  return config.webhookSecrets.length > 0 || config.whatsappAppSecrets.length > 0 || config.standardWebhooksKeys.length > 0;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_DATABASE_URL = 'sqlite:///./data/app.db';
export const DEFAULT_PG_POOL_MAX = 10;

type Env = Readonly<Record<string, string | undefined>>;

/** An unset variable and one set to the empty string (or blanks) mean the same: use the default. */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  WARN: 'warn',
  ERROR: 'error',
};

function logLevel(env: Env): LogLevel {
  const raw = read(env, 'LOG_LEVEL');
  if (raw === undefined) return 'info';
  const level = LOG_LEVELS[raw.toUpperCase()];
  if (level === undefined) {
    throw new ConfigError(
      'LOG_LEVEL',
      `expected one of DEBUG, INFO, WARNING (or WARN), ERROR in any case, got ${JSON.stringify(raw)}`,
    );
  }
  return level;
}

const DATABASE_URL_HELP = 'expected sqlite:////absolute/path.db, sqlite:///relative/path.db, postgres://… or postgresql://…';

/** Parses DATABASE_URL. The SQLAlchemy-style sqlite form: three slashes, then the path (a fourth slash makes it absolute). */
export function parseDatabaseUrl(raw: string, cwd: string, pgPoolMax = DEFAULT_PG_POOL_MAX): DatabaseConfig {
  if (raw.startsWith('sqlite:///')) {
    const rest = raw.slice('sqlite:///'.length);
    if (rest === '' || rest.endsWith('/')) {
      throw new ConfigError('DATABASE_URL', `the sqlite URL names no file; ${DATABASE_URL_HELP}`);
    }
    if (rest === ':memory:') return Object.freeze({ kind: 'sqlite', path: ':memory:', url: raw });
    return Object.freeze({ kind: 'sqlite', path: path.resolve(cwd, rest), url: raw });
  }
  if (/^postgres(ql)?:\/\/./.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', `not a valid URL; ${DATABASE_URL_HELP}`);
    }
    return Object.freeze({ kind: 'postgres', url: raw, poolMax: pgPoolMax });
  }
  if (raw === 'noop://') return Object.freeze({ kind: 'noop', url: raw });
  // Never echo the value: a postgres-like URL with a typo may still carry a password.
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw)?.[1];
  throw new ConfigError('DATABASE_URL', `unsupported ${scheme ? `scheme "${scheme}"` : 'value'}; ${DATABASE_URL_HELP}`);
}

/**
 * A comma separates keys only in the variables whose values cannot contain one (WHATSAPP_APP_SECRET's
 * hex, STANDARD_WEBHOOKS_SECRET's whsec_ base64): a rotation lists the old and the new key. Blanks
 * around each are dropped.
 */
function commaList(env: Env, name: string): string[] {
  const raw = env[name] ?? '';
  return [...new Set(raw.split(',').map((part) => part.trim()))].filter((part) => part !== '');
}

/**
 * A free-form secret or token (WEBHOOK_SECRET, API_TOKEN, WHATSAPP_VERIFY_TOKEN) is exactly one
 * value, commas included: splitting it would make each of its pieces a key of its own, so that
 * `k9Qz!mR2#vL8,p` would also open to `p`. A rotation names the one previous value in
 * `<NAME>_PREVIOUS`, accepted alongside until the senders have switched.
 * `exact`: the value is used byte for byte (an HMAC key); otherwise surrounding blanks are dropped
 * (a token travels in a header or a query string, where they would not survive).
 */
function singleCredential(env: Env, name: string, exact: boolean): string[] {
  const value = (variable: string): string | undefined => {
    const raw = env[variable] ?? '';
    const kept = exact ? raw : raw.trim();
    return raw.trim() === '' ? undefined : kept;
  };
  const current = value(name);
  const previous = value(`${name}_PREVIOUS`);
  if (previous !== undefined && current === undefined) {
    throw new ConfigError(`${name}_PREVIOUS`, `is set but ${name} is not; set ${name} to the current value`);
  }
  return [...new Set([current, previous].filter((v): v is string => v !== undefined))];
}

/** A bearer token: one value (see singleCredential) that a header can carry, so no blanks inside. */
function bearerTokens(env: Env, name: string): string[] {
  const tokens = singleCredential(env, name, false);
  tokens.forEach((token, index) => {
    if (/\s/.test(token)) {
      const variable = index === 0 ? name : `${name}_PREVIOUS`;
      // Never echo the value: it is a secret.
      throw new ConfigError(variable, 'contains a blank, which no Authorization header can carry');
    }
  });
  return tokens;
}

/**
 * ADMIN_TOKEN (and its previous value): a bearer token like API_TOKEN's, which must be none of the
 * read tokens. A shared value would let every reader erase data, the one thing the admin token is
 * there to prevent, so it stops the start instead.
 */
function adminTokens(env: Env, readTokens: readonly string[]): string[] {
  const tokens = bearerTokens(env, 'ADMIN_TOKEN');
  tokens.forEach((token, index) => {
    if (readTokens.includes(token)) {
      const variable = index === 0 ? 'ADMIN_TOKEN' : 'ADMIN_TOKEN_PREVIOUS';
      // Never echo the value: it is a secret.
      throw new ConfigError(variable, 'is also a read token (API_TOKEN or API_TOKEN_PREVIOUS); give it a value of its own');
    }
  });
  return tokens;
}

/** Meta app secrets are 32 hex digits; a part of a comma list this short or not hex is a mistake, not a key. */
const META_APP_SECRET = /^[0-9a-fA-F]{16,}$/;

/**
 * WHATSAPP_APP_SECRET: one secret, or several hex secrets separated by commas during a rotation.
 * A value with a comma whose parts are not all hex app secrets is refused rather than split, so a
 * secret that happens to contain a comma can never make its pieces keys.
 */
function whatsappAppSecrets(env: Env): string[] {
  const raw = (env.WHATSAPP_APP_SECRET ?? '').trim();
  if (raw === '') return [];
  if (!raw.includes(',')) return [raw];
  const parts = commaList(env, 'WHATSAPP_APP_SECRET');
  if (!parts.every((part) => META_APP_SECRET.test(part))) {
    // Never echo the value: it is a secret.
    throw new ConfigError(
      'WHATSAPP_APP_SECRET',
      'a comma separates app secrets during a rotation, and each must be a Meta app secret (at least 16 hex digits)',
    );
  }
  return parts;
}

function standardWebhooksKeys(env: Env): Buffer[] {
  return commaList(env, 'STANDARD_WEBHOOKS_SECRET').map((secret, index) => {
    const key = parseStandardWebhooksSecret(secret);
    // Never echo the value: it is a secret.
    if (key === null) {
      throw new ConfigError('STANDARD_WEBHOOKS_SECRET', `secret #${index + 1} is not whsec_ followed by base64`);
    }
    return key;
  });
}

/** A yes/no variable: 1/true/yes or 0/false/no, any case; unset is no. */
function flag(env: Env, name: string): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new ConfigError(name, `expected 1, true, yes, 0, false or no, got ${JSON.stringify(raw)}`);
}

/** The longest RETENTION_DAYS taken: a hundred years, past any plausible policy (and any date the stores hold). */
export const MAX_RETENTION_DAYS = 36_500;

/** RETENTION_DAYS: unset keeps everything; otherwise a whole number of days, at least 1. */
function retentionDays(env: Env): number | null {
  const raw = read(env, 'RETENTION_DAYS');
  if (raw === undefined) return null;
  // 0 is refused rather than read as "keep nothing" or "keep forever": either reading could be the
  // one the operator did not mean, and the first removes every message.
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_RETENTION_DAYS) {
    throw new ConfigError(
      'RETENTION_DAYS',
      `expected a whole number of days from 1 to ${MAX_RETENTION_DAYS}, or unset to keep messages forever, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

const MIB = 1024 * 1024;
/** Room for 16 bodies of the default 4 MiB limit being received at once. */
const DEFAULT_INFLIGHT_BODY_BYTES = 64 * MIB;

export function loadConfig(env: Env, cwd: string): Config {
  const host = read(env, 'HOST') ?? '0.0.0.0';
  // PG_POOL_MAX is checked even when DATABASE_URL names SQLite: a bad value is a mistake either way.
  const database = parseDatabaseUrl(
    read(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL,
    cwd,
    integer(env, 'PG_POOL_MAX', DEFAULT_PG_POOL_MAX, 1, 1000),
  );
  // The no-op store acknowledges webhooks and keeps nothing: only a benchmark that asks for it
  // by name may run it, never a deployment with a mistyped URL.
  const allowNoop = flag(env, 'ALLOW_NOOP_DATABASE');
  if (database.kind === 'noop' && !allowNoop) {
    throw new ConfigError(
      'DATABASE_URL',
      'noop:// discards every webhook and is for benchmarks only; set ALLOW_NOOP_DATABASE=1 to run it',
    );
  }
  const maxBodyBytes = integer(env, 'MAX_BODY_BYTES', 4 * MIB, 1, 1024 * MIB);
  const maxInflightBodyBytes = integer(
    env,
    'MAX_INFLIGHT_BODY_BYTES',
    Math.max(DEFAULT_INFLIGHT_BODY_BYTES, maxBodyBytes),
    maxBodyBytes,
    64 * 1024 * MIB,
  );
  const requestTimeoutMs = integer(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const headersTimeoutMs = integer(env, 'HEADERS_TIMEOUT_MS', Math.min(10_000, requestTimeoutMs), 100, requestTimeoutMs);
  const apiTokens = bearerTokens(env, 'API_TOKEN');
  return Object.freeze({
    webhookSecrets: Object.freeze(singleCredential(env, 'WEBHOOK_SECRET', true)),
    whatsappAppSecrets: Object.freeze(whatsappAppSecrets(env)),
    whatsappVerifyTokens: Object.freeze(singleCredential(env, 'WHATSAPP_VERIFY_TOKEN', false)),
    standardWebhooksKeys: Object.freeze(standardWebhooksKeys(env)),
    webhookToleranceSeconds: integer(env, 'WEBHOOK_TOLERANCE_SECONDS', 300, 1, 86_400),
    apiTokens: Object.freeze(apiTokens),
    adminTokens: Object.freeze(adminTokens(env, apiTokens)),
    retentionDays: retentionDays(env),
    maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60_000),
    requestTimeoutMs,
    headersTimeoutMs,
    maxInflightBodyBytes,
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000),
    readWorkers: integer(env, 'READ_WORKERS', 2, 0, 64),
    sseMaxClients: integer(env, 'SSE_MAX_CLIENTS', 1000, 0, 100_000),
    readTimeoutMs: integer(env, 'READ_TIMEOUT_MS', DEFAULT_READ_TIMEOUT_MS, 1, 3_600_000),
    database,
    logLevel: logLevel(env),
    port: integer(env, 'PORT', 8000, 0, 65535),
    host,
    maxBodyBytes,
    batchMaxSize: integer(env, 'BATCH_MAX_SIZE', 512, 1, 100_000),
    batchMaxWaitMs: integer(env, 'BATCH_MAX_WAIT_MS', 0, 0, 1000),
  });
}
