// The pieces of a message shared by the thread, the search results and the message view: its
// type badge, the useful fields of `raw` for its type, its delivery status, and highlighted text.
// Everything is rendered as text nodes: a message holding markup shows the markup, literally.

import type { StatusItem } from '../api/client';

/** The type a badge shows: a message of the core form (no provider type) is a text message. */
export function typeName(type: string | null | undefined): string {
  return type === null || type === undefined || type === '' ? 'text' : type;
}

export function TypeBadge({ type }: { type: string | null | undefined }) {
  return <span class="badge">{typeName(type)}</span>;
}

/** A field of a JSON object, or undefined. */
function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export interface Detail {
  readonly label: string;
  readonly value: string;
}

const MEDIA = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/**
 * What a WhatsApp message's `raw` (the messages[] item as Meta sent it) says beyond its text, by
 * type: media ids, coordinates, the reply chosen, the emoji, the contacts, the order. A `raw`
 * that lacks a field leaves it out; an unknown type shows nothing extra (the message view shows
 * the whole raw).
 */
export function rawDetails(type: string | null | undefined, raw: unknown): Detail[] {
  const out: Detail[] = [];
  const add = (label: string, value: unknown): void => {
    const shown = text(value);
    if (shown !== undefined) out.push({ label, value: shown });
  };
  if (type === null || type === undefined) return out;
  if (MEDIA.has(type)) {
    add('Media id', field(raw, type, 'id'));
    add('File name', field(raw, type, 'filename'));
    add('MIME type', field(raw, type, 'mime_type'));
    if (field(raw, type, 'voice') === true) add('Voice note', 'yes');
    if (field(raw, type, 'animated') === true) add('Animated', 'yes');
  } else if (type === 'location') {
    const latitude = text(field(raw, 'location', 'latitude'));
    const longitude = text(field(raw, 'location', 'longitude'));
    if (latitude !== undefined && longitude !== undefined) add('Coordinates', `${latitude}, ${longitude}`);
    add('Place', field(raw, 'location', 'name'));
    add('Address', field(raw, 'location', 'address'));
    add('Link', field(raw, 'location', 'url'));
  } else if (type === 'interactive') {
    const kind = text(field(raw, 'interactive', 'type'));
    if (kind === 'button_reply' || kind === 'list_reply') {
      const reply = field(raw, 'interactive', kind);
      const label = kind === 'button_reply' ? 'Button reply' : 'List reply';
      add(label, field(reply, 'title'));
      add(`${label} id`, field(reply, 'id'));
      add('Description', field(reply, 'description'));
    } else if (kind === 'nfm_reply') {
      add('Flow reply', field(raw, 'interactive', 'nfm_reply', 'name'));
      add('Flow response', field(raw, 'interactive', 'nfm_reply', 'response_json'));
    } else {
      add('Interactive type', kind);
    }
  } else if (type === 'button') {
    add('Button', field(raw, 'button', 'text'));
    add('Payload', field(raw, 'button', 'payload'));
  } else if (type === 'reaction') {
    const emoji = field(raw, 'reaction', 'emoji');
    add('Reaction', emoji === undefined || emoji === '' ? '(removed)' : emoji);
    add('To message', field(raw, 'reaction', 'message_id'));
  } else if (type === 'contacts') {
    const contacts = field(raw, 'contacts');
    if (Array.isArray(contacts)) {
      const names = contacts.map((c) => text(field(c, 'name', 'formatted_name')) ?? text(field(c, 'name', 'first_name')) ?? '?');
      add(contacts.length === 1 ? 'Contact' : `Contacts (${contacts.length})`, names.join(', '));
      const phones = contacts.flatMap((c) => {
        const list = field(c, 'phones');
        return Array.isArray(list) ? list.map((p) => text(field(p, 'phone'))).filter((p) => p !== undefined) : [];
      });
      if (phones.length > 0) add('Phones', phones.join(', '));
    }
  } else if (type === 'order') {
    const items = field(raw, 'order', 'product_items');
    if (Array.isArray(items)) {
      const quantity = items.reduce((sum: number, item) => {
        const q = Number(field(item, 'quantity'));
        return sum + (Number.isFinite(q) ? q : 0);
      }, 0);
      add('Order', `${items.length} ${items.length === 1 ? 'item' : 'items'}${quantity > 0 ? `, quantity ${quantity}` : ''}`);
    }
    add('Catalog', field(raw, 'order', 'catalog_id'));
  } else if (type === 'system') {
    add('System', field(raw, 'system', 'type'));
  } else if (type === 'unsupported') {
    const errors = field(raw, 'errors');
    if (Array.isArray(errors)) add('Error', field(errors[0], 'title') ?? field(errors[0], 'message'));
  }
  if (field(raw, 'context', 'forwarded') === true) add('Forwarded', 'yes');
  return out;
}

export function DetailList({ details }: { details: readonly Detail[] }) {
  if (details.length === 0) return null;
  return (
    <dl class="fields">
      {details.map((d) => (
        <div key={d.label}>
          <dt>{d.label}</dt>
          <dd>{d.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The same status of a message: one event may be both in an answer and on the live feed. */
export function sameStatus(a: StatusItem, b: StatusItem): boolean {
  return a.status === b.status && a.ts === b.ts && a.recipient_id === b.recipient_id;
}

const TICKS: Record<StatusItem['status'], string> = { sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

/** How far a message got; providers may report a step late (a "delivered" after its "read"). */
const RANK: Record<StatusItem['status'], number> = { sent: 1, delivered: 2, read: 3, failed: 4 };

/** The furthest delivery status as a tick, named for screen readers. */
export function StatusMark({ statuses }: { statuses: readonly StatusItem[] | undefined }) {
  const last = statuses?.reduce<StatusItem | undefined>(
    (best, s) => (best === undefined || RANK[s.status] >= RANK[best.status] ? s : best),
    undefined,
  );
  if (last === undefined) return null;
  return (
    <span class={`status status-${last.status}`} role="img" aria-label={`Status: ${last.status}`} title={last.status}>
      {TICKS[last.status]}
    </span>
  );
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `value` with each case-insensitive occurrence of `query` in a <mark>. */
export function Highlighted({ value, query }: { value: string; query: string }) {
  if (query === '') return <>{value}</>;
  const parts = value.split(new RegExp(`(${escapeRegExp(query)})`, 'giu'));
  return <>{parts.map((part, i) => (i % 2 === 1 ? <mark key={i}>{part}</mark> : part))}</>;
}
