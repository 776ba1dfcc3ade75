// Thread: one conversation's messages, oldest at the top and newest at the bottom. It opens on the
// newest page (GET /messages of the pair, order=desc, by cursor) and loads older pages as the
// reader scrolls up, so a thread of any length costs one page at a time. The delivery statuses
// come from GET /messages/{message_id}, a few at a time for the messages loaded. New messages and
// statuses arrive from the live feed.

import { Fragment } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  getJson,
  type MessageDetail,
  type MessageEvent,
  type MessageItem,
  type StatusEvent,
  type StatusItem,
} from '../api/client';
import { href } from '../router';
import { ErrorAlert } from '../ui/alert';
import { dayKey, formatDay, formatTime, instant, plural } from '../ui/format';
import { Heading } from '../ui/heading';
import { useLiveEvents, useWhenVisible } from '../ui/hooks';
import { DetailList, rawDetails, StatusMark, sameStatus, TypeBadge, typeName } from '../ui/message-parts';

const PAGE = 50;
const INCLUDE = 'type,source,received_at,contact_name,reply_to,raw';
/** Detail requests in flight at once: statuses load without crowding out the page's other requests. */
const DETAIL_CONCURRENCY = 4;

type Message = MessageItem;

interface ThreadState {
  /** Oldest first. */
  readonly messages: readonly Message[];
  readonly total: number;
  /** The cursor of the next older page; null when the oldest message is loaded. */
  readonly older: string | null;
  readonly status: 'loading' | 'idle' | 'error';
  readonly error?: unknown;
}

function byInstant(a: Message, b: Message): number {
  const d = instant(a.ts) - instant(b.ts);
  if (d !== 0 && !Number.isNaN(d)) return d;
  return a.message_id < b.message_id ? -1 : a.message_id > b.message_id ? 1 : 0;
}

/** The details (statuses, text) of messages by id, fetched a few at a time; null: not stored. */
function useDetails() {
  const [details, setDetails] = useState<ReadonlyMap<string, MessageDetail | null>>(new Map());
  const queue = useRef<string[]>([]);
  const asked = useRef(new Set<string>());
  const running = useRef(0);
  const pending = useRef(new Map<string, StatusItem[]>());
  const controller = useRef(new AbortController());
  useEffect(() => () => controller.current.abort(), []);

  const pump = useCallback(() => {
    while (running.current < DETAIL_CONCURRENCY && queue.current.length > 0) {
      const id = queue.current.shift();
      if (id === undefined) break;
      running.current++;
      getJson('/messages/{message_id}', { params: { message_id: id }, signal: controller.current.signal })
        .then(
          (detail) => {
            // Statuses that arrived live while this was being read: kept unless the answer has them.
            const early = pending.current.get(id) ?? [];
            pending.current.delete(id);
            const statuses = [...detail.statuses, ...early.filter((s) => !detail.statuses.some((d) => sameStatus(d, s)))];
            setDetails((m) => new Map(m).set(id, { ...detail, statuses }));
          },
          (error: unknown) => {
            if (error instanceof ApiError && error.status === 404) setDetails((m) => new Map(m).set(id, null));
            // Other failures leave the message without its statuses; asking again on a later page is allowed.
            else asked.current.delete(id);
          },
        )
        .finally(() => {
          running.current--;
          if (!controller.current.signal.aborted) pump();
        });
    }
  }, []);

  const request = useCallback(
    (ids: readonly string[]) => {
      for (const id of ids) {
        if (asked.current.has(id)) continue;
        asked.current.add(id);
        queue.current.push(id);
      }
      pump();
    },
    [pump],
  );

  const addStatus = useCallback((event: StatusEvent) => {
    const status: StatusItem = { status: event.status, ts: event.ts, recipient_id: event.recipient_id, errors: event.errors };
    setDetails((m) => {
      const known = m.get(event.message_id);
      if (known === undefined) {
        // Not read yet (or being read): added to the answer when it comes.
        if (asked.current.has(event.message_id)) {
          pending.current.set(event.message_id, [...(pending.current.get(event.message_id) ?? []), status]);
        }
        return m;
      }
      if (known === null || known.statuses.some((s) => sameStatus(s, status))) return m;
      return new Map(m).set(event.message_id, { ...known, statuses: [...known.statuses, status] });
    });
  }, []);

  return { details, request, addStatus };
}

function MessageEntry({
  message,
  detail,
  quoted,
}: {
  message: Message;
  detail: MessageDetail | null | undefined;
  quoted: Message | undefined;
}) {
  const details = rawDetails(message.type, message.raw);
  return (
    <article class="message" data-message-id={message.message_id}>
      <header class="message-head">
        <TypeBadge type={message.type} />
        <time dateTime={message.ts}>{formatTime(message.ts)}</time>
        <StatusMark statuses={detail?.statuses} />
        <a href={href.message(message.message_id)} class="details-link">
          Details<span class="visually-hidden"> of message {message.message_id}</span>
        </a>
      </header>
      {message.reply_to !== null && message.reply_to !== undefined ? (
        <blockquote class="quote">
          <span class="quote-label">Reply to </span>
          <a href={href.message(message.reply_to)}>
            {quoted === undefined
              ? `message ${message.reply_to}`
              : (quoted.text ?? `(${typeName(quoted.type)} ${message.reply_to})`)}
          </a>
        </blockquote>
      ) : null}
      {message.text !== null && message.text !== '' ? (
        <p class="text" dir="auto">
          {message.text}
        </p>
      ) : null}
      <DetailList details={details} />
    </article>
  );
}

