// Parsing of timestamps (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`) into a sortable instant key.

/**
 * The longest fraction accepted, in digits: far beyond any clock (nanoseconds are 9), and short
 * enough that an instant key always fits a database index entry (PostgreSQL's B-tree refuses
 * entries over about 2.7 kB, and one such row would fail the whole batch it was committed in).
 */
export const MAX_FRACTION_DIGITS = 64;

const TIMESTAMP = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,${MAX_FRACTION_DIGITS}}))?Z$`);

/** What a 422 says about a timestamp that is not valid, for `ts` and `since` alike. */
export const TIMESTAMP_FORMAT_MESSAGE = `Timestamp should be YYYY-MM-DDTHH:MM:SS[.fraction]Z (at most ${MAX_FRACTION_DIGITS} fraction digits) naming a real UTC instant`;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The instant a valid timestamp names, as a key whose plain byte order is chronological order:
 * `YYYY-MM-DDTHH:MM:SS` followed by `.fraction` with trailing zeros removed (no dot when the
 * fraction is zero). Every field before the fraction has a fixed width, so comparing keys as
 * strings compares instants at any precision: `…10:00:00` < `…10:00:00.05` < `…10:00:00.5`, and
 * `…00.5` and `…00.500` give the same key. Returns null when the text is not a real UTC instant
 * in that format (wrong shape, an offset other than Z, a space separator, Feb 30, 24:00, a leap
 * second, year 0000, a fraction longer than MAX_FRACTION_DIGITS).
 */
export function instantKey(text: string): string | null {
  const m = TIMESTAMP.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, fraction] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  const base = text.slice(0, 19);
  const trimmed = (fraction ?? '').replace(/0+$/, '');
  return trimmed === '' ? base : `${base}.${trimmed}`;
}
