// The browser tests' server side: the real service started as the container starts it
// (`node dist/server.js`, configured by environment variables, a SQLite file in a temporary
// folder, loopback only), signed webhooks in the service's own form and as WhatsApp sends them,
// and the realistic inbox the screenshots show.

import path from 'node:path';
import { expect } from 'vitest';
import { getJson, postWebhook, type WebhookBody } from '../e2e/client.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { metaSignature } from '../helpers/sign.js';
import { tempDir } from '../helpers/tmp.js';
import { whatsappEnvelope } from '../helpers/whatsapp.js';

export const SECRET = 'browser-tests-webhook-secret';
export const APP_SECRET = 'browser-tests-meta-app-secret';
/** The business number every WhatsApp message is sent to (the envelopes' display_phone_number). */
export const BUSINESS = '+15550783881';

export interface Inbox {
  readonly baseUrl: string;
  readonly port: number;
  readonly databaseFile: string;
  readonly server: RunningServer;
  /** SIGKILLs the server, as a crash or `kill -9` would, and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and database file, with `env` changed if given. */
  restart(env?: Record<string, string>): Promise<void>;
  /** Stops the server (if running) and removes its folder. */
  close(): Promise<void>;
}

/** Starts the service on a fresh SQLite file with every webhook form's secret set, plus `env`. */
export async function startInbox(env: Record<string, string> = {}): Promise<Inbox> {
  const tmp = tempDir('webhook-inbox-browser-');
  const databaseFile = path.join(tmp.dir, 'inbox.db');
  const baseEnv = {
    DATABASE_URL: `sqlite:///${databaseFile}`,
    WEBHOOK_SECRET: SECRET,
    WHATSAPP_APP_SECRET: APP_SECRET,
    ...env,
  };
  const launch = (port?: number, changed: Record<string, string> = {}) =>
    startServer({
      runner: 'node',
      cwd: tmp.dir,
      env: { ...baseEnv, ...changed, ...(port === undefined ? {} : { PORT: String(port) }) },
    });
  let server = await launch();
  const port = server.port;
  const inbox: Inbox = {
    baseUrl: server.baseUrl,
    port,
    databaseFile,
    get server() {
      return server;
    },
    async kill() {
      server.signal('SIGKILL');
      await server.exited;
    },
    async restart(changed) {
      server = await launch(port, changed);
    },
    async close() {
      await server.cleanup();
      tmp.cleanup();
    },
  };
  return inbox;
}

/** Posts one message in the service's own form (X-Signature); fails the test unless it is stored. */
export async function postMessage(baseUrl: string, body: WebhookBody): Promise<void> {
  const answer = await postWebhook(baseUrl, SECRET, body);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
}

/** Posts a WhatsApp Cloud API envelope signed with X-Hub-Signature-256; fails the test unless it is answered 200. */
export async function postWhatsApp(baseUrl: string, envelope: object): Promise<void> {
  const raw = JSON.stringify(envelope);
  const response = await fetch(`${baseUrl}/webhook`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature(APP_SECRET, raw) },
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
}

/** GET a JSON path of the API (with the token, when given); fails the test unless it answers 200. */
export async function apiGet<T>(baseUrl: string, pathAndQuery: string, token?: string): Promise<T> {
  const answer = await getJson(`${baseUrl}${pathAndQuery}`, token === undefined ? {} : { authorization: `Bearer ${token}` });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json as T;
}

/** Unix seconds, as WhatsApp's `timestamp` carries them. */
export function unixSeconds(at: Date): string {
  return String(Math.floor(at.getTime() / 1000));
}

