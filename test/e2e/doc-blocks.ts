// The fenced code blocks of README.md and docs/*.md, and a way to run them, for the tests that
// keep the documentation's commands true (readme.test.ts, docs.test.ts).
//
// The rule: a block fenced as ```sh is run by those tests, against a real server, and its output
// checked; every sh block must be claimed by a test, by the heading it sits under. Any other
// block is not run: ```console for commands that need what a test cannot have (Docker, a real
// Meta app, minutes of benchmark, a second `npm ci`), and text, json, nginx, yaml … for what is
// not a command.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../helpers/server.js';

export interface CodeBlock {
  /** The file, relative to the repository root: README.md, docs/api.md. */
  readonly file: string;
  /** The info string after the opening fence: sh, console, text, … ('' when none). */
  readonly lang: string;
  /** The text of the nearest heading above the block, without its #s. */
  readonly heading: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
}

/** README.md and every Markdown file of docs/, relative to the repository root. */
export function documentationFiles(): string[] {
  const docs = readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export function readDoc(file: string): string {
  return readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
}

/** Every fenced block of a Markdown file, with the heading it sits under. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readDoc(file).split('\n');
  const blocks: CodeBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const title = /^#{1,6} +(.*)$/.exec(line);
    if (title?.[1]) {
      heading = title[1].trim();
      continue;
    }
    const fence = /^```(.*)$/.exec(line);
    if (!fence) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] ?? '');
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: the block is never closed`);
    blocks.push({ file, lang: (fence[1] ?? '').trim(), heading, line: start + 1, code: `${body.join('\n')}\n` });
  }
  return blocks;
}

/** The one sh block under `heading` in `file`; fails when there is none or several. */
export function shBlockUnder(file: string, heading: string): CodeBlock {
  const found = codeBlocks(file).filter((block) => block.lang === 'sh' && block.heading === heading);
  if (found.length !== 1) throw new Error(`${file}: expected one sh block under "${heading}", found ${found.length}`);
  return found[0] as CodeBlock;
}

/** `file#heading` of every sh block of `files`, to compare with what the tests claim. */
export function shBlockIds(files: readonly string[]): string[] {
  return files.flatMap((file) =>
    codeBlocks(file)
      .filter((block) => block.lang === 'sh')
      .map((block) => `${file}#${block.heading}`),
  );
}

export const DOCUMENTED_BASE = 'BASE=http://127.0.0.1:8000';

/** Only what a shell needs: the developer's own variables (a DATABASE_URL, a secret) stay out. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

export interface RunOptions {
  /** The test server's URL, put in place of the documented BASE (which the block must set). */
  readonly baseUrl?: string;
  /** Working directory (default: the repository root). */
  readonly cwd?: string;
  readonly env?: Record<string, string>;
}

export interface BlockRun {
  /** Non-empty stdout lines; each top-level curl's answer is a line of its own. */
  readonly lines: string[];
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a block with bash -euo pipefail, so that any failing command fails the test. A line that
 * starts with `curl ` gets an `echo` after it (JSON answers end without a newline).
 */
export function runBlock(block: CodeBlock, options: RunOptions = {}): BlockRun {
  let script = block.code;
  if (options.baseUrl !== undefined) {
    if (!script.includes(DOCUMENTED_BASE))
      throw new Error(`${block.file}:${block.line}: the block does not set ${DOCUMENTED_BASE}`);
    script = script.replace(DOCUMENTED_BASE, `BASE=${options.baseUrl}`);
  }
  script = script.replace(/^(curl .*)$/gm, '$1; echo');
  const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: cleanEnv(options.env ?? {}),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `${block.file}:${block.line} (${block.heading}) exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return {
    lines: result.stdout.split('\n').filter((line) => line.trim() !== ''),
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

/** Whether every program is on PATH. */
export function haveTools(...tools: string[]): boolean {
  return tools.every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
}

/** The GitHub anchor of a heading: lowercased, punctuation dropped, spaces made hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of every heading of a Markdown file (outside code blocks), numbered as GitHub numbers repeats. */
export function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  let fenced = false;
  for (const line of readDoc(file).split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const title = fenced ? null : /^#{1,6} +(.*)$/.exec(line);
    if (!title?.[1]) continue;
    const base = anchorOf(title[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

/** The text of a Markdown file without its fenced blocks. */
export function prose(file: string): string {
  let fenced = false;
  return readDoc(file)
    .split('\n')
    .filter((line) => {
      if (line.startsWith('```')) {
        fenced = !fenced;
        return false;
      }
      return !fenced;
    })
    .join('\n');
}

/**
 * The output a block's comments promise: each comment line that directly follows a command line,
 * without its `# `. (A comment that follows another comment, or a blank line, is prose.)
 */
export function promisedOutputs(block: CodeBlock): string[] {
  const lines = block.code.split('\n');
  return lines.flatMap((line, index) => {
    const previous = lines[index - 1];
    const isOutput = line.startsWith('# ') && previous !== undefined && previous.trim() !== '' && !previous.startsWith('#');
    return isOutput ? [line.slice(2)] : [];
  });
}
