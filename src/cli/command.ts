// What the subcommands share: the error that ends a command with one line on stderr, the options
// that reach a running service (--url, --token) or open the database (--database-url), and
// opening the store the way the service does.

import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Config, ConfigError, DEFAULT_DATABASE_URL, loadConfig, parseDatabaseUrl } from '../config.js';
import type { MessageStore } from '../store/store.js';

/** Ends a command: its message is the one line written to stderr, and the exit code is 1. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The environment the command line was started with, the same variables the service reads. */
export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_SERVICE_URL = 'http://127.0.0.1:8000';

export interface ServiceOptions {
  readonly url: string;
  readonly token?: string;
}

export interface DatabaseOptions {
  readonly databaseUrl?: string;
}

/** An empty variable counts as unset, as it does for the service. */
const unlessEmpty = (value: string): string | undefined => (value.trim() === '' ? undefined : value);

/** Adds --url and --token, for a command that talks to a running service. */
export function withServiceOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--url <url>', `the service's base URL (default: ${DEFAULT_SERVICE_URL})`)
        .env('WEBHOOK_INBOX_URL')
        .argParser(unlessEmpty),
    )
    .addOption(
      new Option('--token <token>', 'bearer token for the reads, when the service sets API_TOKEN')
        .env('API_TOKEN')
        .argParser(unlessEmpty),
    );
}

/** Adds --database-url, for a command that opens the database. */
export function withDatabaseOption(command: Command): Command {
  return command.addOption(
    new Option('--database-url <url>', `the database, written as for the service (default: ${DEFAULT_DATABASE_URL})`)
      .env('DATABASE_URL')
      .argParser(unlessEmpty),
  );
}

/** The service's base URL, checked, without a trailing slash. */
export function serviceUrl(options: Pick<ServiceOptions, 'url'> | { readonly url?: string }): string {
  const raw = options.url ?? DEFAULT_SERVICE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--url: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--url: expected http:// or https://, got ${raw}`);
  return url.href.replace(/\/+$/, '');
}

/** The reason a request never got an answer, in one line: fetch hides it in `cause`. */
function unreachable(url: string, error: unknown): CliError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const reason = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
  return new CliError(`cannot reach ${url}: ${reason}`, { cause: error });
}

/**
 * Sends a request to the service (with the bearer token when there is one). Rejects with a
 * CliError when no answer comes; any answer, whatever its status, resolves.
 */
export async function callService(
  options: { readonly url?: string; readonly token?: string | undefined },
  pathAndQuery: string,
  init: RequestInit = {},
): Promise<Response> {
  const base = serviceUrl(options);
  const headers = new Headers(init.headers);
  if (options.token !== undefined) headers.set('authorization', `Bearer ${options.token}`);
  try {
    return await fetch(`${base}${pathAndQuery}`, { ...init, headers });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw unreachable(base, error);
  }
}

/** "401: {"detail":"invalid signature"}", on one line and not too long, for an answer that is not a success. */
export async function describeAnswer(response: Response): Promise<string> {
  const body = (await response.text()).replace(/\s+/g, ' ').trim();
  const shown = body.length > 300 ? `${body.slice(0, 300)}…` : body;
  return `the service answered ${response.status}${shown === '' ? '' : `: ${shown}`}`;
}

/**
 * The service's configuration as the command line sees it: the same variables, read by the same
 * function, with --database-url in place of DATABASE_URL when given.
 */
export function commandConfig(env: Env, options: DatabaseOptions = {}): Config {
  if (options.databaseUrl !== undefined) {
    try {
      parseDatabaseUrl(options.databaseUrl, process.cwd());
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(error.message.replace(/^DATABASE_URL/, '--database-url'));
      throw error;
    }
  }
  try {
    return loadConfig(
      { ...env, ...(options.databaseUrl !== undefined ? { DATABASE_URL: options.databaseUrl } : {}) },
      process.cwd(),
    );
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`invalid configuration: ${error.message}`);
    throw error;
  }
}

/** Where a database is, for messages: the file of a SQLite database, the host and name of a PostgreSQL one (never its password). */
export function describeDatabase(database: Config['database']): string {
  if (database.kind === 'sqlite') return database.path;
  if (database.kind === 'noop') return database.url;
  const url = new URL(database.url);
  return `PostgreSQL at ${url.host}${url.pathname}`;
}

/**
 * Opens the store the configuration names, as the service does; closes it after `use`, whatever
 * happens. `bulkLoad`: for a command that stores many rows (see openStore).
 */
export async function withStore<T>(
  config: Config,
  use: (store: MessageStore) => Promise<T>,
  options: { readonly bulkLoad?: boolean } = {},
): Promise<T> {
  let store: MessageStore;
  try {
    // Loaded here, not at the top: the database drivers take longer to load than most commands take to run.
    const { openStore } = await import('../store/open.js');
    store = await openStore(config, undefined, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(`cannot open the database (${describeDatabase(config.database)}): ${reason}`, { cause: error });
  }
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** A count for people: 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Parses a positive integer option (commander names the option and the value when it is not one). */
export function positiveInteger(raw: string): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return Number(raw);
}
