// loadConfig: defaults, the accepted forms of every variable, and the ConfigError
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
    ['requestTimeoutMs', 30000],
    ['headersTimeoutMs', 10000],
    ['maxInflightBodyBytes', 64 * 1024 * 1024],
    ['shutdownGraceMs', 10000],
    ['readWorkers', 2],
    ['readTimeoutMs', 5000],
  ] as const)('%s defaults to %j', (key, expected) => {
    expect(config[key]).toBe(expected);
  });

  it.each([
    'webhookSecrets',
    'whatsappAppSecrets',
    'whatsappVerifyTokens',
    'standardWebhooksKeys',
    'apiTokens',
    'adminTokens',
  ] as const)('%s defaults to none', (key) => {
    expect(config[key]).toEqual([]);
  });

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

describe('free-form credentials: one value each, commas included, rotated through <NAME>_PREVIOUS', () => {
  it.each([
    ['unset', {}, []],
    ['empty', { WEBHOOK_SECRET: '' }, []],
    ['blank', { WEBHOOK_SECRET: '  ' }, []],
    ['set', { WEBHOOK_SECRET: 's3cret' }, ['s3cret']],
    ['blanks kept: the HMAC key is the value byte for byte', { WEBHOOK_SECRET: ' s3cret ' }, [' s3cret ']],
    ['a comma is part of the secret, never a separator', { WEBHOOK_SECRET: 'k9Qz!mR2#vL8,p' }, ['k9Qz!mR2#vL8,p']],
    ['with the previous value', { WEBHOOK_SECRET: 'new,1', WEBHOOK_SECRET_PREVIOUS: 'old,2' }, ['new,1', 'old,2']],
    ['the same value twice counts once', { WEBHOOK_SECRET: 'same', WEBHOOK_SECRET_PREVIOUS: 'same' }, ['same']],
  ] as const)('WEBHOOK_SECRET %s gives %j', (_name, env, expected) => {
    expect(loadConfig(env, CWD).webhookSecrets).toEqual(expected);
  });

  it.each([
    ['API_TOKEN', 'apiTokens'],
    ['WHATSAPP_VERIFY_TOKEN', 'whatsappVerifyTokens'],
  ] as const)('%s is one token, commas included, with %s_PREVIOUS beside it', (variable, key) => {
    expect(loadConfig({ [variable]: 'a' }, CWD)[key]).toEqual(['a']);
    expect(loadConfig({ [variable]: 'tok,en' }, CWD)[key]).toEqual(['tok,en']);
    expect(loadConfig({ [variable]: ' tok,en ' }, CWD)[key]).toEqual(['tok,en']);
    expect(loadConfig({ [variable]: 'new,1', [`${variable}_PREVIOUS`]: 'old,2' }, CWD)[key]).toEqual(['new,1', 'old,2']);
    expect(loadConfig({ [variable]: ' , ' }, CWD)[key]).toEqual([',']);
    expect(loadConfig({ [variable]: '   ' }, CWD)[key]).toEqual([]);
  });

  it.each(['WEBHOOK_SECRET', 'API_TOKEN', 'WHATSAPP_VERIFY_TOKEN'])(
    '%s_PREVIOUS without %s stops the start naming the variable, not the value',
    (variable) => {
      const error = configError(() => loadConfig({ [`${variable}_PREVIOUS`]: 'old-Hunter2' }, CWD));
      expect(error.variable).toBe(`${variable}_PREVIOUS`);
      expect(error.message).not.toContain('Hunter2');
    },
  );

  it.each([
    ['API_TOKEN', { API_TOKEN: 'two Hunter2' }],
    ['API_TOKEN_PREVIOUS', { API_TOKEN: 'ok', API_TOKEN_PREVIOUS: 'two\tHunter2' }],
  ])('%s with a blank inside (no Authorization header can carry it) stops the start', (variable, env) => {
    const error = configError(() => loadConfig(env, CWD));
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain('Hunter2');
  });
});

