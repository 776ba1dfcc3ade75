// Search: GET /messages with q, from, to, type, since and until, newest first, a page at a time.
// The form's values live in the URL (#/search?q=…), so a search can be bookmarked and the back
// button returns to the previous one. A search that runs long can be cancelled: the request is
// aborted, not merely ignored.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson, type MessageItem } from '../api/client';
import { href } from '../router';
import { ErrorAlert } from '../ui/alert';
import { formatDateTime, plural } from '../ui/format';
import { Heading } from '../ui/heading';
import { useWhenVisible } from '../ui/hooks';
import { Highlighted, TypeBadge } from '../ui/message-parts';

const PAGE = 50;
const FIELDS = ['q', 'from', 'to', 'type', 'since', 'until'] as const;
type Field = (typeof FIELDS)[number];
type Criteria = Readonly<Record<Field, string>>;

const LABELS: Record<Field, string> = { q: 'Text', from: 'From', to: 'To', type: 'Type', since: 'Since', until: 'Until' };
const HINTS: Partial<Record<Field, string>> = {
  q: 'Any part of the text, in any case.',
  from: 'A number: + and digits.',
  to: 'A number: + and digits.',
  since: 'UTC, e.g. 2025-01-15T10:00:00Z, or a date.',
  until: 'UTC, before this instant.',
};
/** Message types the provider sends; the field accepts any other too. */
const KNOWN_TYPES = [
  'text',
  'image',
  'video',
  'audio',
  'document',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'button',
  'reaction',
  'order',
  'system',
  'unsupported',
];

function criteriaOf(params: URLSearchParams): Criteria {
  return Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ''])) as Record<Field, string>;
}

/** A date alone means the start of that day, UTC; numbers may be typed with a space for the +. */
function normalise(field: Field, value: string): string {
  const v = value.trim();
  if ((field === 'since' || field === 'until') && /^\d{4}-\d{2}-\d{2}$/.test(v)) return `${v}T00:00:00Z`;
  if ((field === 'from' || field === 'to') && /^\d+$/.test(v)) return `+${v}`;
  return field === 'q' ? value : v;
}

interface Results {
  readonly items: readonly MessageItem[];
  readonly total: number;
  readonly cursor: string | null;
  readonly status: 'idle' | 'running' | 'error' | 'cancelled' | 'done';
  readonly error?: unknown;
}

const NONE: Results = { items: [], total: 0, cursor: null, status: 'idle' };

