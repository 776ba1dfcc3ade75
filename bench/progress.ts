// Progress on stderr: a redrawn bar in a terminal, a plain line every few seconds otherwise
// (so CI logs and redirected output stay readable).

export interface Progress {
  update(done: number): void;
  /** Ends the bar line; call once. */
  finish(): void;
}

const BAR_WIDTH = 30;

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = performance.now();
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let last = 0;

  const line = (done: number): string => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
    const share = total > 0 ? done / total : 1;
    const stats = `${formatCount(done)}/${formatCount(total)} ${(share * 100).toFixed(0)}% ${formatCount(rate)} rows/s`;
    if (!tty) return `${label}: ${stats}, ${formatSeconds(seconds)} elapsed`;
    const filled = Math.round(share * BAR_WIDTH);
    return `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${stats} ETA ${formatSeconds(eta)}`;
  };

  return {
    update(done) {
      last = done;
      const now = performance.now();
      if (tty) {
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        stream.write(`\r${line(done)}\x1b[K`);
      } else if (now - lastDraw >= 5000) {
        lastDraw = now;
        stream.write(`${line(done)}\n`);
      }
    },
    finish() {
      stream.write(tty ? `\r${line(last)}\x1b[K\n` : `${line(last)}\n`);
    },
  };
}
