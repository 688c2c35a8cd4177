/**
 * One endpoint's sender loop: POSTs the head batch of its outbox, one request in flight, so the
 * endpoint sees batches in the order they were made (in order per message). 2xx: the batch is
 * removed. Any other outcome — timeout, connection error or reset, and every non-2xx status,
 * 4xx included (as Svix does: a 401 from a rotated secret or a 404 during a deploy heals) — is
 * retried on RETRY_DELAYS_MS with jitter, the attempt count and next time kept in the batch's
 * record in Redis; once `retry_for` has passed since the batch's first attempt (a last attempt is
 * made at that moment), it goes to the endpoint's dead-letter list. Redis trouble pauses the loop;
 * it never ends it. Each endpoint has its own loop, so a slow one delays no other.
 */
import type { Logger } from 'pino';
import type { WebhookEndpoint } from './endpoints.js';
import { postBatch } from './http-post.js';
import type { DeadReason, Outbox, WebhookBatch } from './outbox.js';
import { webhookHeaders } from './signing.js';
import { pause, type Wakeup } from './wait.js';

/** An empty outbox is looked at again this often (batches replayed from another process). */
export const IDLE_POLL_MS = 1_000;
/** After a Redis error the loop waits this long. */
const ERROR_PAUSE_MS = 1_000;

/** What the dispatcher counts (HeraldMetrics implements it in herald.ts). */
export interface WebhookMeter {
  request(result: string): void;
  deadLettered(reason: DeadReason): void;
  gap(): void;
}

export interface SenderDeps {
  outbox: Outbox;
  meter: WebhookMeter;
  logger: Logger;
  retryDelayMs(attempt: number): number;
  now(): number;
}

export async function runSender(
  endpoint: () => WebhookEndpoint,
  deps: SenderDeps,
  wakeup: Wakeup,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const current = endpoint();
      const batch = await deps.outbox.head(current.id);
      if (!batch) {
        await wakeup.wait(IDLE_POLL_MS, signal);
        continue;
      }
      const wait = (batch.nextAttemptAt ?? 0) - deps.now();
      if (wait > 0) {
        await pause(Math.min(wait, IDLE_POLL_MS), signal);
        continue;
      }
      await attempt(current, batch, deps, signal);
    } catch (err) {
      deps.logger.error({ err, endpoint: endpoint().id }, 'webhook sender: Redis error');
      await pause(ERROR_PAUSE_MS, signal);
    }
  }
}

async function attempt(
  endpoint: WebhookEndpoint,
  batch: WebhookBatch,
  deps: SenderDeps,
  signal: AbortSignal,
) {
  const startedAt = deps.now();
  const headers = webhookHeaders(endpoint.secret, batch.id, startedAt, batch.body);
  const outcome = await postBatch(endpoint.url, headers, batch.body, endpoint.timeoutMs, signal);
  if (signal.aborted && outcome.result !== 'success') return; // stopping: the next holder retries it
  deps.meter.request(outcome.result);
  if (outcome.result === 'success') {
    await deps.outbox.ack(batch);
    return;
  }
  const attempts = batch.attempts + 1;
  const firstAttemptAt = batch.firstAttemptAt ?? startedAt;
  const now = deps.now();
  const error = outcome.error ?? outcome.result;
  const log = { endpoint: endpoint.id, batch: batch.id, attempts, error };
  if (now - firstAttemptAt >= endpoint.retryForMs) {
    await deps.outbox.deadLetter(batch, now, {
      attempts,
      firstAttemptAt,
      lastAttemptAt: startedAt,
      lastError: error,
    });
    deps.meter.deadLettered('retry_expired');
    deps.logger.error(log, 'webhook batch dead-lettered: failing for longer than retry_for');
    return;
  }
  const nextAttemptAt = Math.min(now + deps.retryDelayMs(attempts), firstAttemptAt + endpoint.retryForMs);
  await deps.outbox.recordFailure(batch, {
    attempts,
    firstAttemptAt,
    lastAttemptAt: startedAt,
    nextAttemptAt,
    error,
  });
  deps.logger.warn({ ...log, nextAttemptAt }, 'webhook request failed; will retry');
}
