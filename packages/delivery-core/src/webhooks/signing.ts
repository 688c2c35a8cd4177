/**
 * Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`
 * keyed with the base64-decoded part of the `whsec_` secret, beside `webhook-id` (the batch's id,
 * the same on every retry) and `webhook-timestamp` (epoch seconds of this attempt). Pure.
 */
import { createHmac } from 'node:crypto';
import { webhookSecretKey } from '../config/index.js';

/** `v1,<base64 signature>` of one request. Throws on a secret that is not `whsec_` + base64. */
export function webhookSignature(secret: string, id: string, timestampS: number, body: string): string {
  const key = webhookSecretKey(secret);
  if (!key) throw new RangeError('not a whsec_ webhook secret');
  const mac = createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The headers of one attempt at sending `body` as batch `id` at `nowMs`. */
export function webhookHeaders(
  secret: string,
  id: string,
  nowMs: number,
  body: string,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignature(secret, id, timestamp, body),
  };
}
