#!/usr/bin/env node
// @ts-check
// Bundles the dashboard (web/src) with esbuild into dist/web/: index.html, and under assets/ the
// script and stylesheet named by their content hash, so that a browser may keep them forever and
// a new build is never mixed with an old one. Each asset is also written gzip- and
// brotli-compressed for @fastify/static to send as they are.
//
// Plain JavaScript on purpose, like bin/webhook-inbox.js: the launcher runs it before anything
// is compiled, and a clean clone has nothing but node and node_modules.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const web = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(web, '..');
export const OUTPUT = path.join(root, 'dist', 'web');

/** Bundles web/src into `staging`; the sizes of what it wrote. */
async function bundle(/** @type {string} */ staging) {
  const assets = path.join(staging, 'assets');
  const result = await build({
    entryPoints: { app: path.join(web, 'src', 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    outdir: assets,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });

  const outputs = Object.keys(result.metafile.outputs).map((file) => path.resolve(root, file));
  const script = outputs.find((file) => file.endsWith('.js'));
  const style = outputs.find((file) => file.endsWith('.css'));
  if (script === undefined || style === undefined) throw new Error('esbuild wrote no script or no stylesheet');

  const template = readFileSync(path.join(web, 'index.html'), 'utf8');
  const html = template
    .replace('%APP_JS%', `assets/${path.basename(script)}`)
    .replace('%APP_CSS%', `assets/${path.basename(style)}`);
  if (html.includes('%APP_')) throw new Error('web/index.html: a placeholder was left unreplaced');
  writeFileSync(path.join(staging, 'index.html'), html);

  /** @type {{ file: string, bytes: number, gzipped: number }[]} */
  const sizes = [];
  for (const file of [script, style]) {
    const bytes = readFileSync(file);
    const gzipped = gzipSync(bytes, { level: 9 });
    writeFileSync(`${file}.gz`, gzipped);
    writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    sizes.push({ file: path.join('assets', path.basename(file)), bytes: bytes.length, gzipped: gzipped.length });
  }

  return sizes;
}

/**
 * Builds the dashboard into `outDir` (default dist/web); resolves with the assets written and
 * their sizes, plain and gzipped.
 */
export async function buildWeb({ outDir = OUTPUT } = {}) {
  // Built beside the output and moved in at the end: a running server never serves half a build,
  // and two builds at once (test projects starting together) each finish whole.
  const staging = `${outDir}.staging-${process.pid}-${Math.random().toString(36).slice(2)}`;
  let sizes;
  try {
    sizes = await bundle(staging);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }

  mkdirSync(path.dirname(outDir), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    rmSync(outDir, { recursive: true, force: true });
    try {
      renameSync(staging, outDir);
      break;
    } catch (error) {
      // Another build moved its output in between: replace it (they hold the same sources).
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      if (attempt >= 5 || (code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw error;
    }
  }
  return sizes.map((s) => ({ ...s, file: path.join(outDir, s.file) }));
}

/** The newest modification time (ms) under `dir`. */
function newestUnder(/** @type {string} */ dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const time = entry.isDirectory() ? newestUnder(file) : statSync(file).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

/** True when dist/web is missing or older than a file of web/ or than the installed packages' lock. */
export function webStale() {
  let built;
  try {
    built = statSync(path.join(OUTPUT, 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  const lock = path.join(root, 'package-lock.json');
  return Math.max(newestUnder(web), statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > built;
}

// Run as a script (before every `npm start`, whose stdout is the log): builds dist/web when it is
// out of date, silently. With --sizes: builds it in any case and says what it wrote.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = process.argv.includes('--sizes');
  if (!report && !webStale()) process.exit(0);
  const sizes = await buildWeb();
  if (!report) process.exit(0);
  for (const { file, bytes, gzipped } of sizes) {
    const name = path.relative(root, file);
    process.stdout.write(`${name}: ${(bytes / 1024).toFixed(1)} KiB, ${(gzipped / 1024).toFixed(1)} KiB gzipped\n`);
  }
}
