// Which requests load shedding refuses at a given event-loop delay: reads before webhooks.

import { describe, expect, it } from 'vitest';
import { shouldShed } from '../../src/http/load-shedding.js';

describe('shouldShed (MAX_EVENT_LOOP_DELAY_MS=1000)', () => {
  it.each([
    [0, false, false],
    [499, false, false],
    [500, false, false],
    [501, true, false],
    [1000, true, false],
    [1001, true, true],
    [Number.POSITIVE_INFINITY, true, true],
  ])('at a mean delay of %s ms: reads shed %s, webhooks shed %s', (delay, read, webhook) => {
    expect(shouldShed(false, delay, 1000)).toBe(read);
    expect(shouldShed(true, delay, 1000)).toBe(webhook);
  });
});
