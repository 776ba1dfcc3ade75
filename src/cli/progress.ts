// Progress of a long command (export, import, purge, seed) on stderr: a bar redrawn in place with
// the count and the rate, only when stderr is a terminal, so that output redirected to a file or a
// pipe, and CI logs, never fill with redraws.

import { SingleBar } from 'cli-progress';
import { formatCount } from './command.js';

export interface Progress {
  /** `done` items so far; `position` is how far along the total (bytes of a file, say) when that is not the count. */
  update(done: number, position?: number): void;
  /** Draws the last state and ends the line; call once. */
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

/**
 * `label`: what is being done ("exporting"); `unit`: what is counted ("messages"); `total`: how far
 * the position goes, when known (without it, no bar: the count and the rate only).
 */
export function startProgress(
  label: string,
  unit: string,
  total?: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (stream.isTTY !== true) return SILENT;
  const started = performance.now();
  const bar = new SingleBar({
    stream,
    format:
      total === undefined
        ? `${label} {count} ${unit} | {rate} ${unit}/s | {duration_formatted}`
        : `${label} [{bar}] {percentage}% | {count} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
    barsize: 30,
    hideCursor: true,
    // The bar's own `{value}` would show the position; the count and rate are formatted here.
    formatValue: (value) => String(value),
  });
  const payload = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    return { count: formatCount(done), rate: formatCount(seconds > 0 ? done / seconds : 0) };
  };
  bar.start(total ?? 0, 0, payload(0));
  return {
    update(done, position = done) {
      bar.update(total === undefined ? 0 : Math.min(position, total), payload(done));
    },
    stop() {
      bar.stop();
    },
  };
}
