// Reads every environment variable the service knows, once, into a typed and frozen Config.
// A value that cannot be used is a ConfigError naming the variable; nothing falls back silently.

import path from 'node:path';
import { parseStandardWebhooksSecret } from './ingest/standard-webhooks.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string; readonly url: string }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      /** The most connections one process opens (PG_POOL_MAX); replicas multiply it. */
      readonly poolMax: number;
    }
  /** Benchmarks only: discards every message (the throughput ceiling). */
  | { readonly kind: 'noop'; readonly url: string };

export interface Config {
  /**
   * HMAC keys for SPEC-format POST /webhook (X-Signature); empty when WEBHOOK_SECRET is unset or
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
  /** Shed load (503 + Retry-After) when the mean event-loop delay exceeds this; 0 = never. */
  readonly maxEventLoopDelayMs: number;
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
 * A secret variable holds one value or several separated by commas (a key rotation: the old and
 * the new key are both accepted until the sender has switched). Blanks around each are dropped.
 */
function secretList(env: Env, name: string): string[] {
  const raw = env[name] ?? '';
  return [...new Set(raw.split(',').map((part) => part.trim()))].filter((part) => part !== '');
}

/**
 * WEBHOOK_SECRET predates rotation: its whole value, exactly as set, stays a valid key (a secret
 * that happens to contain a comma keeps working), and so does each comma-separated part.
 */
function webhookSecrets(env: Env): string[] {
  const raw = env.WEBHOOK_SECRET ?? '';
  if (raw === '') return [];
  return [...new Set([raw, ...secretList(env, 'WEBHOOK_SECRET')])];
}

function standardWebhooksKeys(env: Env): Buffer[] {
  return secretList(env, 'STANDARD_WEBHOOKS_SECRET').map((secret, index) => {
    const key = parseStandardWebhooksSecret(secret);
    // Never echo the value: it is a secret.
    if (key === null) {
      throw new ConfigError('STANDARD_WEBHOOKS_SECRET', `secret #${index + 1} is not whsec_ followed by base64`);
    }
    return key;
  });
}

export function loadConfig(env: Env, cwd: string): Config {
  const host = read(env, 'HOST') ?? '0.0.0.0';
  return Object.freeze({
    webhookSecrets: Object.freeze(webhookSecrets(env)),
    whatsappAppSecrets: Object.freeze(secretList(env, 'WHATSAPP_APP_SECRET')),
    whatsappVerifyTokens: Object.freeze(secretList(env, 'WHATSAPP_VERIFY_TOKEN')),
    standardWebhooksKeys: Object.freeze(standardWebhooksKeys(env)),
    webhookToleranceSeconds: integer(env, 'WEBHOOK_TOLERANCE_SECONDS', 300, 1, 86_400),
    apiTokens: Object.freeze(secretList(env, 'API_TOKEN')),
    maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60_000),
    // PG_POOL_MAX is checked even when DATABASE_URL names SQLite: a bad value is a mistake either way.
    database: parseDatabaseUrl(
      read(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL,
      cwd,
      integer(env, 'PG_POOL_MAX', DEFAULT_PG_POOL_MAX, 1, 1000),
    ),
    logLevel: logLevel(env),
    port: integer(env, 'PORT', 8000, 0, 65535),
    host,
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 4 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    batchMaxSize: integer(env, 'BATCH_MAX_SIZE', 512, 1, 100_000),
    batchMaxWaitMs: integer(env, 'BATCH_MAX_WAIT_MS', 0, 0, 1000),
  });
}
