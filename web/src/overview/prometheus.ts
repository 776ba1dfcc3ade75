// Reads the few counters the overview needs from GET /metrics (Prometheus text format 0.0.4).
//
// Hand-parsed rather than with a library: the overview needs the samples of two counters from
// this service's own output, and a sample line of that format is `name{label="value",…} number`
// with three escapes in label values (\\, \" and \n). The lines are read whole, so HELP and TYPE
// lines, histograms and timestamps the parser does not need are skipped, not misread.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (match === null || LABEL.lastIndex === at) return text.slice(at).trim() === '' ? labels : null;
    labels[match[1] ?? ''] = unescapeLabel(match[2] ?? '');
  }
  return labels;
}

/** The samples of the metrics named in `names`; other lines are skipped. */
export function parseSamples(text: string, names: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line.trim());
    if (match === null) continue;
    const name = match[1] ?? '';
    if (!names.has(name)) continue;
    const labels = parseLabels(match[2] ?? '');
    const value = Number(match[3]);
    if (labels !== null && !Number.isNaN(value)) samples.push({ name, labels, value });
  }
  return samples;
}
