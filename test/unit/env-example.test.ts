// .env.example against src/config.ts: it lists every variable the service reads and nothing else,
// each with a comment, and every value it shows is the default. The compose files pass every
// listed setting through to the service, except those they fix themselves.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PROJECT_ROOT } from '../helpers/server.js';

const CWD = path.resolve('/srv/webhook-inbox');

interface Entry {
  readonly name: string;
  readonly value: string;
  /** Whether the line is commented out (a default shown, not set). */
  readonly commented: boolean;
  /** The comment line just above it. */
  readonly comment: string | undefined;
}

/** The `NAME=value` lines of .env.example, commented out or not. */
function envExample(): Entry[] {
  const lines = readFileSync(path.join(PROJECT_ROOT, '.env.example'), 'utf8').split('\n');
  const entries: Entry[] = [];
  lines.forEach((line, index) => {
    const match = /^(# ?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match?.[2]) return;
    const above = lines[index - 1];
    entries.push({
      name: match[2],
      value: match[3] ?? '',
      commented: match[1] !== undefined,
      comment: above?.startsWith('# ') && !/^# ?[A-Z][A-Z0-9_]*=/.test(above) ? above : undefined,
    });
  });
  return entries;
}

/**
 * The names src/config.ts reads as written in its source: the second argument of its readers
 * (`read(env, 'PORT')`, `integer(env, 'PG_POOL_MAX', …)`, …) and `env.NAME` / `env['NAME']`.
 */
function namesInSource(): Set<string> {
  const source = readFileSync(path.join(PROJECT_ROOT, 'src', 'config.ts'), 'utf8');
  const names = new Set<string>();
  for (const pattern of [
    /\(\s*env,\s*'([A-Z][A-Z0-9_]*)'/g,
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g,
  ]) {
    for (const match of source.matchAll(pattern)) if (match[1]) names.add(match[1]);
  }
  return names;
}

/** An environment that records every name looked up in it, and answers from `values`. */
function recordingEnv(values: Record<string, string>, seen: Set<string>): Record<string, string | undefined> {
  return new Proxy(values, {
    get(target, name) {
      if (typeof name === 'string') seen.add(name);
      return typeof name === 'string' && Object.hasOwn(target, name) ? target[name] : undefined;
    },
  }) as Record<string, string | undefined>;
}

/**
 * The names loadConfig actually looks up, whatever way it builds them (`${name}_PREVIOUS`), under
 * settings that take each of its branches.
 */
function namesAtRun(): Set<string> {
  const seen = new Set<string>();
  const settings: Record<string, string>[] = [
    {},
    {
      WEBHOOK_SECRET: 'new',
      WEBHOOK_SECRET_PREVIOUS: 'old',
      API_TOKEN: 'new-token',
      API_TOKEN_PREVIOUS: 'old-token',
      WHATSAPP_VERIFY_TOKEN: 'new-verify',
      WHATSAPP_VERIFY_TOKEN_PREVIOUS: 'old-verify',
      WHATSAPP_APP_SECRET: '0123456789abcdef0123456789abcdef,fedcba9876543210fedcba9876543210',
      STANDARD_WEBHOOKS_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    },
    { DATABASE_URL: 'postgres://inbox:inbox@db:5432/inbox', PG_POOL_MAX: '5' },
    { DATABASE_URL: 'noop://', ALLOW_NOOP_DATABASE: '1' },
  ];
  for (const values of settings) loadConfig(recordingEnv(values, seen), CWD);
  return seen;
}

describe('.env.example', () => {
  const entries = envExample();
  const listed = new Set(entries.map((entry) => entry.name));

  it('lists each variable once', () => {
    expect(entries.length).toBe(listed.size);
  });

  it('lists every variable src/config.ts names in its source', () => {
    const names = namesInSource();
    // The patterns above must keep finding what config.ts reads; if it changes how it reads,
    // this says so instead of passing on an empty set.
    expect(names.size).toBeGreaterThanOrEqual(20);
    expect([...names].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('lists every variable loadConfig looks up when it runs', () => {
    const names = namesAtRun();
    expect(names.has('WEBHOOK_SECRET_PREVIOUS')).toBe(true);
    expect([...names].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('lists nothing the service does not read', () => {
    const read = new Set([...namesInSource(), ...namesAtRun()]);
    expect([...listed].filter((name) => !read.has(name))).toEqual([]);
  });

  it('gives each variable a one-line comment above it', () => {
    expect(entries.filter((entry) => entry.comment === undefined).map((entry) => entry.name)).toEqual([]);
  });

  it('shows only defaults: set as written, every line gives the same configuration as no variable at all', () => {
    const asWritten = Object.fromEntries(entries.map((entry) => [entry.name, entry.value]));
    expect(loadConfig(asWritten, CWD)).toEqual(loadConfig({}, CWD));
  });

  it('sets no secret: the only uncommented lines are empty', () => {
    expect(entries.filter((entry) => !entry.commented && entry.value !== '')).toEqual([]);
  });
});

describe('the compose files', () => {
  /**
   * Not passed on purpose: the address, port and database each compose file sets itself, the pool
   * size where there is no PostgreSQL, and the benchmark-only no-op store.
   */
  const NOT_PASSED: Record<string, readonly string[]> = {
    'docker-compose.yml': ['DATABASE_URL', 'HOST', 'PORT', 'PG_POOL_MAX', 'ALLOW_NOOP_DATABASE'],
    'docker-compose.postgres.yml': ['DATABASE_URL', 'HOST', 'PORT', 'ALLOW_NOOP_DATABASE'],
  };

  it.each(Object.keys(NOT_PASSED))('%s passes every other setting of .env.example to the service', (file) => {
    const compose = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
    const passed = new Set([...compose.matchAll(/^\s+([A-Z][A-Z0-9_]*): \$\{\1[:?-]/gm)].map((match) => match[1]));
    const expected = envExample()
      .map((entry) => entry.name)
      .filter((name) => !NOT_PASSED[file]?.includes(name));
    expect(expected.filter((name) => !passed.has(name))).toEqual([]);
  });
});