describe('ADMIN_TOKEN: one bearer token, rotated through ADMIN_TOKEN_PREVIOUS, never a read token', () => {
  it('is one token, commas included, with the previous one beside it', () => {
    expect(loadConfig({ ADMIN_TOKEN: 'adm,1' }, CWD).adminTokens).toEqual(['adm,1']);
    expect(loadConfig({ ADMIN_TOKEN: ' adm ' }, CWD).adminTokens).toEqual(['adm']);
    expect(loadConfig({ ADMIN_TOKEN: 'new', ADMIN_TOKEN_PREVIOUS: 'old' }, CWD).adminTokens).toEqual(['new', 'old']);
    expect(loadConfig({ ADMIN_TOKEN: '  ' }, CWD).adminTokens).toEqual([]);
  });

  it('ADMIN_TOKEN_PREVIOUS without ADMIN_TOKEN stops the start, naming the variable and not the value', () => {
    const error = configError(() => loadConfig({ ADMIN_TOKEN_PREVIOUS: 'old-Hunter2' }, CWD));
    expect(error.variable).toBe('ADMIN_TOKEN_PREVIOUS');
    expect(error.message).not.toContain('Hunter2');
  });

  it.each([
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'two Hunter2' }],
    ['ADMIN_TOKEN_PREVIOUS', { ADMIN_TOKEN: 'ok', ADMIN_TOKEN_PREVIOUS: 'two\tHunter2' }],
  ])('%s with a blank inside stops the start', (variable, env) => {
    const error = configError(() => loadConfig(env, CWD));
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain('Hunter2');
  });

  it.each([
    ['ADMIN_TOKEN', { API_TOKEN: 'Hunter2', ADMIN_TOKEN: 'Hunter2' }],
    ['ADMIN_TOKEN', { API_TOKEN: 'new', API_TOKEN_PREVIOUS: 'Hunter2', ADMIN_TOKEN: 'Hunter2' }],
    ['ADMIN_TOKEN_PREVIOUS', { API_TOKEN: 'Hunter2', ADMIN_TOKEN: 'adm', ADMIN_TOKEN_PREVIOUS: 'Hunter2' }],
  ])('%s that is also a read token stops the start: a reader could erase', (variable, env) => {
    const error = configError(() => loadConfig(env, CWD));
    expect(error.variable).toBe(variable);
    expect(error.message).toContain('API_TOKEN');
    expect(error.message).not.toContain('Hunter2');
  });
});

describe('RETENTION_DAYS', () => {
  it('unset, empty or blank keeps messages forever', () => {
    expect(loadConfig({}, CWD).retentionDays).toBeNull();
    expect(loadConfig({ RETENTION_DAYS: '' }, CWD).retentionDays).toBeNull();
    expect(loadConfig({ RETENTION_DAYS: '  ' }, CWD).retentionDays).toBeNull();
  });

  it.each([
    ['1', 1],
    ['30', 30],
    [' 365 ', 365],
    ['36500', 36500],
  ])('%j is %d days', (raw, days) => {
    expect(loadConfig({ RETENTION_DAYS: raw }, CWD).retentionDays).toBe(days);
  });

  it.each(['0', '-1', '1.5', '30d', 'forever', '36501', '1e3', '+7'])('%j stops the start with a line naming it', (raw) => {
    const error = configError(() => loadConfig({ RETENTION_DAYS: raw }, CWD));
    expect(error.variable).toBe('RETENTION_DAYS');
    expect(error.message).toMatch(/^RETENTION_DAYS: expected a whole number of days from 1 to 36500, or unset/);
    expect(error.message).toContain(JSON.stringify(raw));
  });
});

