// A uPlot chart of one series over time, in a <figure> with its caption. The canvas is hidden from
// screen readers: the numbers it draws are in a table beside it (the caller's `children`).

import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartProps {
  readonly caption: string;
  /** Unix seconds. */
  readonly times: readonly number[];
  readonly values: readonly number[];
  readonly label: string;
  readonly kind: 'bars' | 'line';
  readonly children?: ComponentChildren;
}

/** Colours come from the stylesheet, so the chart follows the light or dark scheme. */
function cssColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value === '' ? fallback : value;
}

const HEIGHT = 220;

export function Chart({ caption, times, values, label, kind, children }: ChartProps) {
  const container = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = container.current;
    if (element === null) return;
    const text = cssColor('--text-muted', '#555');
    const grid = cssColor('--border', '#ddd');
    const accent = cssColor('--accent', '#1a6bd1');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: HEIGHT,
      // Buckets are UTC hours and days: the axis says so rather than shifting them to local time.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [axis, { ...axis, size: 50 }],
      series: [
        {},
        {
          label,
          stroke: accent,
          fill: kind === 'bars' ? accent : undefined,
          width: kind === 'bars' ? 0 : 2,
          ...(kind === 'bars' ? { paths: uPlot.paths.bars?.({ size: [0.8, 40] }), points: { show: false } } : {}),
        },
      ],
    };
    const chart = new uPlot(options, [[...times], [...values]], element);
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [times, values, label, kind]);

  return (
    <figure class="chart">
      <figcaption>{caption}</figcaption>
      <div ref={container} class="chart-canvas" aria-hidden="true" />
      {children}
    </figure>
  );
}
