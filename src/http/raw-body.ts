// Request bodies as raw bytes, read under three bounds: the size of one body (MAX_BODY_BYTES), the
// bytes held for every body still arriving (MAX_INFLIGHT_BODY_BYTES), and the time a client may
// take to send its request (REQUEST_TIMEOUT_MS).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodiesInFlightFull, PayloadTooLarge, RequestTimeout, ServiceUnavailable } from './errors.js';

/**
 * Bodies up to this size count as small: they may use the quarter of MAX_INFLIGHT_BODY_BYTES that
 * larger ones cannot. Provider webhooks are a few kilobytes.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

export interface RawBodyOptions {
  readonly maxBodyBytes: number;
  readonly maxInflightBodyBytes: number;
  readonly requestTimeoutMs: number;
}

/** The requests whose bodies are still arriving, so that a shutdown can cut them off. */
export interface BodiesInFlight {
  /** Bytes reserved for bodies being received now. */
  readonly bytes: () => number;
  /** Ends every body still arriving with 503 (the server is shutting down); answers how many. */
  readonly cutOff: () => number;
}

/**
 * Every body stays raw bytes whatever its Content-Type (or none): /webhook verifies its signature
 * over exactly what was sent, before anything is parsed.
 *
 * Fastify's own reader keeps each body whole in memory for as long as its client takes to send
 * it, with no time limit: 200 clients that each sent all but the last byte of a 4 MiB body and
 * then paused held 885 MB. Here a body first reserves its declared length (or, when chunked, each
 * chunk as it comes) from one budget shared by all requests, of which bodies over 64 KiB may take
 * three quarters; a request the budget cannot hold is refused at once with 503 and Retry-After,
 * before any of it is kept. A body that has not arrived within the request timeout is answered
 * 408. Either way the connection is closed after the answer (see errors.ts), so the rest of the
 * body is never read.
 */
export function registerRawBody(app: FastifyInstance, options: RawBodyOptions): BodiesInFlight {
  let reservedBytes = 0;
  // Large bodies may fill only part of the budget; the rest stays for small ones, so a few slow
  // clients that each declare the largest body allowed cannot shut out every ordinary webhook
  // (which is a few kilobytes) until they time out. With one largest body the whole budget,
  // nothing can be kept back.
  const largeLimit = Math.max(options.maxBodyBytes, options.maxInflightBodyBytes - options.maxInflightBodyBytes / 4);
  const limitFor = (bodyBytes: number): number => (bodyBytes <= SMALL_BODY_BYTES ? options.maxInflightBodyBytes : largeLimit);
  const receiving = new Map<FastifyRequest, (error: Error) => void>();

  // Fastify refuses a Content-Type it cannot parse (415) before any body parser runs, and so
  // before the signature check. Every body here is raw bytes whatever its type, so the header is
  // replaced by one that reaches the raw parser: a webhook is judged on its signature.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.headers['content-type'] !== undefined) request.headers['content-type'] = 'application/octet-stream';
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let reserved = 0;
    let settled = false;

    /** `bodyBytes`: how large this body is (declared) or has grown so far (chunked). */
    const reserve = (bytes: number, bodyBytes: number): boolean => {
      if (reservedBytes + bytes > limitFor(bodyBytes)) return false;
      reservedBytes += bytes;
      reserved += bytes;
      return true;
    };
    const settle = (error: Error | null, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      receiving.delete(request);
      reservedBytes -= reserved;
      reserved = 0;
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      payload.off('close', onClose);
      // Whatever else arrives is dropped unread: the answer closes the connection.
      if (error === null) {
        done(null, body);
        return;
      }
      payload.resume();
      done(error, undefined);
    };

    // Node has already checked that Content-Length, when present, is one decimal number.
    const header = request.headers['content-length'];
    const declared = header === undefined ? null : Number(header);
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > options.maxBodyBytes) settle(new PayloadTooLarge());
      // A body of unknown length (chunked) reserves as it arrives; a declared one did so upfront.
      else if (declared === null && !reserve(chunk.length, received)) settle(new BodiesInFlightFull());
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle(null, Buffer.concat(chunks, received));
    const onError = (error: Error): void => settle(error);
    // The client went away before the end: nobody is left to answer, only the reservation to free.
    const onClose = (): void => settle(new Error('the client closed the connection before the body arrived'));

    // The request timeout counts from when the request's headers were read, which is now.
    const timer = setTimeout(() => settle(new RequestTimeout()), options.requestTimeoutMs);
    timer.unref();
    receiving.set(request, (error) => settle(error));

    if (declared !== null && declared > options.maxBodyBytes) return settle(new PayloadTooLarge());
    if (declared !== null && !reserve(declared, declared)) return settle(new BodiesInFlightFull());
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.on('close', onClose);
  });

  return {
    bytes: () => reservedBytes,
    cutOff: () => {
      const pending = [...receiving.values()];
      for (const end of pending) end(new ServiceUnavailable('shutting down; retry later'));
      return pending.length;
    },
  };
}
