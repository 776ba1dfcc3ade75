#!/usr/bin/env node
// `webhook-inbox`, the package's bin: runs the compiled command line (dist/cli/main.js). In a
// checkout it first compiles src/ (`tsc -p tsconfig.build.json`) when dist/ is missing or older
// than a source file, and bundles the dashboard (web/build.js into dist/web) when that is missing
// or older than a file of web/, so `npx webhook-inbox` works right after `npm ci` and after every
// edit. An install without src/ (the Docker image) runs dist/ as it is.
//
// Plain JavaScript on purpose: it must run before anything is compiled.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const web = path.join(root, 'web');
const dist = path.join(root, 'dist');
/** Written last by every dashboard build: its time is when dist/web was last brought up to date. */
const webIndex = path.join(dist, 'web', 'index.html');
/** Written by every incremental build (tsconfig.build.json): its time is when dist/ was last brought up to date. */
const buildInfo = path.join(dist, '.tsbuildinfo');
const lock = path.join(dist, '.build.lock');
/** A lock older than this belongs to a build that died: taken over. */
const STALE_LOCK_MS = 5 * 60_000;

function fail(message) {
  process.stderr.write(`webhook-inbox: ${message}\n`);
  process.exit(1);
}

/** The newest modification time (ms) of the files under `dir`, searched recursively. */
function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const time = entry.isDirectory() ? newestUnder(file) : statSync(file).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

function stale() {
  if (!existsSync(buildInfo)) return true;
  const built = statSync(buildInfo).mtimeMs;
  const configs = ['tsconfig.json', 'tsconfig.build.json']
    .map((name) => path.join(root, name))
    .filter((file) => existsSync(file));
  return Math.max(newestUnder(src), ...configs.map((file) => statSync(file).mtimeMs)) > built;
}

/** As web/build.js decides: dist/web is missing, or older than web/ or the packages' lock. */
function webStale() {
  if (!existsSync(webIndex)) return true;
  const lockFile = path.join(root, 'package-lock.json');
  const packages = existsSync(lockFile) ? statSync(lockFile).mtimeMs : 0;
  return Math.max(newestUnder(web), packages) > statSync(webIndex).mtimeMs;
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the build lock (a directory: creating one is atomic), waiting while another launcher builds. */
function takeLock() {
  mkdirSync(dist, { recursive: true });
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (age > STALE_LOCK_MS || Date.now() > deadline) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    sleep(100);
  }
}

function build() {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    fail('dist/ is missing or older than src/, and TypeScript is not installed to compile it: run `npm ci`');
  }
  takeLock();
  let compiled = true;
  let bundled = true;
  try {
    // Another launcher may have built while this one waited for the lock.
    if (stale()) {
      const started = new Date();
      // The compiler's messages go to stderr: stdout may be the command's output (an export, a document).
      const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 2, 2] });
      compiled = result.status === 0;
      // tsc leaves the file alone when nothing changed: its time now says "up to date as of the start".
      if (compiled) utimesSync(buildInfo, started, started);
    }
    if (compiled && existsSync(web) && webStale()) {
      bundled = spawnSync(process.execPath, [path.join(web, 'build.js')], { cwd: root, stdio: ['ignore', 2, 2] }).status === 0;
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (!compiled) fail('compiling src/ failed (tsc -p tsconfig.build.json; its errors are above)');
  // The command line works without the dashboard; the server answers GET / with how to build it.
  if (!bundled) process.stderr.write('webhook-inbox: bundling the dashboard failed (node web/build.js; its errors are above)\n');
}

if (existsSync(src) && (stale() || (existsSync(web) && webStale()))) build();
await import(pathToFileURL(path.join(dist, 'cli', 'main.js')).href);
