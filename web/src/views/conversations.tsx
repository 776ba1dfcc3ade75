// Conversations: GET /conversations, most recent first, a page at a time as the list scrolls, kept
// current by the live feed. The filter box asks the API for one number's conversations; anything
// shorter than a whole number filters the conversations already loaded, by name or number.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type Conversation, getJson, type MessageEvent } from '../api/client';
import { href } from '../router';
import { ErrorAlert } from '../ui/alert';
import { formatDateTime, instant, plural } from '../ui/format';
import { Heading } from '../ui/heading';
import { useLiveEvents, useWhenVisible } from '../ui/hooks';
import { typeName } from '../ui/message-parts';

const PAGE = 50;
const PHONE = /^\+[0-9]{1,15}$/;

type Side = 'from' | 'to';

interface ListState {
  readonly items: readonly Conversation[];
  readonly total: number;
  readonly cursor: string | null;
  readonly status: 'loading' | 'idle' | 'error' | 'done';
  readonly error?: unknown;
}

const EMPTY: ListState = { items: [], total: 0, cursor: '', status: 'loading' };

/** Most recent first, as the API orders them: last instant descending, then from, then to. */
function compare(a: Conversation, b: Conversation): number {
  const byTime = instant(b.last_ts) - instant(a.last_ts);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return a.from === b.from ? (a.to < b.to ? -1 : a.to > b.to ? 1 : 0) : a.from < b.from ? -1 : 1;
}

/** A conversation as it stands after a new message of it. */
function withMessage(c: Conversation | undefined, m: MessageEvent): Conversation {
  const newer = c === undefined || !(instant(m.ts) < instant(c.last_ts));
  const last = { message_id: m.message_id, ts: m.ts, text: m.text, type: m.type };
  if (c === undefined) {
    return {
      from: m.from,
      to: m.to,
      contact_name: m.contact_name,
      messages: 1,
      first_ts: m.ts,
      last_ts: m.ts,
      last_message: last,
    };
  }
  return {
    ...c,
    messages: c.messages + 1,
    contact_name: newer && m.contact_name !== null ? m.contact_name : c.contact_name,
    first_ts: instant(m.ts) < instant(c.first_ts) ? m.ts : c.first_ts,
    last_ts: newer ? m.ts : c.last_ts,
    last_message: newer ? last : c.last_message,
  };
}

function preview(c: Conversation): string {
  const m = c.last_message;
  if (m.text !== null && m.text !== '') return m.text;
  return `(${typeName(m.type)})`;
}