describe('WHATSAPP_APP_SECRET: one secret, or hex app secrets separated by commas', () => {
  const a = '0123456789abcdef0123456789abcdef';
  const b = 'FEDCBA9876543210FEDCBA9876543210';
  it.each([
    ['unset', {}, []],
    ['one free-form secret', { WHATSAPP_APP_SECRET: 'meta-app-secret' }, ['meta-app-secret']],
    ['one hex secret, blanks dropped', { WHATSAPP_APP_SECRET: ` ${a} ` }, [a]],
    ['a rotation of two hex secrets', { WHATSAPP_APP_SECRET: `${a}, ${b}` }, [a, b]],
    ['repeats and empty parts dropped', { WHATSAPP_APP_SECRET: `${a},,${a}` }, [a]],
  ] as const)('%s gives %j', (_name, env, expected) => {
    expect(loadConfig(env, CWD).whatsappAppSecrets).toEqual(expected);
  });

  it.each([`k9Qz!mR2#vL8,p`, `${a},p`, `${a},abc`, 'hunter2,Hunter2'])(
    '%j is refused rather than split into weak keys, naming the variable, not the value',
    (value) => {
      const error = configError(() => loadConfig({ WHATSAPP_APP_SECRET: value }, CWD));
      expect(error.variable).toBe('WHATSAPP_APP_SECRET');
      expect(error.message).not.toContain(a);
      expect(error.message).not.toContain('Hunter2');
    },
  );
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

describe('timeouts, body budget, shutdown grace and readers', () => {
  it('accept integers in range', () => {
    const config = loadConfig(
      {
        REQUEST_TIMEOUT_MS: '5000',
        HEADERS_TIMEOUT_MS: '2000',
        MAX_BODY_BYTES: '1000',
        MAX_INFLIGHT_BODY_BYTES: '1000',
        SHUTDOWN_GRACE_MS: '0',
        READ_WORKERS: '0',
        READ_TIMEOUT_MS: '250',
      },
      CWD,
    );
    expect(config).toMatchObject({
      requestTimeoutMs: 5000,
      headersTimeoutMs: 2000,
      maxBodyBytes: 1000,
      maxInflightBodyBytes: 1000,
      shutdownGraceMs: 0,
      readWorkers: 0,
      readTimeoutMs: 250,
    });
  });

  it('the headers timeout defaults to the request timeout when that is shorter than 10 s', () => {
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '3000' }, CWD).headersTimeoutMs).toBe(3000);
  });

  it('the in-flight body budget defaults to room for at least one largest body', () => {
    expect(loadConfig({ MAX_BODY_BYTES: String(100 * 1024 * 1024) }, CWD).maxInflightBodyBytes).toBe(100 * 1024 * 1024);
  });

  it.each([
    ['REQUEST_TIMEOUT_MS', { REQUEST_TIMEOUT_MS: '0' }],
    ['HEADERS_TIMEOUT_MS', { REQUEST_TIMEOUT_MS: '5000', HEADERS_TIMEOUT_MS: '6000' }],
    ['MAX_INFLIGHT_BODY_BYTES', { MAX_BODY_BYTES: '2000', MAX_INFLIGHT_BODY_BYTES: '1999' }],
    ['SHUTDOWN_GRACE_MS', { SHUTDOWN_GRACE_MS: 'soon' }],
    ['READ_WORKERS', { READ_WORKERS: '65' }],
    ['READ_TIMEOUT_MS', { READ_TIMEOUT_MS: '0' }],
  ])('%s out of range stops the start naming it', (variable, env) => {
    expect(configError(() => loadConfig(env, CWD)).variable).toBe(variable);
  });
});

describe('the no-op store', () => {
  it('is refused unless a benchmark asks for it by name', () => {
    const error = configError(() => loadConfig({ DATABASE_URL: 'noop://' }, CWD));
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).toContain('ALLOW_NOOP_DATABASE');
    expect(loadConfig({ DATABASE_URL: 'noop://', ALLOW_NOOP_DATABASE: '1' }, CWD).database.kind).toBe('noop');
  });

  it('ALLOW_NOOP_DATABASE takes yes/no words only', () => {
    expect(configError(() => loadConfig({ ALLOW_NOOP_DATABASE: 'maybe' }, CWD)).variable).toBe('ALLOW_NOOP_DATABASE');
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