export function SearchView({ params }: { params: URLSearchParams }) {
  const applied = criteriaOf(params);
  const key = FIELDS.map((f) => applied[f]).join('\u0000');
  const [form, setForm] = useState<Criteria>(applied);
  const [results, setResults] = useState<Results>(NONE);
  const controller = useRef<AbortController | null>(null);
  const hasCriteria = FIELDS.some((f) => applied[f] !== '');

  const run = useCallback(
    (cursor: string) => {
      controller.current?.abort();
      const current = new AbortController();
      controller.current = current;
      setResults((r) => ({ ...(cursor === '' ? NONE : r), status: 'running' }));
      const query: Record<string, string> = {};
      for (const f of FIELDS) if (applied[f] !== '') query[f] = applied[f];
      getJson('/messages', {
        query: { ...query, order: 'desc', limit: PAGE, cursor, include: 'type,contact_name' },
        signal: current.signal,
      }).then(
        (page) => {
          if (current.signal.aborted) return;
          setResults((r) => ({
            items: cursor === '' ? page.data : [...r.items, ...page.data],
            total: page.total,
            cursor: page.next_cursor ?? null,
            status: 'done',
          }));
        },
        (error: unknown) => {
          if (current.signal.aborted) return;
          setResults((r) => ({ ...r, status: 'error', error }));
        },
      );
    },
    // Inputs: `key` is every applied criterion.
    [key],
  );

  // Inputs: a new URL (key) is a new search; its values fill the form.
  useEffect(() => {
    setForm(applied);
    if (hasCriteria) run('');
    else setResults(NONE);
    return () => controller.current?.abort();
  }, [key]);

  const cancel = (): void => {
    controller.current?.abort();
    setResults((r) => ({ ...r, status: 'cancelled' }));
  };

  const submit = (event: Event): void => {
    event.preventDefault();
    const next = Object.fromEntries(FIELDS.map((f) => [f, normalise(f, form[f])]));
    const target = href.search(next);
    // The same search again (Retry, or a refresh of results) runs even though the URL stays.
    if (target === window.location.hash || (target === '#/search' && !hasCriteria)) {
      if (hasCriteria) run('');
    } else {
      window.location.hash = target;
    }
  };

  const more = useCallback(() => {
    if (results.status === 'done' && results.cursor !== null) run(results.cursor);
  }, [results.status, results.cursor, run]);
  const sentinel = useWhenVisible<HTMLDivElement>(
    more,
    results.status === 'done' && results.cursor !== null,
    results.items.length,
  );

  const running = results.status === 'running';
  return (
    <section class="view">
      <Heading>Search</Heading>
      {/* biome-ignore lint/a11y/useSemanticElements: a form with the search role is the landmark every current screen reader knows; <search> is newer. */}
      <form role="search" aria-label="Messages" class="search-form" onSubmit={submit}>
        {FIELDS.map((f) => (
          <div class="field" key={f}>
            <label for={`search-${f}`}>{LABELS[f]}</label>
            <input
              id={`search-${f}`}
              name={f}
              type={f === 'q' ? 'search' : 'text'}
              value={form[f]}
              autocomplete="off"
              spellcheck={false}
              {...(f === 'type' ? { list: 'search-types' } : {})}
              {...(HINTS[f] !== undefined ? { 'aria-describedby': `search-${f}-hint` } : {})}
              onInput={(e) => {
                const value = e.currentTarget.value;
                setForm((current) => ({ ...current, [f]: value }));
              }}
            />
            {HINTS[f] !== undefined ? (
              <small id={`search-${f}-hint`} class="hint">
                {HINTS[f]}
              </small>
            ) : null}
          </div>
        ))}
        <datalist id="search-types">
          {KNOWN_TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <div class="actions">
          <button type="submit">Search</button>
          <button type="button" onClick={cancel} disabled={!running}>
            Cancel
          </button>
        </div>
      </form>
      <p class="summary" aria-live="polite">
        {running && results.items.length === 0
          ? 'Searching…'
          : results.status === 'cancelled'
            ? 'Search cancelled.'
            : results.status === 'done' || (running && results.items.length > 0)
              ? plural(results.total, 'result')
              : hasCriteria
                ? ''
                : 'Give any of the criteria above.'}
      </p>
      {results.status === 'error' ? (
        <ErrorAlert
          error={results.error}
          what="The search"
          onRetry={() => run(results.items.length > 0 && results.cursor !== null ? results.cursor : '')}
        />
      ) : null}
      {results.items.length > 0 ? (
        <ol class="results" aria-label="Search results">
          {results.items.map((m) => (
            <li key={m.message_id}>
              <article class="result" data-message-id={m.message_id}>
                <header class="message-head">
                  <TypeBadge type={m.type} />
                  <a href={href.thread(m.from, m.to)} class="who">
                    <bdi>{m.contact_name ?? m.from}</bdi>
                    <span class="visually-hidden"> (conversation)</span>
                  </a>
                  <span class="to">to {m.to}</span>
                  <time dateTime={m.ts}>{formatDateTime(m.ts)}</time>
                </header>
                <p class="text">
                  {m.text !== null ? <Highlighted value={m.text} query={applied.q} /> : `(${m.type ?? 'no text'})`}
                </p>
                <a href={href.message(m.message_id)} class="details-link">
                  Details<span class="visually-hidden"> of message {m.message_id}</span>
                </a>
              </article>
            </li>
          ))}
        </ol>
      ) : null}
      {results.cursor !== null && (results.status === 'done' || running) && results.items.length > 0 ? (
        <div ref={sentinel} class="more">
          <button type="button" onClick={more} disabled={running}>
            {running ? 'Loading…' : 'Load more results'}
          </button>
        </div>
      ) : null}
    </section>
  );
}
