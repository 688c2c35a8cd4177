/**
 * Webhooks: per-tenant HTTP endpoints (config and run time) receive the event stream's events in
 * batches signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
 * at least once and in order per endpoint, from a durable outbox in Redis. One dispatcher across
 * relays (a lease) reads the stream from its cursor and commits batches with the cursor advance in
 * one MULTI; one sender loop per endpoint retries with backoff for `retry_for`, then dead-letters
 * (`herald webhook dead list|replay`). It runs on the relay's main thread and only reads the
 * stream, so a slow endpoint never slows delivery, and its loops are independent per endpoint.
 * Needs: the command connection, a way to open connections, a meter (HeraldMetrics via herald.ts).
 */
export { batchBody, endpointWants, FanOutBuffer, RETRY_DELAYS_MS, retryDelayMs } from './batching.js';
export { LEASE_TTL_MS, STOP_TIMEOUT_MS } from './dispatcher.js';
export { configEndpointId, MAX_RUNTIME_ENDPOINTS, type WebhookEndpoint } from './endpoints.js';
export { MAX_RESPONSE_BYTES, type PostResult } from './http-post.js';
export { MAX_ORPHAN_KEYS, type OrphanedOutbox } from './orphans.js';
export { type DeadReason, OUTBOX_MAX_BATCHES, type WebhookBatch } from './outbox.js';
export {
  createWebhooks,
  type DeadLetterFilter,
  MAX_DEAD_LISTED,
  type Webhooks,
  type WebhooksDeps,
} from './runtime.js';
export type { WebhookMeter } from './sender.js';
export { webhookHeaders, webhookSignature } from './signing.js';
