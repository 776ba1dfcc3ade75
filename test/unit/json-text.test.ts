// boundedJsonText: JSON.stringify's text for what nests at most 64 levels, a cut copy's text for
// what nests deeper, however deep, and never a stack overflow either way.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedJsonText, CUT_MARKER, MAX_KEPT_DEPTH } from '../../src/ingest/json-text.js';

type Shape = 'array' | 'object';

/** JSON text of `depth` arrays or objects around `leaf`, written out: the deepest cannot be stringified. */
function nestedText(shape: Shape, depth: number, leaf = '"leaf"'): string {
  return shape === 'array'
    ? `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

/** A value as the webhook route gets one: from JSON.parse. */
function nested(shape: Shape, depth: number, leaf = '"leaf"'): unknown {
  return JSON.parse(nestedText(shape, depth, leaf));
}

/** How deep arrays and objects nest, measured with a queue so that no depth can overflow the stack. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const queue: [unknown, number][] = [[value, 0]];
  for (let i = 0; i < queue.length; i++) {
    const [here, depth] = queue[i] ?? [null, 0];
    if (typeof here !== 'object' || here === null) {
      deepest = Math.max(deepest, depth);
      continue;
    }
    deepest = Math.max(deepest, depth + 1);
    for (const child of Array.isArray(here) ? here : Object.values(here)) queue.push([child, depth + 1]);
  }
  return deepest;
}

describe('values nested at most 64 levels are kept whole', () => {
  it.each<[string, unknown]>([
    ['a string', 'héllo "quoted" \u0000 \ud800'],
    ['a number', -12.5e-7],
    ['true', true],
    ['null', null],
    ['an empty array', []],
    ['an empty object', {}],
    ['a Meta error list', [{ code: 131047, title: 'Re-engagement message', error_data: { details: 'More than 24 hours' } }]],
  ])('%s: byte for byte what JSON.stringify gives, not cut', (_name, value) => {
    expect(boundedJsonText(value)).toEqual({ text: JSON.stringify(value), cut: false });
  });

  it.each<[Shape, number]>([
    ['array', 0],
    ['array', 1],
    ['array', MAX_KEPT_DEPTH],
    ['object', 0],
    ['object', 1],
    ['object', MAX_KEPT_DEPTH],
  ])('%s nested %i deep', (shape, depth) => {
    expect(boundedJsonText(nested(shape, depth))).toEqual({ text: nestedText(shape, depth), cut: false });
  });

  it('an array of 100,000 items and a 4 MB string', () => {
    const wide = Array.from({ length: 100_000 }, (_, i) => ({ i }));
    expect(boundedJsonText(wide)).toEqual({ text: JSON.stringify(wide), cut: false });
    const long = 'é😀x'.repeat(600_000);
    expect(boundedJsonText({ long })).toEqual({ text: JSON.stringify({ long }), cut: false });
  });

  it('any JSON value of ordinary depth: exactly JSON.stringify', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), (value) => {
        expect(boundedJsonText(value)).toEqual({ text: JSON.stringify(value), cut: false });
      }),
    );
  });
});

describe('values nested deeper are cut at 64 levels', () => {
  it.each<[Shape, number]>([
    ['array', MAX_KEPT_DEPTH + 1],
    ['array', 5_000],
    ['array', 100_000],
    ['object', MAX_KEPT_DEPTH + 1],
    ['object', 5_000],
    ['object', 100_000],
  ])('%s nested %i deep: 64 levels kept, then the marker', (shape, depth) => {
    const { text, cut } = boundedJsonText(nested(shape, depth));
    expect(cut).toBe(true);
    expect(text).toBe(nestedText(shape, MAX_KEPT_DEPTH, JSON.stringify(CUT_MARKER)));
    // The text parses back and serialises again, even wrapped in a response a few levels deeper.
    const back: unknown = JSON.parse(text);
    expect(depthOf(back)).toBe(MAX_KEPT_DEPTH);
    expect(JSON.stringify(back)).toBe(text);
    expect(() => JSON.stringify({ data: [{ item: back }] })).not.toThrow();
  });

  it('an empty array or object at level 65 counts: it is cut too', () => {
    for (const leaf of ['[]', '{}']) {
      const { text, cut } = boundedJsonText(nested('array', MAX_KEPT_DEPTH, leaf));
      expect(cut).toBe(true);
      expect(text).toBe(nestedText('array', MAX_KEPT_DEPTH, JSON.stringify(CUT_MARKER)));
    }
  });

  it('says what it did in the marker', () => {
    expect(CUT_MARKER).toBe('[cut: nested deeper than 64 levels]');
  });

  it('cuts only the deep branch: shallow siblings, key order and odd keys stay as JSON.stringify gives them', () => {
    const deep = nestedText('object', 5_000);
    const value = JSON.parse(`{"id":"wamid.x","b":[1,{"c":null}],"2":"two","__proto__":{"p":1},"deep":${deep},"z":"é"}`);
    const { text, cut } = boundedJsonText(value);
    expect(cut).toBe(true);
    const kept = nestedText('object', MAX_KEPT_DEPTH - 1, JSON.stringify(CUT_MARKER));
    expect(text).toBe(`{"2":"two","id":"wamid.x","b":[1,{"c":null}],"__proto__":{"p":1},"deep":${kept},"z":"é"}`);
  });

  it('cuts every deep branch of a wide value, and the cut text is stable', () => {
    const branch = nestedText('array', 1_000);
    const value = JSON.parse(`[${Array(200).fill(branch).join(',')}]`);
    const first = boundedJsonText(value);
    expect(first.cut).toBe(true);
    const back: unknown = JSON.parse(first.text);
    expect(Array.isArray(back) ? back.length : 0).toBe(200);
    expect(depthOf(back)).toBe(MAX_KEPT_DEPTH);
    // The same input gives the same text: a redelivered item is recognised as already kept.
    expect(boundedJsonText(value).text).toBe(first.text);
    // And text already cut is shallow enough to be kept whole.
    expect(boundedJsonText(back)).toEqual({ text: first.text, cut: false });
  });

  it('any JSON value buried deep: parses back, re-serialises to the same text, and keeps its top intact', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.integer({ min: MAX_KEPT_DEPTH + 1, max: 20_000 }),
        fc.constantFrom<Shape>('array', 'object'),
        (top, depth, shape) => {
          const value = { top, deep: nested(shape, depth) };
          const { text, cut } = boundedJsonText(value);
          expect(cut).toBe(true);
          const back = JSON.parse(text) as { top: unknown; deep: unknown };
          expect(JSON.stringify(back)).toBe(text);
          expect(JSON.stringify(back.top)).toBe(JSON.stringify(top));
          expect(depthOf(back)).toBe(MAX_KEPT_DEPTH);
        },
      ),
      { numRuns: 50 },
    );
  });
});
