/**
 * The `webhooks` section: per-tenant endpoints that receive batches of events over HTTP, signed
 * per Standard Webhooks (`whsec_` secrets). Validated here: an http(s) URL, known event types, a
 * valid tenant name, a secret of at least MIN_WEBHOOK_SECRET_BYTES random bytes (its errors never
 * quote it), ids unique, and no two entries without an id for the same tenant and url (they would
 * share one derived id, so one endpoint; the operator merges them or names each). Run-time endpoints (added through the webhook store) use the same schema.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../events/index.js';
import { duration, integer, oneOf, section, text, timerDuration } from './fields.js';
import { isTenantName } from './schema-bounce.js';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Shortest key a webhook secret decodes to (Standard Webhooks: 24 to 64 bytes). */
export const MIN_WEBHOOK_SECRET_BYTES = 24;
export const MAX_WEBHOOK_SECRET_BYTES = 64;
/** Most events one request carries. */
export const MAX_WEBHOOK_BATCH_SIZE = 1000;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ENDPOINT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET_HINT = `"${WEBHOOK_SECRET_PREFIX}" and the base64 of ${MIN_WEBHOOK_SECRET_BYTES} to ${MAX_WEBHOOK_SECRET_BYTES} random bytes, e.g. whsec_$(openssl rand -base64 32)`;

/** The HMAC key of a `whsec_` secret, or undefined when it is not one. */
export function webhookSecretKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return undefined;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return undefined;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= MIN_WEBHOOK_SECRET_BYTES && key.length <= MAX_WEBHOOK_SECRET_BYTES ? key : undefined;
}

function webhookSecret() {
  return z.string({ error: `expected a secret: ${SECRET_HINT}` }).superRefine((secret, ctx) => {
    // Never quotes the value: it is a secret.
    if (!webhookSecretKey(secret))
      ctx.addIssue({ code: 'custom', message: `expected ${SECRET_HINT}`, input: undefined });
  });
}

function httpUrl() {
  const message = 'expected an http:// or https:// URL';
  return z.string({ error: message }).refine(
    (url) => {
      if (!URL.canParse(url)) return false;
      const { protocol, hostname } = new URL(url);
      return (protocol === 'http:' || protocol === 'https:') && hostname !== '';
    },
    { error: message },
  );
}

export const webhookEndpointSchema = section({
  /** A stable name for the endpoint (letters, digits, _ and -); default derived from tenant and url. */
  id: z
    .string({ error: 'expected an id of letters, digits, "_" and "-" (at most 64)' })
    .regex(ENDPOINT_ID, { error: 'expected an id of letters, digits, "_" and "-" (at most 64)' })
    .optional(),
  tenant: text('a tenant name').refine(isTenantName, { error: 'expected a tenant name' }),
  url: httpUrl(),
  events: z
    .array(oneOf(EVENT_TYPES), { error: `expected a list of event types (${EVENT_TYPES.join(', ')})` })
    .min(1, { error: 'expected at least one event type' }),
  secret: webhookSecret(),
  /** Events per request at most. */
  batch_size: integer(1, MAX_WEBHOOK_BATCH_SIZE).default(100),
  /** How long an event waits for others to share its request, at most. */
  batch_wait: timerDuration().prefault('1s'),
  /** Deadline of one request (connect, send, response headers). */
  timeout: timerDuration().prefault('10s'),
  /** A batch still failing this long after its first attempt goes to the dead-letter list. */
  retry_for: duration().prefault('24h'),
});

export const webhooksSchema = z
  .array(webhookEndpointSchema, { error: 'expected a list of webhook endpoints' })
  .superRefine((endpoints, ctx) => {
    const seen = new Set<string>();
    /** `tenant\nurl` → index of the first entry without an id for it. */
    const unnamed = new Map<string, number>();
    endpoints.forEach((endpoint, i) => {
      if (endpoint.id === undefined) {
        const pair = `${endpoint.tenant}\n${endpoint.url}`;
        const first = unnamed.get(pair);
        if (first !== undefined)
          ctx.addIssue({
            code: 'custom',
            message: `same tenant and url as webhooks[${first}], neither with an id: they would be one endpoint with both entries' events; merge them into one entry, or give each its own id`,
            path: [i, 'url'],
            input: undefined,
          });
        else unnamed.set(pair, i);
        return;
      }
      if (seen.has(endpoint.id))
        ctx.addIssue({ code: 'custom', message: 'duplicate endpoint id', path: [i, 'id'], input: undefined });
      seen.add(endpoint.id);
    });
  })
  .default([]);

export type WebhookEndpointConfig = z.output<typeof webhookEndpointSchema>;
export type WebhookEndpointInput = z.input<typeof webhookEndpointSchema>;
