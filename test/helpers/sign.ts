// Computes X-Signature values independently of src/, with node:crypto only.

import { createHmac } from 'node:crypto';

export function hmacHex(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}
