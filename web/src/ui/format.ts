// How times and numbers read on screen: in the viewer's own time zone and language.

import { LANGUAGE } from '../language';

const language = LANGUAGE;
const dateTime = new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(language, { timeStyle: 'short' });
const dayLong = new Intl.DateTimeFormat(language, { dateStyle: 'full' });
const number = new Intl.NumberFormat(language);

/**
 * The instant of a `ts` as the API writes it. Date.parse reads at most milliseconds; a `ts` may
 * carry more fraction digits (up to 64), which are cut here first.
 */
export function instant(ts: string): number {
  const cut = ts.replace(/(\.\d{3})\d+/, '$1');
  return Date.parse(cut);
}

function format(ts: string | null | undefined, formatter: Intl.DateTimeFormat): string {
  if (ts === null || ts === undefined) return '';
  const ms = instant(ts);
  return Number.isNaN(ms) ? ts : formatter.format(ms);
}

export const formatDateTime = (ts: string | null | undefined): string => format(ts, dateTime);
export const formatTime = (ts: string | null | undefined): string => format(ts, timeOnly);
export const formatDay = (ts: string | null | undefined): string => format(ts, dayLong);
export const formatNumber = (n: number): string => number.format(n);

/** The local calendar day of a `ts`, as a key for day separators. */
export function dayKey(ts: string): string {
  const ms = instant(ts);
  if (Number.isNaN(ms)) return ts;
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}
