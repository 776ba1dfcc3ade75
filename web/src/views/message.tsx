// Message: everything GET /messages/{message_id} keeps of one message, its delivery statuses as a
// timeline, and `raw` as formatted JSON, with buttons that copy the id and the JSON.

import { useState } from 'preact/hooks';
import { getJson, type MessageDetail, type StatusEvent } from '../api/client';
import { href } from '../router';
import { ErrorAlert } from '../ui/alert';
import { formatDateTime } from '../ui/format';
import { Heading } from '../ui/heading';
import { useLiveEvents, useLoad } from '../ui/hooks';
import { DetailList, rawDetails, sameStatus, TypeBadge } from '../ui/message-parts';

/** The fields in the order the API writes them; each is shown, null ones as "none". */
const FIELDS = [
  'message_id',
  'from',
  'to',
  'ts',
  'text',
  'type',
  'source',
  'received_at',
  'contact_name',
  'reply_to',
  'phone_number_id',
] as const satisfies readonly (keyof MessageDetail)[];

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/**
 * Copies with the Clipboard API, which a browser offers only to secure contexts (https, or
 * localhost): elsewhere the button says so, and selects the text for the reader to copy.
 */
async function copy(text: string, fallbackTarget: HTMLElement | null): Promise<string> {
  try {
    if (navigator.clipboard === undefined) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    return 'Copied.';
  } catch {
    if (fallbackTarget !== null) {
      const range = document.createRange();
      range.selectNodeContents(fallbackTarget);
      const selection = window.getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
    }
    return 'This browser did not allow copying here: the text is selected, press Ctrl+C (or ⌘C) to copy it.';
  }
}

function Field({ name, value }: { name: string; value: string | null }) {
  return (
    <div>
      <dt>{name}</dt>
      <dd id={`field-${name}`}>{value === null ? <span class="none">none</span> : value}</dd>
    </div>
  );
}

export function MessageView({ id }: { id: string }) {
  const [loaded, retry] = useLoad((signal) => getJson('/messages/{message_id}', { params: { message_id: id }, signal }), [id]);
  const [live, setLive] = useState<MessageDetail['statuses']>([]);
  const [copied, setCopied] = useState('');

  useLiveEvents((event) => {
    if (event.type !== 'status.created') return;
    const s = event.data as StatusEvent;
    if (s.message_id !== id) return;
    setLive((list) => [...list, { status: s.status, ts: s.ts, recipient_id: s.recipient_id, errors: s.errors }]);
  });

  if (loaded.status === 'loading') {
    return (
      <section class="view">
        <Heading>Message</Heading>
        <p>Loading message {id}…</p>
      </section>
    );
  }
  if (loaded.status === 'error') {
    return (
      <section class="view">
        <Heading>Message</Heading>
        <ErrorAlert error={loaded.error} what={`Loading message ${id}`} onRetry={retry} />
      </section>
    );
  }
  const m = loaded.data;
  // A status may be both in the answer and on the live feed (it arrived while the message was read).
  const statuses = [...m.statuses, ...live.filter((s) => !m.statuses.some((known) => sameStatus(known, s)))];
  const raw = json(m.raw);
  const details = rawDetails(m.type, m.raw);

  return (
    <section class="view">
      <Heading>Message</Heading>
      {m.from !== null && m.to !== null ? (
        <p class="summary">
          <TypeBadge type={m.type} /> in the conversation <a href={href.thread(m.from, m.to)}>{m.contact_name ?? m.from}</a> to{' '}
          {m.to}
        </p>
      ) : (
        <p class="summary">Only delivery statuses are stored for this id (a message the business sent).</p>
      )}
      <div class="actions">
        <button
          type="button"
          onClick={async () => setCopied(await copy(m.message_id, document.getElementById('field-message_id')))}
        >
          Copy message id
        </button>
        <button type="button" onClick={async () => setCopied(await copy(raw, document.getElementById('raw-json')))}>
          Copy raw JSON
        </button>
        <span role="status" class="copied">
          {copied}
        </span>
      </div>
      <h2>Fields</h2>
      <dl class="fields message-fields">
        {FIELDS.map((name) => (
          <Field key={name} name={name} value={m[name]} />
        ))}
      </dl>
      {details.length > 0 ? (
        <>
          <h2>From the provider</h2>
          <DetailList details={details} />
        </>
      ) : null}
      <h2>Statuses</h2>
      {statuses.length === 0 ? <p>No delivery status is stored for this message.</p> : null}
      <ol class="timeline" aria-label="Status timeline">
        {statuses.map((s, i) => (
          <li key={`${i} ${s.status} ${s.ts}`}>
            <span class={`status status-${s.status}`}>{s.status}</span> <time dateTime={s.ts}>{formatDateTime(s.ts)}</time>
            {s.recipient_id !== null ? <span> · to {s.recipient_id}</span> : null}
            {s.errors !== null && s.errors !== undefined ? <pre class="errors">{json(s.errors)}</pre> : null}
          </li>
        ))}
      </ol>
      <h2>Raw</h2>
      {/* A named, focusable region: the JSON may scroll sideways, and keyboard users can scroll it. */}
      {/* biome-ignore lint/a11y/useSemanticElements: the <pre> keeps the JSON's layout and is itself the named region. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: as above, focus lets the keyboard scroll it. */}
      <pre id="raw-json" class="raw" role="region" aria-label="Raw JSON" tabIndex={0}>
        {raw}
      </pre>
    </section>
  );
}