/** `ts` of the service's own form: UTC to the second. */
export function isoSeconds(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

export interface Contact {
  readonly name: string;
  /** Digits only, as WhatsApp writes numbers. */
  readonly waId: string;
}

export const phone = (contact: Contact): string => `+${contact.waId}`;

/** A WhatsApp envelope carrying one message item from `contact` to BUSINESS. */
export function whatsappMessage(contact: Contact, item: Record<string, unknown>): object {
  return whatsappEnvelope({
    contacts: [{ profile: { name: contact.name }, wa_id: contact.waId }],
    messages: [{ from: contact.waId, ...item }],
  });
}

export type DeliveryStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** A WhatsApp envelope of delivery statuses for `messageId`. */
export function whatsappStatuses(messageId: string, recipient: Contact, statuses: readonly [DeliveryStatus, Date][]): object {
  return whatsappEnvelope({
    statuses: statuses.map(([status, at]) => ({
      id: messageId,
      status,
      timestamp: unixSeconds(at),
      recipient_id: recipient.waId,
      ...(status === 'failed'
        ? { errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable' }] }
        : {}),
    })),
  });
}

export const ASHA: Contact = { name: 'Asha Rao', waId: '16505551234' };
export const JONAS: Contact = { name: 'Jonas Müller', waId: '4915112345678' };
export const PRIYA: Contact = { name: 'Priya Natarajan', waId: '919876543210' };
export const TUNDE: Contact = { name: 'Tunde Adeyemi', waId: '2348031234567' };
export const CHLOE: Contact = { name: 'Chloé Nguyễn', waId: '61412345678' };
/** A sender of the service's own form, which carries no contact name. */
export const SPEC_SENDER = '+14155550123';
export const SPEC_RECIPIENT = '+14155550100';

/** What the realistic inbox holds, for the tests that check the views against it. */
export interface Showcase {
  readonly now: Date;
  /** Every stored message, oldest first. */
  readonly messages: readonly {
    readonly id: string;
    readonly from: string;
    readonly to: string;
    readonly at: Date;
    readonly type: string;
  }[];
  /** Asha's thread, the busiest. */
  readonly thread: { readonly contact: Contact; readonly ids: readonly string[] };
  readonly imageId: string;
  readonly locationId: string;
  readonly buttonId: string;
  readonly reactionId: string;
  readonly replyId: string;
  /** The message of Asha's thread that was read, and the one whose delivery failed. */
  readonly readId: string;
  readonly failedId: string;
  readonly deadLetterReason: RegExp;
  /** The text a search for "parcel" finds, in two messages. */
  readonly searchTerm: string;
}

/**
 * Posts an inbox a person would recognise, timed relative to `now` so that the overview's charts
 * (the last 24 hours, the last 30 days) have something to draw: five WhatsApp contacts writing
 * text, an image with a caption, a location, a button reply, a reaction, a reply quoting an
 * earlier message, an order and a document; a sender of the service's own form; delivery
 * statuses; and one item WhatsApp sent that could not be read.
 */
export async function seedShowcase(baseUrl: string, now = new Date()): Promise<Showcase> {
  const minutesAgo = (minutes: number): Date => new Date(Math.floor(now.getTime() / 60_000) * 60_000 - minutes * 60_000);
  const messages: { id: string; from: string; to: string; at: Date; type: string }[] = [];
  const wa = async (contact: Contact, id: string, at: Date, type: string, fields: Record<string, unknown>): Promise<string> => {
    await postWhatsApp(baseUrl, whatsappMessage(contact, { id, timestamp: unixSeconds(at), type, ...fields }));
    messages.push({ id, from: phone(contact), to: BUSINESS, at, type });
    return id;
  };
  const spec = async (id: string, at: Date, text: string): Promise<void> => {
    await postMessage(baseUrl, { message_id: id, from: SPEC_SENDER, to: SPEC_RECIPIENT, ts: isoSeconds(at), text });
    messages.push({ id, from: SPEC_SENDER, to: SPEC_RECIPIENT, at, type: 'spec' });
  };
  const businessMessage = 'wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJCVVNJTkVTUy1TSElQUElORwA=';

  // Asha: a question two days ago, a reply to the shop's answer yesterday, then today a photo of
  // the damaged parcel, where she is, a reaction and a button reply.
  const a1 = await wa(ASHA, 'wamid.asha-001', minutesAgo(2 * 24 * 60 + 95), 'text', {
    text: { body: 'Hi! I ordered the walnut side table on Monday, order #4471.' },
  });
  const a2 = await wa(ASHA, 'wamid.asha-002', minutesAgo(2 * 24 * 60 + 93), 'text', {
    text: { body: 'Can you tell me when it ships?' },
  });
  const replyId = await wa(ASHA, 'wamid.asha-003', minutesAgo(20 * 60 + 10), 'text', {
    context: { from: BUSINESS.slice(1), id: businessMessage },
    text: { body: 'Thanks! Is a Saturday delivery possible?' },
  });
  const imageId = await wa(ASHA, 'wamid.asha-004', minutesAgo(52), 'image', {
    image: {
      caption: 'The parcel arrived like this, one corner is crushed',
      mime_type: 'image/jpeg',
      sha256: 'fHg25jtqPKlHLSeuANdnNCoOVmwtpsu8ROsny6Lc43M=',
      id: '1034209876852108',
    },
  });
  const locationId = await wa(ASHA, 'wamid.asha-005', minutesAgo(49), 'location', {
    location: {
      latitude: 37.7599,
      longitude: -122.4148,
      name: 'Home',
      address: '2201 Mission St, San Francisco, CA 94110',
    },
  });
  const reactionId = await wa(ASHA, 'wamid.asha-006', minutesAgo(47), 'reaction', {
    reaction: { message_id: businessMessage, emoji: '❤' },
  });
  const buttonId = await wa(ASHA, 'wamid.asha-007', minutesAgo(6), 'button', {
    context: { from: BUSINESS.slice(1), id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJSRVBMQUNFTUVOVC1PRkZFUgA=' },
    button: { payload: 'REPLACEMENT_4471', text: 'Send a replacement' },
  });

  // Others, so that the conversations list and the top senders have several rows.
  await wa(JONAS, 'wamid.jonas-001', minutesAgo(26 * 60), 'text', {
    text: { body: 'Guten Tag, ist die Rechnung schon unterwegs?' },
  });
  await wa(JONAS, 'wamid.jonas-002', minutesAgo(3 * 60 + 20), 'document', {
    document: {
      caption: 'Rechnung 2025-118, bitte prüfen',
      filename: 'Rechnung_2025-118.pdf',
      mime_type: 'application/pdf',
      sha256: 'Ju8eQ0bqn3eRlq2kV6rXzR1dxa8t9sUvbHnF0+4aWvI=',
      id: '1171828347382910',
    },
  });
  await wa(PRIYA, 'wamid.priya-001', minutesAgo(5 * 24 * 60), 'text', { text: { body: 'Do you ship to Bengaluru?' } });
  await wa(PRIYA, 'wamid.priya-002', minutesAgo(4 * 60 + 5), 'text', {
    text: { body: 'My parcel tracking says delivered, but nothing came.' },
  });
  await wa(TUNDE, 'wamid.tunde-001', minutesAgo(9 * 60 + 30), 'order', {
    order: {
      catalog_id: '1045810245509150',
      text: 'Please deliver before Friday',
      product_items: [
        { product_retailer_id: 'oak-shelf-90', quantity: 2, item_price: 89.5, currency: 'USD' },
        { product_retailer_id: 'wall-bracket', quantity: 4, item_price: 6, currency: 'USD' },
      ],
    },
  });
  await wa(CHLOE, 'wamid.chloe-001', minutesAgo(75), 'text', { text: { body: 'Bonjour, la commande 5120 est-elle prête ?' } });
  await spec('order-1', minutesAgo(3 * 24 * 60 + 30), 'Where is order 1?');
  await spec('order-2', minutesAgo(30 * 60), 'Order 2 was shipped, thanks');
  await spec('order-3', minutesAgo(2 * 60 + 15), 'Where is order 3?');

  // Asha's first messages were delivered and read; the reply to her replacement request failed.
  await postWhatsApp(
    baseUrl,
    whatsappStatuses(a2, ASHA, [
      ['sent', minutesAgo(2 * 24 * 60 + 92)],
      ['delivered', minutesAgo(2 * 24 * 60 + 92)],
      ['read', minutesAgo(2 * 24 * 60 + 90)],
    ]),
  );
  await postWhatsApp(baseUrl, whatsappStatuses(imageId, ASHA, [['delivered', minutesAgo(51)]]));
  await postWhatsApp(
    baseUrl,
    whatsappStatuses(buttonId, ASHA, [
      ['sent', minutesAgo(5)],
      ['failed', minutesAgo(5)],
    ]),
  );

  // A sender number written the way people write it: WhatsApp never sends that, so it is kept
  // as a dead letter with the reason, beside a readable message of the same delivery.
  await postWhatsApp(
    baseUrl,
    whatsappEnvelope({
      messages: [
        {
          from: '+1 (650) 555-0199',
          id: 'wamid.unreadable-001',
          timestamp: unixSeconds(minutesAgo(33)),
          type: 'text',
          text: { body: 'Hello?' },
        },
      ],
    }),
  );

  messages.sort((x, y) => x.at.getTime() - y.at.getTime() || (x.id < y.id ? -1 : 1));
  return {
    now,
    messages,
    thread: { contact: ASHA, ids: [a1, a2, replyId, imageId, locationId, reactionId, buttonId] },
    imageId,
    locationId,
    buttonId,
    reactionId,
    replyId,
    readId: a2,
    failedId: buttonId,
    deadLetterReason: /from/,
    searchTerm: 'parcel',
  };
}
