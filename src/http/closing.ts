// Shutting down: finish what is in flight, refuse what is new with the contract's 503 (logged and
// counted like any answer), and ask every kept-alive client to disconnect, since an idle
// kept-alive connection would otherwise hold the close open for its timeout.

import type { FastifyInstance } from 'fastify';
import { ServiceUnavailable } from './errors.js';

export function registerClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback hooks, not async ones: they run on every request, and a promise each is measurable.
  app.addHook('onRequest', (_request, _reply, done) => {
    done(closing ? new ServiceUnavailable('shutting down; retry later') : undefined);
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}