export function ThreadView({ from, to }: { from: string; to: string }) {
  const [thread, setThread] = useState<ThreadState>({ messages: [], total: 0, older: '', status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const { details, request, addStatus } = useDetails();
  const controller = useRef<AbortController | null>(null);
  /** Where the reader was before older messages went in above: restored after they are drawn. */
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const stickToBottom = useRef(true);

  const loadPage = useCallback(
    (cursor: string) => {
      controller.current?.abort();
      const current = new AbortController();
      controller.current = current;
      setThread((s) => ({ ...s, status: 'loading' }));
      getJson('/messages', {
        query: { from, to, order: 'desc', limit: PAGE, cursor, include: INCLUDE },
        signal: current.signal,
      }).then(
        (page) => {
          if (current.signal.aborted) return;
          if (cursor !== '') {
            anchor.current = { height: document.documentElement.scrollHeight, top: window.scrollY };
          }
          setThread((s) => {
            const have = new Set(s.messages.map((m) => m.message_id));
            const older = page.data.filter((m) => !have.has(m.message_id)).reverse();
            return { messages: [...older, ...s.messages], total: page.total, older: page.next_cursor ?? null, status: 'idle' };
          });
          request(page.data.map((m) => m.message_id));
        },
        (error: unknown) => {
          if (!current.signal.aborted) setThread((s) => ({ ...s, status: 'error', error }));
        },
      );
    },
    [from, to, request],
  );

  // Inputs: a retry (attempt) starts again from the newest page.
  useEffect(() => {
    stickToBottom.current = true;
    setThread({ messages: [], total: 0, older: '', status: 'loading' });
    loadPage('');
    return () => controller.current?.abort();
  }, [loadPage, attempt]);

  // Older messages went in above: keep what the reader was looking at in place.
  useLayoutEffect(() => {
    const before = anchor.current;
    if (before !== null) {
      anchor.current = null;
      window.scrollTo(0, before.top + document.documentElement.scrollHeight - before.height);
    } else if (stickToBottom.current && thread.messages.length > 0) {
      window.scrollTo(0, document.documentElement.scrollHeight);
    }
  }, [thread.messages]);

  // Following the newest message only while the reader is at the bottom.
  useEffect(() => {
    const onScroll = (): void => {
      const root = document.documentElement;
      stickToBottom.current = root.scrollHeight - (window.scrollY + window.innerHeight) < 80;
    };
    window.addEventListener('scroll', onScroll, { passive: true });
    return () => window.removeEventListener('scroll', onScroll);
  }, []);

  const older = useCallback(() => {
    if (thread.status === 'idle' && thread.older !== null && thread.older !== '') loadPage(thread.older);
  }, [thread.status, thread.older, loadPage]);
  const sentinel = useWhenVisible<HTMLDivElement>(
    older,
    thread.status === 'idle' && thread.older !== null && thread.messages.length > 0,
    thread.messages.length,
  );

  useLiveEvents((event) => {
    if (event.type === 'status.created') {
      addStatus(event.data as StatusEvent);
      return;
    }
    if (event.type !== 'message.created') return;
    const m = event.data as MessageEvent;
    if (m.from !== from || m.to !== to) return;
    setThread((s) => {
      if (s.messages.some((x) => x.message_id === m.message_id)) return s;
      const first = s.messages[0];
      // Older than every message loaded while older pages remain: it comes with those pages.
      if (s.older !== null && first !== undefined && byInstant(m, first) < 0) return { ...s, total: s.total + 1 };
      return { ...s, messages: [...s.messages, m].sort(byInstant), total: s.total + 1 };
    });
    request([m.message_id]);
  });

  const loadedById = new Map(thread.messages.map((m) => [m.message_id, m]));

  const name = [...thread.messages].reverse().find((m) => m.contact_name)?.contact_name ?? from;
  let previousDay = '';

  return (
    <section class="view thread">
      <Heading>{name}</Heading>
      <p class="summary">
        {name !== from ? `${from} ` : ''}to {to}
        {thread.status !== 'loading' || thread.messages.length > 0
          ? ` · ${plural(thread.total, 'message')}${thread.messages.length < thread.total ? `, ${thread.messages.length} loaded` : ''}`
          : ''}
      </p>
      {thread.status === 'error' ? (
        <ErrorAlert error={thread.error} what="Loading messages" onRetry={() => setAttempt((n) => n + 1)} />
      ) : null}
      {thread.older !== null && thread.messages.length > 0 ? (
        <div ref={sentinel} class="more">
          <button type="button" onClick={older} disabled={thread.status !== 'idle'}>
            {thread.status === 'loading' ? 'Loading…' : 'Load older messages'}
          </button>
        </div>
      ) : null}
      {thread.status === 'loading' && thread.messages.length === 0 ? <p>Loading messages…</p> : null}
      {thread.status === 'idle' && thread.messages.length === 0 ? <p>No messages in this conversation.</p> : null}
      <ol class="messages" aria-label="Messages">
        {thread.messages.map((m) => {
          const day = dayKey(m.ts);
          const separator = day !== previousDay;
          previousDay = day;
          const replyTo = m.reply_to;
          const quoted = typeof replyTo === 'string' && replyTo !== '' ? loadedById.get(replyTo) : undefined;
          return (
            <Fragment key={m.message_id}>
              {separator ? (
                // A day is a heading in the list: screen readers can move from day to day.
                <li class="day">
                  <h2>{formatDay(m.ts)}</h2>
                </li>
              ) : null}
              <li>
                <MessageEntry message={m} detail={details.get(m.message_id)} quoted={quoted} />
              </li>
            </Fragment>
          );
        })}
      </ol>
    </section>
  );
}
