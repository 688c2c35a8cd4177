/**
 * The webhooks slot, `{webhooks}`: the webhook dispatcher's stream cursor, its lease, the
 * run-time endpoints and every endpoint's outbox, dead-letter list and batch records share this
 * one hash tag, so the fan-out's MULTI (batches into outboxes + the cursor advance) and the
 * moves between outbox and dead-letter list stay in one slot on Redis Cluster. Pure key math.
 */
import { streamCursorKey } from './consumers.js';

/** The webhooks slot's hash tag (ARCHITECTURE "Redis key layout"). */
export const WEBHOOKS_TAG = '{webhooks}';
/** The dispatcher's consumer name for `streamCursor`: its cursor key carries the slot's tag. */
export const WEBHOOKS_CONSUMER = WEBHOOKS_TAG;

export interface WebhookKeys {
  /** The dispatcher's position in the event stream (`streamCursor`, string). */
  cursor: string;
  /** Which relay runs the dispatcher (string: a token, with a TTL; SET NX PX). */
  lease: string;
  /** Endpoints added at run time (hash: endpoint id → JSON). */
  endpoints: string;
  /** An endpoint's batches waiting to be sent, oldest first (list of batch ids). */
  outbox(endpointId: string): string;
  /** An endpoint's batches given up on, oldest first (list of batch ids). */
  dead(endpointId: string): string;
  /** One batch: body, endpoint, attempts, times, last error (hash). */
  batch(batchId: string): string;
  /** SCAN MATCH patterns of every endpoint's outbox and dead-letter list (the prefix escaped). */
  outboxPattern: string;
  deadPattern: string;
  /** The endpoint id an `outbox(id)` or `dead(id)` key names, else undefined. */
  endpointOf(key: string): string | undefined;
}

/** `text` with the SCAN glob's special characters escaped. */
const globEscaped = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

export function webhookKeys(prefix: string): WebhookKeys {
  const base = `${prefix}:webhook:${WEBHOOKS_TAG}`;
  return {
    cursor: streamCursorKey(prefix, WEBHOOKS_CONSUMER),
    lease: `${base}:lease`,
    endpoints: `${base}:endpoints`,
    outbox: (id) => `${base}:outbox:${id}`,
    dead: (id) => `${base}:dead:${id}`,
    batch: (id) => `${base}:batch:${id}`,
    outboxPattern: `${globEscaped(base)}:outbox:*`,
    deadPattern: `${globEscaped(base)}:dead:*`,
    endpointOf(key) {
      for (const kind of [':outbox:', ':dead:'])
        if (key.startsWith(`${base}${kind}`)) return key.slice(base.length + kind.length);
      return undefined;
    },
  };
}
