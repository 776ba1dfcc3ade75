// loadConfig (SPEC A.1): defaults, the accepted forms of every variable, and the ConfigError
// that names the variable when a value cannot be used.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ingestConfigured, loadConfig } from '../../src/config.js';

const CWD = path.resolve('/srv/webhook-inbox');

/** The ConfigError `fn` throws; fails the test when it throws nothing or something else. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    if (error instanceof ConfigError) return error;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('loadConfig defaults', () => {
  const config = loadConfig({}, CWD);

  it.each([
    ['port', 8000],
    ['host', '0.0.0.0'],
    ['maxBodyBytes', 4194304],
    ['logLevel', 'info'],
    ['webhookToleranceSeconds', 300],
    ['maxEventLoopDelayMs', 1000],
  ] as const)('%s defaults to %j', (key, expected) => {
    expect(config[key]).toBe(expected);
  });

  it.each(['webhookSecrets', 'whatsappAppSecrets', 'whatsappVerifyTokens', 'standardWebhooksKeys', 'apiTokens'] as const)(
    '%s defaults to none',
    (key) => {
      expect(config[key]).toEqual([]);
    },
  );

  it('DATABASE_URL defaults to sqlite:///./data/app.db resolved against the cwd argument', () => {
    expect(config.database).toEqual({
      kind: 'sqlite',
      path: path.join(CWD, 'data', 'app.db'),
      url: 'sqlite:///./data/app.db',
    });
  });

  it('resolves the default path against the cwd it is given, not process.cwd()', () => {
    const other = path.resolve('/somewhere/else');
    const db = loadConfig({}, other).database;
    expect(db.kind === 'sqlite' ? db.path : null).toBe(path.join(other, 'data', 'app.db'));
  });
});

describe('DATABASE_URL', () => {
  it.each([
    ['sqlite:////abs/path.db', path.resolve('/abs/path.db')],
    ['sqlite:////var/lib/inbox/app.db', path.resolve('/var/lib/inbox/app.db')],
    ['sqlite:///relative/path.db', path.join(CWD, 'relative', 'path.db')],
    ['sqlite:///app.db', path.join(CWD, 'app.db')],
    ['sqlite:///./data/other.db', path.join(CWD, 'data', 'other.db')],
  ])('%s is a sqlite file at %s', (url, expectedPath) => {
    expect(loadConfig({ DATABASE_URL: url }, CWD).database).toEqual({ kind: 'sqlite', path: expectedPath, url });
  });

  it.each([
    'postgres://user:pw@localhost:5432/inbox',
    'postgresql://user:pw@localhost:5432/inbox',
    'postgres://localhost/inbox',
    'postgresql://db.internal/inbox?sslmode=require',
  ])('%s is accepted as postgres', (url) => {
    expect(loadConfig({ DATABASE_URL: url }, CWD).database).toEqual({ kind: 'postgres', url, poolMax: 10 });
  });

  it.each([
    'mysql://x',
    'mysql://user:pw@localhost/inbox',
    'http://localhost/inbox',
    'sqlite://relative.db',
    'sqlite:///',
    'sqlite:///data/',
    'postgres://',
    'postgres:/localhost/inbox',
    'just-a-file.db',
  ])('%s is rejected with a ConfigError naming DATABASE_URL and what is accepted', (url) => {
    const error = configError(() => loadConfig({ DATABASE_URL: url }, CWD));
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('sqlite:');
    expect(error.message).toContain('postgres');
  });

  it.each([
    'mysql://admin:Hunter2Secret@db.example/inbox',
    'postgres://admin:Hunter2Secret@db.example:99999/inbox',
    'postgresql://admin:Hunter2Secret@[::1/inbox',
    'postgre://admin:Hunter2Secret@db.example/inbox',
    'postgres//admin:Hunter2Secret@db.example/inbox',
    'redis://:Hunter2Secret@cache.example:6379',
  ])('the error for %s never contains the password', (url) => {
    const error = configError(() => loadConfig({ DATABASE_URL: url }, CWD));
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).not.toContain('Hunter2Secret');
    expect(String(error)).not.toContain('Hunter2Secret');
  });
});

describe('PG_POOL_MAX', () => {
  const postgres = { DATABASE_URL: 'postgres://localhost/inbox' };

  it.each([
    ['1', 1],
    ['25', 25],
    ['1000', 1000],
    [' 7 ', 7],
    ['', 10],
  ])('PG_POOL_MAX=%j gives a pool of %d', (raw, poolMax) => {
    const database = loadConfig({ ...postgres, PG_POOL_MAX: raw }, CWD).database;
    expect(database.kind === 'postgres' ? database.poolMax : null).toBe(poolMax);
  });

  it.each(['0', '1001', '-1', 'ten', '2.5', '1e2'])('PG_POOL_MAX=%s is rejected naming PG_POOL_MAX', (raw) => {
    const error = configError(() => loadConfig({ ...postgres, PG_POOL_MAX: raw }, CWD));
    expect(error.variable).toBe('PG_POOL_MAX');
    expect(error.message).toContain('1 to 1000');
  });

  it('is checked even when DATABASE_URL names SQLite', () => {
    expect(configError(() => loadConfig({ PG_POOL_MAX: 'many' }, CWD)).variable).toBe('PG_POOL_MAX');
  });
});

describe('PORT and HOST', () => {
  it.each([
    ['8080', 8080],
    ['0', 0],
    ['65535', 65535],
  ])('PORT=%s gives %d', (raw, port) => {
    expect(loadConfig({ PORT: raw }, CWD).port).toBe(port);
  });

  it.each(['abc', '70000', '65536', '-1', '80.5', '1e3', '0x1F', '8080abc'])('PORT=%s is rejected naming PORT', (raw) => {
    const error = configError(() => loadConfig({ PORT: raw }, CWD));
    expect(error.variable).toBe('PORT');
    expect(error.message).toContain('PORT');
  });

  it('HOST is read', () => {
    expect(loadConfig({ HOST: '127.0.0.1' }, CWD).host).toBe('127.0.0.1');
  });
});

describe('MAX_BODY_BYTES', () => {
  it('is read as an integer', () => {
    expect(loadConfig({ MAX_BODY_BYTES: '1024' }, CWD).maxBodyBytes).toBe(1024);
  });

  it.each(['abc', '-5', '1.5', '4MiB'])('MAX_BODY_BYTES=%s is rejected naming MAX_BODY_BYTES', (raw) => {
    expect(configError(() => loadConfig({ MAX_BODY_BYTES: raw }, CWD)).variable).toBe('MAX_BODY_BYTES');
  });
});

describe('LOG_LEVEL', () => {
  it.each([
    ['DEBUG', 'debug'],
    ['debug', 'debug'],
    ['Debug', 'debug'],
    ['INFO', 'info'],
    ['info', 'info'],
    ['WARNING', 'warn'],
    ['warning', 'warn'],
    ['Warning', 'warn'],
    ['WARN', 'warn'],
    ['warn', 'warn'],
    ['ERROR', 'error'],
    ['error', 'error'],
    ['eRrOr', 'error'],
  ])('LOG_LEVEL=%s gives %s', (raw, level) => {
    expect(loadConfig({ LOG_LEVEL: raw }, CWD).logLevel).toBe(level);
  });

  it.each(['LOUD', 'TRACE', 'FATAL', 'verbose', 'INFO2'])(
    'LOG_LEVEL=%s is rejected naming LOG_LEVEL and what is accepted',
    (raw) => {
      const error = configError(() => loadConfig({ LOG_LEVEL: raw }, CWD));
      expect(error.variable).toBe('LOG_LEVEL');
      expect(error.message).toContain('LOG_LEVEL');
      for (const accepted of ['DEBUG', 'INFO', 'WARNING', 'ERROR']) expect(error.message).toContain(accepted);
    },
  );
});

describe('WEBHOOK_SECRET', () => {
  it.each([
    ['unset', {}, []],
    ['empty', { WEBHOOK_SECRET: '' }, []],
    ['set', { WEBHOOK_SECRET: 's3cret' }, ['s3cret']],
    ['blanks kept as the whole value', { WEBHOOK_SECRET: ' s3cret ' }, [' s3cret ', 's3cret']],
    ['a rotation: the whole value and each key', { WEBHOOK_SECRET: 'old,new' }, ['old,new', 'old', 'new']],
    ['a rotation with blanks and an empty part', { WEBHOOK_SECRET: 'old , ,new' }, ['old , ,new', 'old', 'new']],
  ] as const)('%s gives %j', (_name, env, expected) => {
    expect(loadConfig(env, CWD).webhookSecrets).toEqual(expected);
  });
});

describe('secret lists: WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, API_TOKEN', () => {
  it.each([
    ['WHATSAPP_APP_SECRET', 'whatsappAppSecrets'],
    ['WHATSAPP_VERIFY_TOKEN', 'whatsappVerifyTokens'],
    ['API_TOKEN', 'apiTokens'],
  ] as const)('%s is a comma-separated list, blanks and repeats dropped', (variable, key) => {
    expect(loadConfig({ [variable]: 'a' }, CWD)[key]).toEqual(['a']);
    expect(loadConfig({ [variable]: ' a, b ,,a ' }, CWD)[key]).toEqual(['a', 'b']);
    expect(loadConfig({ [variable]: ' , ' }, CWD)[key]).toEqual([]);
  });
});

describe('STANDARD_WEBHOOKS_SECRET', () => {
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  const secret = `whsec_${key.toString('base64')}`;

  it('decodes each whsec_ secret to its key bytes', () => {
    const other = Buffer.from('another key of some length');
    const config = loadConfig({ STANDARD_WEBHOOKS_SECRET: `${secret}, whsec_${other.toString('base64')}` }, CWD);
    expect(config.standardWebhooksKeys.map((k) => k.toString('hex'))).toEqual([key.toString('hex'), other.toString('hex')]);
  });

  it.each(['whsec_', 'whsec_!!!not base64!!!', `${secret},whsec_***`])(
    'refuses %j naming the variable, not the value',
    (value) => {
      const error = configError(() => loadConfig({ STANDARD_WEBHOOKS_SECRET: value }, CWD));
      expect(error.variable).toBe('STANDARD_WEBHOOKS_SECRET');
      expect(error.message).not.toContain(key.toString('base64'));
      // Not even the malformed secret is echoed.
      for (const secret of value.split(',')) {
        if (secret.length > 'whsec_'.length) expect(error.message).not.toContain(secret.slice('whsec_'.length));
      }
    },
  );
});

describe('WEBHOOK_TOLERANCE_SECONDS and MAX_EVENT_LOOP_DELAY_MS', () => {
  it('accept integers in range', () => {
    const config = loadConfig({ WEBHOOK_TOLERANCE_SECONDS: '60', MAX_EVENT_LOOP_DELAY_MS: '0' }, CWD);
    expect(config.webhookToleranceSeconds).toBe(60);
    expect(config.maxEventLoopDelayMs).toBe(0);
  });

  it.each([
    ['WEBHOOK_TOLERANCE_SECONDS', '0'],
    ['WEBHOOK_TOLERANCE_SECONDS', 'five'],
    ['WEBHOOK_TOLERANCE_SECONDS', '86401'],
    ['MAX_EVENT_LOOP_DELAY_MS', '-1'],
    ['MAX_EVENT_LOOP_DELAY_MS', '1.5'],
  ])('%s=%s stops the start naming the variable', (variable, value) => {
    expect(configError(() => loadConfig({ [variable]: value }, CWD)).variable).toBe(variable);
  });
});

describe('the returned config', () => {
  it('is frozen, database included', () => {
    const config = loadConfig({ WEBHOOK_SECRET: 'x' }, CWD);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(Reflect.set(config, 'port', 1)).toBe(false);
    expect(config.port).toBe(8000);
  });

  it('does not depend on variables it was not given', () => {
    expect(loadConfig({}, CWD)).toEqual(loadConfig({ UNRELATED: 'x' }, CWD));
  });
});

describe('ingestConfigured', () => {
  const key = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
  it.each([
    [{}, false],
    [{ WEBHOOK_SECRET: '' }, false],
    [{ WEBHOOK_SECRET: 's3cret' }, true],
    [{ WHATSAPP_APP_SECRET: 'meta-app-secret' }, true],
    [{ STANDARD_WEBHOOKS_SECRET: key }, true],
    [{ WHATSAPP_VERIFY_TOKEN: 'verify-only' }, false],
    [{ API_TOKEN: 'reader' }, false],
  ])('with %j: %s', (env, expected) => {
    expect(ingestConfigured(loadConfig(env, CWD))).toBe(expected);
  });
});
