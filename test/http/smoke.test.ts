import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => {
    await t.close();
  });
  it('stores and lists', async () => {
    const res = await t.postSigned({ message_id: 'm1', from: '+1', to: '+2', ts: '2025-01-15T10:00:00Z' });
    expect(res.statusCode).toBe(200);
    const list = await t.app.inject({ url: '/messages' });
    expect(list.json().total).toBe(1);
  });
});
