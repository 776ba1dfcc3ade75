// Realistic synthetic WhatsApp-style messages for `webhook-inbox seed` and the benchmark (bench/):
// skewed senders who mostly write to one business number, timestamps over a year (ties and
// fractional seconds included), multilingual text, provider types and origins (WhatsApp items with
// contact names and replies, and core-form bodies without a type). Deterministic for a given seed
// and end instant, and it keeps the facts the benchmark checks answers against.

import { instantKey } from '../ingest/timestamp.js';
import type { IncomingMessage, InsertOutcome, MessageOrigin, MessageStore } from '../store/store.js';

// ---------------------------------------------------------------------------------------------
// Randomness

/** A uniform number in [0, 1). */
export type Rng = () => number;

/**
 * sfc32, seeded through splitmix32 from (seed, stream): small, fast and good enough for test data.
 * Separate streams keep the timestamps independent of how many draws the text takes.
 */
export function createRng(seed: number, stream: number): Rng {
  let state = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  const splitmix = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** `count` random decimal digits (count <= 15). */
function digits(rng: Rng, count: number): string {
  return String(Math.floor(rng() * 10 ** count)).padStart(count, '0');
}

/** Index of the first element of a non-decreasing array that is >= value (array length if none). */
export function lowerBound(sorted: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? 0) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A weighted choice, with the cumulative weights computed once. */
class Weighted<T> {
  readonly #items: readonly T[];
  readonly #cumulative: Float64Array;

  constructor(entries: readonly (readonly [T, number])[]) {
    if (entries.length === 0) throw new Error('a weighted choice needs at least one item');
    this.#items = entries.map(([item]) => item);
    this.#cumulative = new Float64Array(entries.length);
    let sum = 0;
    entries.forEach(([, weight], i) => {
      sum += weight;
      this.#cumulative[i] = sum;
    });
    for (let i = 0; i < entries.length; i++) this.#cumulative[i] = (this.#cumulative[i] ?? 0) / sum;
  }

  draw(rng: Rng): T {
    const index = Math.min(lowerBound(this.#cumulative, rng()), this.#items.length - 1);
    const item = this.#items[index];
    if (item === undefined) throw new Error('weighted choice out of range');
    return item;
  }
}

// ---------------------------------------------------------------------------------------------
// Text

type Language = 'en' | 'hi' | 'es' | 'pt' | 'ru' | 'ar';

interface Corpus {
  readonly templates: readonly string[];
  readonly cities: readonly string[];
}

// Slots: {order} {time} {day} {city} {amount} {ref} {name}. Mixed case on purpose (the q filter is
// case-insensitive and Unicode-aware), and short replies ("ok", "👍") as often as real chats have them.
const RAW_CORPORA: Readonly<Record<Language, Corpus>> = {
  en: {
    templates: [
      'Hi, has my order #{order} shipped yet?',
      'Thanks! See you at {time} tomorrow',
      'Can I reschedule my appointment to {day}?',
      'ok',
      'Ok thanks',
      'Where is the nearest store in {city}?',
      'I want to cancel my subscription',
      'Payment of {amount} done. Ref {ref}',
      'Please call me back on this number',
      'The delivery guy was very polite 😊',
      'My OTP is not coming, please help',
      'STOP',
      'Is the {name} still available in blue?',
      'Booked for {day} at {time}, token {ref}',
      'YES CONFIRM',
    ],
    cities: ['London', 'New York', 'Mumbai', 'Dubai', 'Toronto', 'Sydney'],
  },
  hi: {
    templates: [
      'नमस्ते, मेरा ऑर्डर #{order} कब आएगा?',
      'धन्यवाद! कल {time} बजे मिलते हैं',
      'क्या आप मुझे कॉल कर सकते हैं?',
      'पेमेंट हो गया है, रसीद भेज दीजिए। Ref {ref}',
      'मुझे अपना सब्सक्रिप्शन रद्द करना है',
      'ठीक है 👍',
      'डिलीवरी बहुत देर से हुई',
      'Bhai order kab tak aayega? #{order}',
      '{city} में आपकी दुकान कहाँ है?',
      'OTP नहीं आ रहा है',
      'हाँ, {day} को ठीक रहेगा',
    ],
    cities: ['दिल्ली', 'मुंबई', 'जयपुर', 'लखनऊ', 'पटना', 'Bengaluru'],
  },
  es: {
    templates: [
      'Hola, ¿cuándo llega mi pedido #{order}?',
      '¡Gracias! Nos vemos mañana a las {time}',
      'Quiero cancelar mi suscripción',
      '¿Tienen envío a {city}?',
      'El pago de {amount} ya está hecho',
      'Perfecto, muchas gracias 🙏',
      'NO RECIBÍ EL CÓDIGO DE VERIFICACIÓN',
      '¿Puedo cambiar la cita al {day}?',
      'Vale, de acuerdo',
      'Señor, el {name} llegó dañado',
    ],
    cities: ['Madrid', 'Barcelona', 'Sevilla', 'Ciudad de México', 'Bogotá', 'Málaga'],
  },
  pt: {
    templates: [
      'Olá, meu pedido #{order} ainda não chegou',
      'Obrigado! Até amanhã às {time}',
      'Vocês entregam em {city}?',
      'Quero cancelar minha assinatura',
      'Pagamento de {amount} confirmado',
      'Ótimo, valeu! 😄',
      'ATENÇÃO: não consigo acessar minha conta',
      'Posso remarcar para {day}?',
      'Bom dia! O {name} está disponível?',
      'ok, obrigado',
    ],
    cities: ['São Paulo', 'Rio de Janeiro', 'Belo Horizonte', 'Salvador', 'Lisboa', 'Porto'],
  },
  ru: {
    templates: [
      'Здравствуйте, где мой заказ #{order}?',
      'Спасибо! Увидимся завтра в {time}',
      'Хочу отменить подписку',
      'Вы доставляете в {city}?',
      'Оплата {amount} прошла',
      'ОК, жду звонка',
      'СРОЧНО: не приходит код подтверждения',
      'Можно перенести на {day}?',
      'Добрый день! {name} ещё в наличии?',
    ],
    cities: ['Москва', 'Санкт-Петербург', 'Казань', 'Новосибирск', 'Ёкатеринбург'],
  },
  ar: {
    templates: [
      'مرحبا، أين طلبي رقم {order}؟',
      'شكرا جزيلا! أراك غدا الساعة {time}',
      'أريد إلغاء اشتراكي',
      'هل توصلون إلى {city}؟',
      'تم الدفع {amount}',
      'تمام 👍',
      'لم يصلني رمز التحقق',
      'هل يمكن تغيير الموعد إلى {day}؟',
    ],
    cities: ['دبي', 'الرياض', 'القاهرة', 'عمّان', 'Abu Dhabi'],
  },
};

interface CompiledCorpus {
  readonly templates: readonly Template[];
  readonly cities: readonly string[];
}

const compileCorpus = (corpus: Corpus): CompiledCorpus => ({ templates: corpus.templates.map(compile), cities: corpus.cities });

const CORPORA: Readonly<Record<Language, CompiledCorpus>> = {
  en: compileCorpus(RAW_CORPORA.en),
  hi: compileCorpus(RAW_CORPORA.hi),
  es: compileCorpus(RAW_CORPORA.es),
  pt: compileCorpus(RAW_CORPORA.pt),
  ru: compileCorpus(RAW_CORPORA.ru),
  ar: compileCorpus(RAW_CORPORA.ar),
};

const EMOJI_ONLY = ['👍', '🙏🙏', '😂😂😂', '❤️', '👍🏽', '🎉🎂', '🇮🇳', '👨‍👩‍👧', '🔥', '✅'];
const EMOJI_SUFFIX = [' 😊', ' 🙏', ' 👍', ' 😂', ' ❤️', '!!', ' 🤔', ' 👍🏾'];
const DAYS = ['Monday', 'Tuesday', 'Friday', '12/03', '2025-07-01', 'lunes', 'sexta', 'понедельник', 'शनिवार'];
const PRODUCTS = ['iPhone 15', 'Air Max', 'kurta', 'Galaxy S24', 'notebook', 'sofá', 'диван', 'cadeira'];
const CURRENCIES = ['₹', '$', '€', 'R$ ', '₽', 'AED '];

/** Rare words planted in a known number of texts, for the selective `q` case and its exact total. */
export interface Marker {
  /** As planted in the texts; queries should use another case to exercise case folding. */
  readonly word: string;
  /** How many messages carry it at one million rows; at least `min` at any size. */
  readonly perMillion: number;
  readonly min: number;
}

export const MARKERS: readonly Marker[] = [
  { word: 'xylozephyr', perMillion: 20, min: 5 },
  { word: 'Quetzalvox', perMillion: 50, min: 8 },
  { word: 'пеликаноид', perMillion: 10, min: 3 },
];

/** A template split once into literal text (even indexes) and slot names (odd indexes). */
type Template = readonly string[];

function compile(template: string): Template {
  return template.split(/\{(\w+)\}/);
}

function fillSlots(rng: Rng, template: Template, cities: readonly string[]): string {
  if (template.length === 1) return template[0] ?? '';
  let out = '';
  template.forEach((part, i) => {
    out += i % 2 === 0 ? part : slotValue(rng, part, cities);
  });
  return out;
}

function slotValue(rng: Rng, slot: string, cities: readonly string[]): string {
  switch (slot) {
    case 'order':
      return String(intBetween(rng, 10_000, 9_999_999));
    case 'time':
      return `${intBetween(rng, 7, 21)}:${pick(rng, ['00', '15', '30', '45'])}`;
    case 'day':
      return pick(rng, DAYS);
    case 'city':
      return pick(rng, cities);
    case 'amount':
      return `${pick(rng, CURRENCIES)}${intBetween(rng, 1, 9_999)}.${digits(rng, 2)}`;
    case 'ref':
      return `TX${digits(rng, 8)}`;
    case 'name':
      return pick(rng, PRODUCTS);
    default:
      return slot;
  }
}

// ---------------------------------------------------------------------------------------------
// Senders and receivers

interface Country {
  readonly weight: number;
  readonly languages: Weighted<Language>;
  /** A fresh E.164 number. */
  readonly number: (rng: Rng) => string;
  /** WhatsApp profile names people of this country give themselves. */
  readonly names: readonly string[];
}

const COUNTRIES: readonly Country[] = [
  {
    weight: 55,
    languages: new Weighted<Language>([
      ['hi', 0.55],
      ['en', 0.45],
    ]),
    number: (rng) => `+91${pick(rng, ['98', '99', '97', '96', '90', '70', '81', '63'])}${digits(rng, 8)}`,
    names: [
      'Asha',
      'Rahul Sharma',
      'Priya',
      'Vikram Singh',
      'Mummy ❤️',
      'Dr. Mehta',
      'Sunita Devi',
      'Arjun',
      'Neha Gupta',
      'रवि कुमार',
      'Pooja 🌸',
      'Amit K',
    ],
  },
  {
    weight: 12,
    languages: new Weighted<Language>([
      ['pt', 0.9],
      ['en', 0.1],
    ]),
    number: (rng) => `+55${pick(rng, ['11', '21', '31'])}9${digits(rng, 8)}`,
    names: ['João Conceição', 'Ana Paula', 'Lucas', 'Fernanda Lima', 'Zé', 'Mariana 💫', 'Carlos Eduardo'],
  },
  {
    weight: 8,
    languages: new Weighted<Language>([
      ['es', 0.9],
      ['en', 0.1],
    ]),
    number: (rng) => `+34${pick(rng, ['6', '7'])}${digits(rng, 8)}`,
    names: ['María José', 'Javi', 'Lucía Fernández', 'Pablo', 'Carmen 🌻', 'Álvaro Ruiz'],
  },
  {
    weight: 8,
    languages: new Weighted<Language>([
      ['ru', 0.9],
      ['en', 0.1],
    ]),
    number: (rng) => `+79${digits(rng, 9)}`,
    names: ['Алексей', 'Наталья Иванова', 'Дима', 'Olga', 'Сергей П.', 'Катя 🌷'],
  },
  {
    weight: 7,
    languages: new Weighted<Language>([
      ['ar', 0.7],
      ['en', 0.3],
    ]),
    number: (rng) => `+9715${digits(rng, 8)}`,
    names: ['محمد', 'Fatima Al Mansoori', 'أحمد علي', 'Omar', 'Layla ✨', 'Khalid'],
  },
  {
    weight: 10,
    languages: new Weighted<Language>([
      ['en', 0.85],
      ['es', 0.15],
    ]),
    number: (rng) => `+1${pick(rng, ['415', '212', '646', '305'])}${intBetween(rng, 200, 999)}${digits(rng, 4)}`,
    names: ['Mike', 'Jennifer Lee', 'Chris P.', 'Sarah 😊', 'David Kim', 'Mom', 'José García'],
  },
];

/**
 * The business numbers that receive the messages, with how often each does, for a receiver drawn
 * message by message: in plain data every message's, otherwise the messages that do not go to
 * their sender's usual number.
 */
const RECEIVERS = new Weighted<string>([
  ['+14155550100', 0.45],
  ['+919000000001', 0.3],
  ['+5511999990000', 0.15],
  ['+442071838750', 0.1],
]);

/**
 * Each sender's usual business number, drawn once per sender: most customers write to one number
 * of a business. The last is a small line few customers use, which makes a rare `to`.
 */
const USUAL_RECEIVERS = new Weighted<string>([
  ['+14155550100', 0.45],
  ['+919000000001', 0.3],
  ['+5511999990000', 0.15],
  ['+442071838750', 0.095],
  ['+61280001234', 0.005],
]);

/**
 * Share of a sender's messages that go to their usual number; the others go to a number drawn from
 * RECEIVERS. Chosen for about 10,000 conversations at 1,000,000 messages from 5,000 senders (9,859
 * with seed 1), as the benchmark's targets are set for.
 */
const USUAL_RECEIVER_SHARE = 0.96;

/** WhatsApp's `metadata.phone_number_id` of each business number. */
const PHONE_NUMBER_IDS: Readonly<Record<string, string>> = {
  '+14155550100': '106540352242922',
  '+919000000001': '112233445566778',
  '+5511999990000': '109876543210987',
  '+442071838750': '104455667788990',
  '+61280001234': '118899001122334',
};

interface Sender {
  readonly number: string;
  readonly languages: Weighted<Language>;
  readonly names: readonly string[];
}

function makeSenders(rng: Rng, count: number): Sender[] {
  const seen = new Set<string>();
  const senders: Sender[] = [];
  const countries = new Weighted(COUNTRIES.map((c): [Country, number] => [c, c.weight]));
  while (senders.length < count) {
    const country = countries.draw(rng);
    const number = country.number(rng);
    if (seen.has(number)) continue;
    seen.add(number);
    senders.push({ number, languages: country.languages, names: country.names });
  }
  return senders;
}

/** Cumulative Zipf(s) weights over ranks 1..n: a few senders send most of the messages. */
function zipfCdf(n: number, exponent: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let rank = 1; rank <= n; rank++) {
    sum += 1 / rank ** exponent;
    cdf[rank - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] = (cdf[i] ?? 0) / sum;
  return cdf;
}

// ---------------------------------------------------------------------------------------------
// Providers: the form a message came in, its WhatsApp type and the item WhatsApp sent

/** Which form messages come in: most from WhatsApp, some as core-form or Standard Webhooks bodies (no type). */
const SOURCES = new Weighted<MessageOrigin['source']>([
  ['whatsapp', 0.8],
  ['spec', 0.15],
  ['standard', 0.05],
]);

/** WhatsApp types of a message with text: its body, or the caption of captioned media. */
const TYPES_WITH_TEXT = new Weighted<string>([
  ['text', 0.91],
  ['image', 0.06],
  ['video', 0.015],
  ['document', 0.015],
]);

/** WhatsApp types of a message without text: media without a caption, and the types that carry none. */
const TYPES_WITHOUT_TEXT = new Weighted<string>([
  ['image', 0.3],
  ['audio', 0.25],
  ['sticker', 0.15],
  ['reaction', 0.1],
  ['location', 0.07],
  ['interactive', 0.06],
  ['video', 0.03],
  ['button', 0.02],
  ['contacts', 0.015],
  ['order', 0.005],
]);

/** Share of WhatsApp messages that answer a message of the business (`context`). */
const REPLY_SHARE = 0.06;
/** Share of senders whose WhatsApp profile has no name. */
const NAMELESS_SHARE = 0.03;

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64Text(rng: Rng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE64[Math.floor(rng() * 64)];
  return out;
}

/** A WhatsApp message id of the business's own messages, which replies and reactions name. */
function businessMessageId(rng: Rng): string {
  return `wamid.HBgL${base64Text(rng, 48)}AA==`;
}

function media(rng: Rng, mimeType: string, caption: string | null): Record<string, unknown> {
  return {
    ...(caption === null ? {} : { caption }),
    mime_type: mimeType,
    sha256: `${base64Text(rng, 43)}=`,
    id: `1${digits(rng, 15)}`,
  };
}

const PRODUCT_IDS = ['sku-kurta-blue-m', 'sku-airmax-42', 'sku-s24-128', 'sku-sofa-3', 'sku-notebook-a5'];

/** What WhatsApp sends under the type's own key; `text` is the body or the caption, null when the message has none. */
function typeObject(rng: Rng, type: string, text: string | null): unknown {
  switch (type) {
    case 'text':
      return { body: text ?? '' };
    case 'image':
      return media(rng, 'image/jpeg', text);
    case 'video':
      return media(rng, 'video/mp4', text);
    case 'document':
      return { filename: `invoice-${digits(rng, 6)}.pdf`, ...media(rng, 'application/pdf', text) };
    case 'sticker':
      return { ...media(rng, 'image/webp', null), animated: rng() < 0.2 };
    case 'audio':
      return { ...media(rng, 'audio/ogg; codecs=opus', null), voice: rng() < 0.9 };
    case 'reaction':
      return { message_id: businessMessageId(rng), emoji: pick(rng, ['👍', '❤️', '😂', '🙏', '😮']) };
    case 'location':
      return {
        latitude: Math.round((rng() * 120 - 50) * 1e6) / 1e6,
        longitude: Math.round((rng() * 340 - 170) * 1e6) / 1e6,
        ...(rng() < 0.4
          ? { name: pick(rng, ['Home', 'Office', 'Café Noir', 'Shop No. 4']), address: `${intBetween(rng, 1, 200)} Main Road` }
          : {}),
      };
    case 'interactive':
      return rng() < 0.6
        ? { type: 'button_reply', button_reply: { id: `btn-${digits(rng, 4)}`, title: pick(rng, ['Yes', 'No', 'Reschedule']) } }
        : {
            type: 'list_reply',
            list_reply: { id: `row-${digits(rng, 3)}`, title: pick(rng, ['Track order', 'Talk to us']), description: 'Pick one' },
          };
    case 'button':
      return { payload: pick(rng, ['CONFIRM', 'CANCEL', 'STOP']), text: pick(rng, ['Confirm', 'Cancel', 'Stop promotions']) };
    case 'contacts':
      return [
        {
          name: { formatted_name: 'Ravi Kumar', first_name: 'Ravi' },
          phones: [{ phone: `+91 98${digits(rng, 8)}`, type: 'CELL' }],
        },
      ];
    case 'order':
      return {
        catalog_id: '1234567890123456',
        product_items: [
          {
            product_retailer_id: pick(rng, PRODUCT_IDS),
            quantity: intBetween(rng, 1, 3),
            item_price: intBetween(rng, 5, 500),
            currency: 'USD',
          },
        ],
      };
    default:
      return {};
  }
}

/** The core form's body as its sender wrote it: the store keeps no copy of a body its fields rebuild. */
function coreBody(m: { messageId: string; from: string; to: string; ts: string; text: string | null }): string {
  return JSON.stringify({ message_id: m.messageId, from: m.from, to: m.to, ts: m.ts, text: m.text });
}

// ---------------------------------------------------------------------------------------------
// The generator

export interface SyntheticOptions {
  readonly count: number;
  /** Distinct senders to draw from (Zipf-skewed); some rare ones may send nothing at small counts. */
  readonly senders: number;
  readonly seed: number;
  /** The newest instant; messages spread over the year before it. */
  readonly until: Date;
  /** Messages per batch handed to the store. */
  readonly batchSize: number;
  /** Also count, per term, the texts that contain it case-insensitively (costs time; for checks). */
  readonly countTerms?: readonly string[];
  /**
   * Core-form messages only, without type or origin, each receiver drawn on its own: the data as
   * generated before types and origins were added. The ingest benchmark's bodies are made so,
   * which keeps its figures comparable across versions.
   */
  readonly plain?: boolean;
}

/** A (from, to) pair that has messages, as GET /conversations lists it. */
export interface ConversationFact {
  readonly from: string;
  readonly to: string;
  readonly messages: number;
  /** Instant key and message_id of its latest message: the pair's place in the order. */
  readonly lastTsKey: string;
  readonly lastMessageId: string;
}

/** What the benchmark needs to know about the data to build queries and check their totals. */
export interface SyntheticFacts {
  readonly count: number;
  readonly senders: readonly string[];
  /** Messages sent by senders[i]. */
  readonly senderCounts: Uint32Array;
  /** Epoch second of every message, in generation order, which is chronological (non-decreasing). */
  readonly seconds: Float64Array;
  readonly firstTs: string | null;
  readonly lastTs: string | null;
  readonly markers: readonly { readonly word: string; readonly count: number }[];
  /** For each of options.countTerms: texts containing it, case-insensitively. */
  readonly termCounts: ReadonlyMap<string, number>;
  /** Messages per receiver (`to`). */
  readonly receiverCounts: ReadonlyMap<string, number>;
  /** Messages per provider type; messages without one are not counted here. */
  readonly typeCounts: ReadonlyMap<string, number>;
  /** Messages per source (spec, standard, whatsapp); plain data has none. */
  readonly sourceCounts: ReadonlyMap<string, number>;
  /** Every conversation, in the order of GET /conversations: latest instant first, then from, then to. */
  readonly conversations: readonly ConversationFact[];
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
/** Share of messages in the same instant as the one before (bursts; ties broken by message_id). */
const SAME_INSTANT = 0.08;
const FRACTION_SHARE = 0.3;
const NULL_TEXT_SHARE = 0.04;
const EMOJI_ONLY_SHARE = 0.03;
const LONG_TEXT_SHARE = 0.015;
const FRACTION_LENGTHS = [1, 2, 3, 3, 3, 6];

function gap(rng: Rng): number {
  return rng() < SAME_INSTANT ? 0 : -Math.log(1 - rng());
}

function fold(text: string): string {
  return text.normalize('NFC').toUpperCase().toLowerCase();
}

/** Generates the messages batch by batch and records the facts about them as it goes. */
export class SyntheticMessages {
  readonly #options: SyntheticOptions;
  readonly #senders: Sender[];
  readonly #senderCounts: Uint32Array;
  readonly #seconds: Float64Array;
  readonly #markerAt = new Map<number, string>();
  readonly #markerCounts = new Map<string, number>();
  readonly #termCounts = new Map<string, number>();
  /** Each sender's usual business number and WhatsApp profile name (null: none). */
  readonly #usualReceiver: string[];
  readonly #profileName: (string | null)[];
  readonly #receiverCounts = new Map<string, number>();
  readonly #typeCounts = new Map<string, number>();
  readonly #sourceCounts = new Map<string, number>();
  readonly #conversations = new Map<string, { -readonly [K in keyof ConversationFact]: ConversationFact[K] }>();
  #firstTs: string | null = null;
  #day = Number.NaN;
  #dayText = '';
  #lastTs: string | null = null;

  constructor(options: SyntheticOptions) {
    if (!Number.isSafeInteger(options.count) || options.count < 0) throw new Error('count must be a non-negative integer');
    if (!Number.isSafeInteger(options.senders) || options.senders < 1) throw new Error('senders must be a positive integer');
    this.#options = options;
    this.#senders = makeSenders(createRng(options.seed, 0), options.senders);
    this.#senderCounts = new Uint32Array(options.senders);
    // Streams of their own (4 per sender, 3 per message), so that the senders, times, ids and texts
    // are what they were before types and origins were added.
    const perSender = createRng(options.seed, 4);
    this.#usualReceiver = this.#senders.map(() => USUAL_RECEIVERS.draw(perSender));
    this.#profileName = this.#senders.map((s) => (perSender() < NAMELESS_SHARE ? null : pick(perSender, s.names)));
    this.#seconds = new Float64Array(options.count);
    // Markers go at evenly spread positions, so their counts are exact at any size.
    MARKERS.forEach((marker, k) => {
      const wanted = Math.min(options.count, Math.max(marker.min, Math.round((options.count * marker.perMillion) / 1_000_000)));
      for (let j = 0; j < wanted; j++) {
        let index = Math.floor(((j + 0.5) * options.count) / wanted) + k;
        while (index < options.count && this.#markerAt.has(index)) index++;
        if (index >= options.count) break;
        this.#markerAt.set(index, marker.word);
      }
      this.#markerCounts.set(marker.word, 0);
    });
    for (const term of options.countTerms ?? []) this.#termCounts.set(fold(term), 0);
  }

  /** Yields the messages in batches, oldest first. Iterate once. */
  *batches(): Generator<IncomingMessage[]> {
    const { count, seed, until, batchSize } = this.#options;
    // Sorted uniform instants from exponential spacings: sum the gaps once, then replay the same
    // stream and scale, so the messages fill exactly the year before `until` in order.
    const gapsTotal = (() => {
      const rng = createRng(seed, 1);
      let total = 0;
      for (let i = 0; i <= count; i++) total += gap(rng);
      return total;
    })();
    const gapRng = createRng(seed, 1);
    const rng = createRng(seed, 2);
    const providerRng = createRng(seed, 3);
    const plain = this.#options.plain === true;
    const zipf = zipfCdf(this.#senders.length, 1.1);
    // Zipf rank -> sender: shuffled so the busiest sender is not always the first one generated.
    const byRank = Array.from({ length: this.#senders.length }, (_v, i) => i);
    for (let i = byRank.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      const a = byRank[i] ?? 0;
      byRank[i] = byRank[j] ?? 0;
      byRank[j] = a;
    }
    const start = until.getTime() - YEAR_MS;
    const scale = gapsTotal > 0 ? YEAR_MS / gapsTotal : 0;
    const idPrefix = `wamid.HBgM${seed.toString(36).toUpperCase()}`;
    let elapsed = 0;
    let batch: IncomingMessage[] = [];
    for (let i = 0; i < count; i++) {
      elapsed += gap(gapRng);
      const instantMs = start + elapsed * scale;
      const second = Math.floor(instantMs / 1000);
      this.#seconds[i] = second;
      const ts = this.#timestamp(rng, instantMs, second);
      const senderIndex = byRank[lowerBound(zipf, rng())] ?? 0;
      const sender = this.#senders[senderIndex];
      if (sender === undefined) throw new Error('sender index out of range');
      this.#senderCounts[senderIndex] = (this.#senderCounts[senderIndex] ?? 0) + 1;
      const text = this.#text(rng, sender, i);
      const tsKey = instantKey(ts);
      if (tsKey === null) throw new Error(`generated an invalid timestamp: ${ts}`);
      const messageId = `${idPrefix}${i.toString(36).toUpperCase().padStart(6, '0')}${digits(rng, 6)}`;
      // Drawn from the main stream whatever is kept, so the draws after it stay where they were.
      const anyReceiver = RECEIVERS.draw(rng);
      let message: IncomingMessage;
      if (plain) message = { messageId, from: sender.number, to: anyReceiver, ts, tsKey, text };
      else {
        const usual = providerRng() < USUAL_RECEIVER_SHARE;
        const to = usual ? (this.#usualReceiver[senderIndex] ?? anyReceiver) : anyReceiver;
        message = this.#withOrigin(providerRng, { messageId, from: sender.number, to, ts, tsKey, text }, second, senderIndex);
      }
      this.#count(message);
      batch.push(message);
      if (i === 0) this.#firstTs = ts;
      this.#lastTs = ts;
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * The message with the form it came in: a core-form or Standard Webhooks body (no type), or a
   * WhatsApp item with its type, the sender's profile name, the business line's phone_number_id
   * and, for some, the message of the business it answers. The item's timestamp is the whole
   * second; `ts` keeps the fraction it was generated with.
   */
  #withOrigin(rng: Rng, m: IncomingMessage, second: number, senderIndex: number): IncomingMessage {
    const source = SOURCES.draw(rng);
    if (source !== 'whatsapp') {
      return { ...m, origin: { source, raw: coreBody(m), contactName: null, replyTo: null, phoneNumberId: null } };
    }
    const type = m.text === null ? TYPES_WITHOUT_TEXT.draw(rng) : TYPES_WITH_TEXT.draw(rng);
    const replyTo = rng() < REPLY_SHARE ? businessMessageId(rng) : null;
    const item = {
      ...(replyTo === null ? {} : { context: { from: m.to.slice(1), id: replyTo } }),
      from: m.from.slice(1),
      id: m.messageId,
      timestamp: String(second),
      type,
      [type]: typeObject(rng, type, m.text),
    };
    const origin: MessageOrigin = {
      source,
      raw: JSON.stringify(item),
      contactName: this.#profileName[senderIndex] ?? null,
      replyTo,
      phoneNumberId: PHONE_NUMBER_IDS[m.to] ?? null,
    };
    return { ...m, type, origin };
  }

  /** Adds a message to the facts kept per receiver, type, source and conversation. */
  #count(m: IncomingMessage): void {
    this.#receiverCounts.set(m.to, (this.#receiverCounts.get(m.to) ?? 0) + 1);
    if (m.type !== undefined) this.#typeCounts.set(m.type, (this.#typeCounts.get(m.type) ?? 0) + 1);
    if (m.origin !== undefined) this.#sourceCounts.set(m.origin.source, (this.#sourceCounts.get(m.origin.source) ?? 0) + 1);
    const key = `${m.from} ${m.to}`;
    const pair = this.#conversations.get(key);
    if (pair === undefined) {
      this.#conversations.set(key, { from: m.from, to: m.to, messages: 1, lastTsKey: m.tsKey, lastMessageId: m.messageId });
      return;
    }
    pair.messages++;
    if (m.tsKey > pair.lastTsKey || (m.tsKey === pair.lastTsKey && m.messageId > pair.lastMessageId)) {
      pair.lastTsKey = m.tsKey;
      pair.lastMessageId = m.messageId;
    }
  }

  #timestamp(rng: Rng, instantMs: number, second: number): string {
    const base = this.#secondText(second);
    if (rng() >= FRACTION_SHARE) return `${base}Z`;
    // Fractions of every length, some with trailing zeros (`.5` and `.500` are the same instant).
    const micros = String(Math.floor((instantMs - second * 1000) * 1000)).padStart(6, '0');
    const length = pick(rng, FRACTION_LENGTHS);
    const zeros = rng() < 0.15 ? '00' : '';
    return `${base}.${micros.slice(0, length)}${zeros}Z`;
  }

  /** `YYYY-MM-DDTHH:MM:SS` of an epoch second; the date part is formatted once per day (seconds arrive in order). */
  #secondText(second: number): string {
    const day = Math.floor(second / 86_400);
    if (day !== this.#day) {
      this.#day = day;
      this.#dayText = new Date(day * 86_400_000).toISOString().slice(0, 11);
    }
    const inDay = second - day * 86_400;
    const hh = Math.floor(inDay / 3600);
    const mm = Math.floor((inDay % 3600) / 60);
    const ss = inDay % 60;
    return `${this.#dayText}${hh < 10 ? '0' : ''}${hh}:${mm < 10 ? '0' : ''}${mm}:${ss < 10 ? '0' : ''}${ss}`;
  }

  #text(rng: Rng, sender: Sender, index: number): string | null {
    const marker = this.#markerAt.get(index);
    let text: string | null;
    const roll = rng();
    if (marker === undefined && roll < NULL_TEXT_SHARE) text = null;
    else if (roll < NULL_TEXT_SHARE + EMOJI_ONLY_SHARE) text = pick(rng, EMOJI_ONLY);
    else {
      const language = sender.languages.draw(rng);
      const corpus = CORPORA[language];
      const sentences = rng() < LONG_TEXT_SHARE ? intBetween(rng, 5, 40) : 1;
      const parts: string[] = [];
      for (let s = 0; s < sentences; s++) parts.push(fillSlots(rng, pick(rng, corpus.templates), corpus.cities));
      text = parts.join(' ');
      if (rng() < 0.15) text += pick(rng, EMOJI_SUFFIX);
    }
    if (marker !== undefined) {
      text = `${text ?? ''} ref ${marker}`;
      this.#markerCounts.set(marker, (this.#markerCounts.get(marker) ?? 0) + 1);
    }
    if (text !== null && this.#termCounts.size > 0) {
      const folded = fold(text);
      for (const [term, n] of this.#termCounts) if (folded.includes(term)) this.#termCounts.set(term, n + 1);
    }
    return text;
  }

  /** Complete once batches() has been iterated to the end. */
  facts(): SyntheticFacts {
    return {
      count: this.#options.count,
      senders: this.#senders.map((s) => s.number),
      senderCounts: this.#senderCounts,
      seconds: this.#seconds,
      firstTs: this.#firstTs,
      lastTs: this.#lastTs,
      markers: MARKERS.map((m) => ({ word: m.word, count: this.#markerCounts.get(m.word) ?? 0 })),
      termCounts: this.#termCounts,
      receiverCounts: this.#receiverCounts,
      typeCounts: this.#typeCounts,
      sourceCounts: this.#sourceCounts,
      // Keys and numbers are ASCII, so string order is the database's byte order.
      conversations: [...this.#conversations.values()].sort(
        (a, b) =>
          (a.lastTsKey < b.lastTsKey ? 1 : a.lastTsKey > b.lastTsKey ? -1 : 0) ||
          (a.from < b.from ? -1 : a.from > b.from ? 1 : 0) ||
          (a.to < b.to ? -1 : a.to > b.to ? 1 : 0),
      ),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Loading a store

export interface SeedProgress {
  readonly done: number;
  readonly total: number;
}

export interface SeedResult {
  readonly created: number;
  readonly duplicates: number;
  readonly elapsedMs: number;
  readonly facts: SyntheticFacts;
}

/** Generates the messages and writes them through the store's bulk path, one transaction per batch. */
export async function seedStore(
  store: MessageStore,
  options: SyntheticOptions,
  onProgress?: (progress: SeedProgress) => void,
): Promise<SeedResult> {
  const synthetic = new SyntheticMessages(options);
  const started = performance.now();
  let done = 0;
  let created = 0;
  for (const batch of synthetic.batches()) {
    const outcomes: InsertOutcome[] = await store.insertMany(batch);
    for (const outcome of outcomes) if (outcome === 'created') created++;
    done += batch.length;
    onProgress?.({ done, total: options.count });
  }
  return { created, duplicates: done - created, elapsedMs: performance.now() - started, facts: synthetic.facts() };
}

/** Midnight UTC today: the default end instant, so a seed gives the same data all day. */
export function startOfUtcDay(now: Date = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}
