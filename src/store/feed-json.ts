// A stored event as GET /feed and GET /events give it, as JSON text (the FeedItem schema's keys in
// its order), written from the event's object. The SQLite store writes the same text in SQL on its
// reader threads (see FEED_JSON_SELECT in sqlite/reads.ts); this writer serves the other stores and
// the event stream, and is what the SQL is held to, byte for byte.

import { jsonText, messageJson, storedJsonText } from './export-format.js';
import type { FeedEvent, FeedJson } from './store.js';

/**
 * JSON.stringify of the documented feed item, written directly. Written here, and not by the
 * response serialiser, because at 100 events a page that was most of what the event loop did for
 * a read: the serialiser checks each `data` against the branches of its oneOf in turn (a message
 * against every pattern and date-time format of MessageEvent), and every raw, errors and item was
 * parsed from its stored text only to be written out again (see storedJsonText).
 */
export function feedItemJson(event: FeedEvent): string {
  const head = `{"position":${event.position},"received_at":${JSON.stringify(event.receivedAt)},"type":"${event.type}","data":`;
  switch (event.type) {
    case 'message.created':
      return `${head}${messageJson(event.message)}}`;
    case 'status.created': {
      const s = event.status;
      return (
        `${head}{"message_id":${JSON.stringify(event.messageId)},"status":${JSON.stringify(s.status)},` +
        `"ts":${JSON.stringify(s.ts)},"recipient_id":${jsonText(s.recipientId)},"errors":${storedJsonText(s.errors)}}}`
      );
    }
    case 'dead_letter.created': {
      const d = event.deadLetter;
      return (
        `${head}{"id":${d.id},"received_at":${JSON.stringify(d.receivedAt)},"source":${JSON.stringify(d.source)},` +
        `"kind":${JSON.stringify(d.kind)},"reason":${JSON.stringify(d.reason)},"item_id":${jsonText(d.itemId)},` +
        `"item":${storedJsonText(d.item)}}}`
      );
    }
  }
}

/** A page of events as FeedJson, each written by feedItemJson. */
export function feedJsonOf(events: readonly FeedEvent[]): FeedJson {
  return { items: events.map(feedItemJson).join(','), last: events.at(-1)?.position ?? null };
}
