// /health/live and /health/ready through app.inject.

import { describe, expect, it } from 'vitest';
import { useTestApp } from './support.js';

describe('health with a secret', () => {
  const app = useTestApp();

  it('answers /health/live with 200', async () => {
    const res = await app().app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
  });

  it('answers /health/ready with 200 when the database answers and the secret is set', async () => {
    const res = await app().app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('answers /health/ready with 503 naming the database once the database is gone, live still 200', async () => {
    const t = app();
    await t.store.close();
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatch(/database/i);
    expect(res.body).not.toMatch(/WEBHOOK_SECRET is not set/);
    // The probe is open to anyone: the reason (on PostgreSQL a host and port) goes to the log only.
    expect(res.json<{ checks: { database: string } }>().checks.database).toBe(
      'failed: the database does not answer on the current schema (the log says why)',
    );
    const logged = t.logs.find((l) => l.msg === 'readiness: database check failed');
    expect(JSON.stringify(logged?.err)).toMatch(/closed|terminat|end/i);
    expect((await t.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });
});

describe('health without a secret (A.6)', () => {
  const app = useTestApp({ WEBHOOK_SECRET: '' });

  it('keeps /health/live at 200', async () => {
    expect((await app().app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });

  it('answers /health/ready with 503 and a body naming the webhook secret check', async () => {
    const t = app();
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toMatch(/webhook_secret/i);
    }
  });

  it('still serves the read API', async () => {
    const t = app();
    expect((await t.app.inject({ method: 'GET', url: '/messages' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/stats' })).statusCode).toBe(200);
  });
});