export function ConversationsView() {
  const [filter, setFilter] = useState('');
  const [side, setSide] = useState<Side>('from');
  // A + typed into a URL or pasted from one may arrive as a space: read it as the +.
  const number = filter.replace(/^ (?=\d)/, '+').trim();
  const serverFilter = PHONE.test(number) ? number : '';
  const [list, setList] = useState<ListState>(EMPTY);
  const [attempt, setAttempt] = useState(0);
  const controller = useRef<AbortController | null>(null);

  const loadPage = useCallback(
    (cursor: string, replace: boolean) => {
      controller.current?.abort();
      const current = new AbortController();
      controller.current = current;
      setList((s) => ({ ...(replace ? EMPTY : s), status: 'loading' }));
      getJson('/conversations', {
        query: { limit: PAGE, cursor, ...(serverFilter !== '' ? { [side]: serverFilter } : {}) },
        signal: current.signal,
      }).then(
        (page) => {
          if (current.signal.aborted) return;
          setList((s) => {
            const known = replace ? [] : s.items;
            // A conversation that moved up live may come again on a later page: keep one.
            const seen = new Set(known.map((c) => `${c.from} ${c.to}`));
            const fresh = page.data.filter((c) => !seen.has(`${c.from} ${c.to}`));
            return {
              items: [...known, ...fresh],
              total: page.total,
              cursor: page.next_cursor,
              status: page.next_cursor === null ? 'done' : 'idle',
            };
          });
        },
        (error: unknown) => {
          if (!current.signal.aborted) setList((s) => ({ ...s, status: 'error', error }));
        },
      );
    },
    [serverFilter, side],
  );

  // Inputs: a retry (attempt) reloads from the first page.
  useEffect(() => {
    loadPage('', true);
    return () => controller.current?.abort();
  }, [loadPage, attempt]);

  const more = useCallback(() => {
    if (list.status === 'idle' && list.cursor !== null) loadPage(list.cursor, false);
  }, [list.status, list.cursor, loadPage]);
  const sentinel = useWhenVisible<HTMLDivElement>(more, list.status === 'idle', list.items.length);

  useLiveEvents((event) => {
    if (event.type !== 'message.created') return;
    const m = event.data as MessageEvent;
    if (serverFilter !== '' && m[side] !== serverFilter) return;
    setList((s) => {
      const index = s.items.findIndex((c) => c.from === m.from && c.to === m.to);
      const updated = withMessage(s.items[index], m);
      const rest = index === -1 ? s.items : s.items.filter((_, i) => i !== index);
      const last = rest.at(-1);
      // A conversation that would sort after the last one loaded comes with a later page instead.
      if (index === -1 && s.status !== 'done' && last !== undefined && compare(updated, last) > 0) {
        return { ...s, total: s.total + 1 };
      }
      return { ...s, items: [...rest, updated].sort(compare), total: index === -1 ? s.total + 1 : s.total };
    });
  });

  const needle = serverFilter === '' ? filter.trim().toLowerCase() : '';
  const shown =
    needle === ''
      ? list.items
      : list.items.filter(
          (c) => c.from.includes(needle) || c.to.includes(needle) || (c.contact_name ?? '').toLowerCase().includes(needle),
        );

  return (
    <section class="view">
      <Heading>Conversations</Heading>
      <form class="filter" onSubmit={(e) => e.preventDefault()}>
        <label for="conversation-filter">Filter conversations</label>
        <input
          id="conversation-filter"
          type="search"
          value={filter}
          autocomplete="off"
          aria-describedby="conversation-filter-hint"
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
        <label for="conversation-side">Number is the</label>
        <select id="conversation-side" value={side} onChange={(e) => setSide(e.currentTarget.value === 'to' ? 'to' : 'from')}>
          <option value="from">sender</option>
          <option value="to">recipient</option>
        </select>
        <p id="conversation-filter-hint" class="hint">
          A whole number (+ and digits) asks the server; anything else filters the conversations loaded, by name or number.
        </p>
      </form>
      <p class="summary" aria-live="polite">
        {list.status === 'loading' && list.items.length === 0
          ? 'Loading conversations…'
          : needle !== ''
            ? `${plural(shown.length, 'loaded conversation')} match, of ${plural(list.total, 'conversation')}`
            : plural(list.total, 'conversation')}
      </p>
      {list.status === 'error' ? (
        <ErrorAlert error={list.error} what="Loading conversations" onRetry={() => setAttempt((n) => n + 1)} />
      ) : null}
      <ul class="conversations" aria-label="Conversations">
        {shown.map((c) => (
          <li key={`${c.from} ${c.to}`}>
            <a href={href.thread(c.from, c.to)} class="conversation">
              <span class="who">
                {/* <bdi>: a name in a right-to-left script does not reorder the number beside it. */}
                <bdi class="name">{c.contact_name ?? c.from}</bdi>
                {c.contact_name !== null ? <span class="number"> {c.from}</span> : null}
                <span class="to"> to {c.to}</span>
              </span>
              <bdi class="preview">{preview(c)}</bdi>
              <span class="meta">
                <time dateTime={c.last_ts}>{formatDateTime(c.last_ts)}</time>
                <span class="count"> · {plural(c.messages, 'message')}</span>
              </span>
            </a>
          </li>
        ))}
      </ul>
      {list.status === 'done' && list.items.length === 0 ? <p>No conversations yet.</p> : null}
      {list.status === 'idle' || (list.status === 'loading' && list.items.length > 0) ? (
        <div ref={sentinel} class="more">
          <button type="button" onClick={more} disabled={list.status !== 'idle'}>
            {list.status === 'loading' ? 'Loading…' : 'Load more conversations'}
          </button>
        </div>
      ) : null}
    </section>
  );
}
