// Overview: the totals and top senders of GET /stats, messages per hour and per day from GET
// /stats/timeseries as charts (with their numbers as tables), the readiness checks of GET
// /health/ready, and the ingest rate and webhook results from GET /metrics over the last minutes.
// New messages from the live feed bring the numbers up to date (at most every few seconds).

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson, type Ok } from '../api/client';
import { href } from '../router';
import { ErrorAlert } from '../ui/alert';
import { formatDateTime, formatNumber, instant, plural } from '../ui/format';
import { Heading } from '../ui/heading';
import { useLiveEvents } from '../ui/hooks';
import { Chart } from './chart';
import { growth, ingestRates, type MetricsSample, metricsHistory, POLL_MS, sampleMetrics, WINDOW_MS } from './metrics';

type Stats = Ok<'/stats'>;
type Series = Ok<'/stats/timeseries'>;
type Readiness = Ok<'/health/ready'>;

interface OverviewData {
  readonly stats: Stats;
  readonly hourly: Series;
  readonly daily: Series;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** An instant as the API's timestamps write it (UTC, whole seconds). */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The end of a chart's window. The API's own window (the last 24 hours, the last 30 days) while it
 * holds the latest message; otherwise the end of the bucket holding the latest message, so that an
 * inbox that has been quiet for longer still shows its last activity instead of an empty chart.
 */
function chartEnd(stats: Stats, bucketMs: number, windowMs: number): string | undefined {
  if (stats.last_message_ts === null) return undefined;
  const last = instant(stats.last_message_ts);
  if (Number.isNaN(last) || last >= Date.now() - windowMs) return undefined;
  return isoSeconds(Math.floor(last / bucketMs) * bucketMs + bucketMs);
}

async function loadOverview(signal: AbortSignal): Promise<OverviewData> {
  const stats = await getJson('/stats', { signal });
  const hourUntil = chartEnd(stats, HOUR_MS, DAY_MS);
  const dayUntil = chartEnd(stats, DAY_MS, 30 * DAY_MS);
  const [hourly, daily] = await Promise.all([
    getJson('/stats/timeseries', { query: { bucket: 'hour', ...(hourUntil !== undefined ? { until: hourUntil } : {}) }, signal }),
    getJson('/stats/timeseries', { query: { bucket: 'day', ...(dayUntil !== undefined ? { until: dayUntil } : {}) }, signal }),
  ]);
  return { stats, hourly, daily };
}

/** "2025-01-15 10:00 UTC" for an hour bucket, "2025-01-15" for a day. */
function bucketLabel(start: string, bucket: Series['bucket']): string {
  return bucket === 'hour' ? `${start.slice(0, 10)} ${start.slice(11, 16)} UTC` : start.slice(0, 10);
}

function SeriesChart({ series, caption }: { series: Series; caption: string }) {
  const times = series.data.map((b) => instant(b.start) / 1000);
  const values = series.data.map((b) => b.count);
  const sum = values.reduce((a, b) => a + b, 0);
  const first = series.data[0];
  const last = series.data.at(-1);
  const busiest = series.data.reduce<Series['data'][number] | undefined>(
    (best, b) => (best === undefined || b.count > best.count ? b : best),
    undefined,
  );
  const unit = series.bucket === 'hour' ? 'hour' : 'day';
  return (
    <Chart caption={caption} times={times} values={values} label="Messages" kind="bars">
      <p class="chart-summary">
        {first !== undefined && last !== undefined
          ? `${plural(sum, 'message')} in the ${plural(series.data.length, unit)} from ${bucketLabel(first.start, series.bucket)} to ${bucketLabel(last.start, series.bucket)}`
          : 'No buckets.'}
        {busiest !== undefined && busiest.count > 0
          ? `; busiest ${unit}: ${bucketLabel(busiest.start, series.bucket)} (${formatNumber(busiest.count)}).`
          : '.'}
      </p>
      <details>
        <summary>Data</summary>
        <table class="numbers">
          <caption>{caption}</caption>
          <thead>
            <tr>
              <th scope="col">{series.bucket === 'hour' ? 'Hour' : 'Day'}</th>
              <th scope="col">Messages</th>
            </tr>
          </thead>
          <tbody>
            {series.data.map((b) => (
              <tr key={b.start}>
                <td>
                  <time dateTime={b.start}>{bucketLabel(b.start, series.bucket)}</time>
                </td>
                <td class="number">{b.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </Chart>
  );
}

function ReadinessList() {
  const [readiness, setReadiness] = useState<Readiness | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  // Inputs: `attempt` is the Retry button's.
  useEffect(() => {
    const controller = new AbortController();
    const check = (): void => {
      // 503 answers the same shape, saying which check failed.
      getJson('/health/ready', { alsoOk: [503], signal: controller.signal }).then(
        (body) => {
          setReadiness(body);
          setError(null);
        },
        (e: unknown) => {
          if (!controller.signal.aborted) setError(e);
        },
      );
    };
    check();
    const timer = setInterval(check, POLL_MS * 2);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [attempt]);

  return (
    <section aria-labelledby="readiness-heading">
      <h2 id="readiness-heading">Readiness</h2>
      {error !== null ? <ErrorAlert error={error} what="The readiness check" onRetry={() => setAttempt((n) => n + 1)} /> : null}
      {readiness === null ? (
        error === null ? (
          <p>Checking…</p>
        ) : null
      ) : (
        <>
          <p class={readiness.status === 'ready' ? 'ok' : 'bad'}>{readiness.status === 'ready' ? 'Ready' : 'Not ready'}</p>
          <ul aria-label="Readiness" class="checks">
            {Object.entries(readiness.checks).map(([name, value]) => (
              <li key={name} class={value === 'ok' ? 'ok' : 'bad'}>
                <span class="check-name">{name.replace('_', ' ')}</span>: {value}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function IngestSection() {
  const [samples, setSamples] = useState<readonly MetricsSample[]>(() => [...metricsHistory()]);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  // Inputs: `attempt` is the Retry button's.
  useEffect(() => {
    const controller = new AbortController();
    const poll = (): void => {
      sampleMetrics(controller.signal).then(
        (history) => {
          setSamples([...history]);
          setError(null);
        },
        (e: unknown) => {
          if (!controller.signal.aborted) setError(e);
        },
      );
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [attempt]);

  const { times, rates } = ingestRates(samples);
  const first = samples[0];
  const last = samples.at(-1);
  const minutes = first !== undefined && last !== undefined ? (last.at - first.at) / 60_000 : 0;
  const latest = rates.at(-1);
  const average =
    first !== undefined && last !== undefined && last.at > first.at
      ? growth(first.stored, last.stored) / ((last.at - first.at) / 1000)
      : undefined;
  const results = last === undefined ? [] : Object.keys(last.results).sort();

  return (
    <section aria-labelledby="ingest-heading">
      <h2 id="ingest-heading">Ingest</h2>
      <p class="hint">
        From GET /metrics every {POLL_MS / 1000} s while this page is open, over the last {WINDOW_MS / 60_000} minutes at most;
        the counters are this server process's.
      </p>
      {error !== null ? <ErrorAlert error={error} what="Reading /metrics" onRetry={() => setAttempt((n) => n + 1)} /> : null}
      <dl class="fields" aria-label="Ingest rate">
        <div>
          <dt>Messages stored per second, now</dt>
          <dd>{latest === undefined ? 'measuring…' : latest.toFixed(2)}</dd>
        </div>
        <div>
          <dt>Average over the last {minutes < 1 ? `${Math.round(minutes * 60)} s` : `${minutes.toFixed(1)} min`}</dt>
          <dd>{average === undefined ? 'measuring…' : average.toFixed(2)}</dd>
        </div>
      </dl>
      {times.length > 1 ? (
        <Chart caption="Messages stored per second" times={times} values={rates} label="Messages/s" kind="line" />
      ) : null}
      {last !== undefined && first !== undefined ? (
        <table class="numbers">
          <caption>Webhook results</caption>
          <thead>
            <tr>
              <th scope="col">Result</th>
              <th scope="col">In the last {minutes < 1 ? `${Math.round(minutes * 60)} s` : `${minutes.toFixed(1)} min`}</th>
              <th scope="col">Since the server started</th>
            </tr>
          </thead>
          <tbody>
            {results.map((result) => (
              <tr key={result}>
                <th scope="row">{result.replaceAll('_', ' ')}</th>
                <td class="number">{formatNumber(growth(first.results[result], last.results[result]))}</td>
                <td class="number">{formatNumber(last.results[result] ?? 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export function OverviewView() {
  const [data, setData] = useState<OverviewData | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const stale = useRef(false);
  const controller = useRef<AbortController | null>(null);

  const refresh = useCallback(() => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    stale.current = false;
    loadOverview(current.signal).then(
      (loaded) => {
        if (current.signal.aborted) return;
        setData(loaded);
        setError(null);
      },
      (e: unknown) => {
        if (!current.signal.aborted) setError(e);
      },
    );
  }, []);

  // Inputs: `attempt` is the Retry button's.
  useEffect(() => {
    refresh();
    // Messages arriving live make the numbers stale; they are read again at most this often.
    const timer = setInterval(() => {
      if (stale.current) refresh();
    }, POLL_MS);
    return () => {
      clearInterval(timer);
      controller.current?.abort();
    };
  }, [refresh, attempt]);

  useLiveEvents((event) => {
    if (event.type === 'message.created') stale.current = true;
  });

  const stats = data?.stats;
  return (
    <section class="view overview">
      <Heading>Overview</Heading>
      {error !== null ? (
        <ErrorAlert error={error} what="Loading the statistics" onRetry={() => setAttempt((n) => n + 1)} />
      ) : null}
      {stats === undefined ? (
        error === null ? (
          <p>Loading statistics…</p>
        ) : null
      ) : (
        <div class="overview-grid">
          <section aria-labelledby="totals-heading">
            <h2 id="totals-heading">Totals</h2>
            <dl class="totals" aria-label="Totals">
              <div>
                <dt>Messages</dt>
                <dd>{stats.total_messages}</dd>
              </div>
              <div>
                <dt>Senders</dt>
                <dd>{stats.senders_count}</dd>
              </div>
              <div>
                <dt>First message</dt>
                <dd>
                  {stats.first_message_ts === null ? (
                    'none'
                  ) : (
                    <time dateTime={stats.first_message_ts}>{formatDateTime(stats.first_message_ts)}</time>
                  )}
                </dd>
              </div>
              <div>
                <dt>Last message</dt>
                <dd>
                  {stats.last_message_ts === null ? (
                    'none'
                  ) : (
                    <time dateTime={stats.last_message_ts}>{formatDateTime(stats.last_message_ts)}</time>
                  )}
                </dd>
              </div>
            </dl>
          </section>
          <section aria-labelledby="senders-heading">
            <h2 id="senders-heading">Top senders</h2>
            {stats.messages_per_sender.length === 0 ? (
              <p>No messages yet.</p>
            ) : (
              <table class="numbers">
                {/* Named like the heading above it, which already shows the words. */}
                <caption class="visually-hidden">Top senders</caption>
                <thead>
                  <tr>
                    <th scope="col">Sender</th>
                    <th scope="col">Messages</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.messages_per_sender.map((s) => (
                    <tr key={s.from}>
                      <td>
                        <a href={href.search({ from: s.from })}>{s.from}</a>
                      </td>
                      <td class="number">{s.count}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </div>
      )}
      {data !== null ? (
        <section aria-labelledby="activity-heading">
          <h2 id="activity-heading">Activity</h2>
          <p class="hint">
            By the messages' own timestamps, in UTC buckets: the last 24 hours and the last 30 days, or, when the latest message
            is older, the 24 hours and 30 days up to it.
          </p>
          <div class="charts">
            <SeriesChart series={data.hourly} caption="Messages per hour" />
            <SeriesChart series={data.daily} caption="Messages per day" />
          </div>
        </section>
      ) : null}
      <ReadinessList />
      <IngestSection />
    </section>
  );
}
