// foldCase (the contract `q`): the stores keep foldCase(text) and search it for foldCase(q), so two
// spellings that differ only in case or normalisation must fold alike, and a substring of a text
// (in any case) must stay a substring after folding.

import { describe, expect, it } from 'vitest';
import { foldCase } from '../../src/store/store.js';

/** What the stores do for `q`: a substring test on folded text. */
function matches(text: string, q: string): boolean {
  return foldCase(text).includes(foldCase(q));
}

describe('foldCase makes case variants equal', () => {
  it.each([
    ['ASCII', 'Hello World', 'hELLO wORLD'],
    ['ASCII all caps', 'HELLO', 'hello'],
    ['Cyrillic', 'ПРИВЕТ, МИР', 'привет, мир'],
    ['Cyrillic mixed', 'Ёлка', 'ёЛКА'],
    ['Greek', 'ΑΘΗΝΑ', 'αθηνα'],
    ['Greek with final sigma', 'ΟΔΟΣ', 'οδος'],
    ['Greek final sigma against medial sigma', 'οδος', 'οδοσ'],
    ['Greek lone sigmas', 'ς', 'Σ'],
    ['Greek lone small sigmas', 'ς', 'σ'],
    ['German ß against SS', 'Straße', 'STRASSE'],
    ['German ß against ss', 'straße', 'strasse'],
    ['German capital ẞ against SS', 'STRAẞE', 'STRASSE'],
    ['long s', 'ſ', 'S'],
    ['precomposed against decomposed é', 'caf\u00e9', 'cafe\u0301'],
    ['precomposed É against decomposed é', 'CAF\u00c9', 'cafe\u0301'],
    ['Armenian', 'ԲԱՐԵՎ', 'բարեվ'],
  ])('%s: %j and %j', (_name, a, b) => {
    expect(foldCase(a)).toBe(foldCase(b));
  });
});

describe('foldCase keeps different texts different', () => {
  it.each([
    ['different letters', 'hello', 'help'],
    ['accent against none', 'café', 'cafe'],
    ['Cyrillic е against Latin e', 'е', 'e'],
    ['percent and underscore stay themselves', '%', '_'],
  ])('%s: %j and %j', (_name, a, b) => {
    expect(foldCase(a)).not.toBe(foldCase(b));
  });

  it('leaves symbols, digits and emoji alone', () => {
    expect(foldCase('50% _off_ \\ 👋 +123')).toBe('50% _off_ \\ 👋 +123');
  });
});

describe('a substring in any case still matches after folding', () => {
  it.each([
    ['ASCII', 'Hello World', 'WORLD'],
    ['Cyrillic', 'Привет, мир', 'ПРИВ'],
    ['Greek', 'Καλημέρα', 'ΚΑΛΗ'],
    ['Greek prefix ending in σ, same case as the text', 'κοσμος', 'κοσ'],
    ['Greek prefix ending in Σ', 'ΚΟΣΜΟΣ', 'κοσ'],
    ['Greek σ alone', 'ΟΔΟΣ', 'σ'],
    ['German ß in the query', 'STRASSE 5', 'straße'],
    ['German ß in the text', 'Straße 5', 'STRASSE'],
    ['decomposed query, precomposed text', 'Un café, merci', 'CAFE\u0301'],
    ['precomposed query, decomposed text', 'Un cafe\u0301, merci', 'café'],
  ])('%s: %j contains %j', (_name, text, q) => {
    expect(matches(text, q)).toBe(true);
  });

  it('a different word does not match', () => {
    expect(matches('Hello World', 'planet')).toBe(false);
  });
});
