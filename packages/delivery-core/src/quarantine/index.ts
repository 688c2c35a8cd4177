/**
 * Quarantine: messages accepted but held instead of queued (the content scan's `quarantine`
 * action, a flagged account's mail: behaviour/), kept durably in Redis with reason, score and envelope (store.ts) until an operator
 * releases or deletes them, or `quarantine.retention` passes. Guarantees: a held message leaves
 * quarantine once — released (queued through the injected `enqueue`, as if just accepted, its
 * record deleted in that transaction, then a `released` event; an enqueue that failed is settled
 * by whether the record is gone — queued after all — or the message is put back, still held) or deleted (each recipient `bounced` with `operator: 'delete'` and a 550 5.7.1
 * reply naming why, notify.ts) — so each of its accepted recipients still ends exactly once. A
 * delete tells the sender per `quarantine.notify_sender` (one failure DSN through the injected
 * `notify`, when the tenant wants DSNs; best effort: a failed DSN is logged, the delete stands).
 * The retention sweep runs on one relay per `sweep_interval` (a lease). Needs injected: the
 * command connection, the config's prefix and quarantine section, the event sink, the enqueue of
 * a released message, and the DSN parts (absent: no DSN is ever sent).
 */
import { randomUUID } from 'node:crypto';
import type { HeraldConfig } from '../config/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { EventSink, QuarantineEvent } from '../events/index.js';
import type { DurabilityBarrier, ReleasedFrom, ShardLayout } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { type DeleteCause, deletionDsn, deletionReply, notifiesOn } from './notify.js';
import { type HeldMessage, type HeldSummary, QuarantineStore } from './store.js';

export { CLAIM_LUA, STALE_CLAIM_MS } from './claims.js';
export {
  type DeleteCause,
  deletionDsn,
  deletionReply,
  notifiesOn,
  type QuarantineNotify,
  retentionText,
} from './notify.js';
export { type HeldMessage, type HeldSummary, QuarantineStore, SETTLE_WINDOW_MS } from './store.js';

/** Most held messages one listing answers. */
export const MAX_QUARANTINE_LIST = 1000;
export const DEFAULT_QUARANTINE_LIST = 100;
/** Most messages one sweep round deletes before it looks again. */
const SWEEP_BATCH = 500;
/** Most held messages one bulk release by account looks at. */
export const MAX_BULK_RELEASE_SCAN = 10_000;
/** Bytes of a held message's header block `show` answers. */
export const MAX_SHOWN_HEADER_BYTES = 16 * 1024;

export interface QuarantinedView extends HeldSummary {
  /** The header block (at most MAX_SHOWN_HEADER_BYTES), for review. */
  headers: string;
}

export interface QuarantineParts {
  redis: RedisClient;
  config: Pick<HeraldConfig, 'redis' | 'quarantine'>;
  /** The queue's shards: a held message is stored in its shard's slot. Absent: one shard. */
  shards?: { readonly layout: ShardLayout };
  /** Strict durability's barrier: a hold resolves only after it (queue/durability.ts). Absent: fast. */
  barrier?: Pick<DurabilityBarrier, 'afterCommit'>;
  events: EventSink;
  /**
   * Queues a released message as if just accepted (intake's enqueue without a second accepted
   * event), deleting the record and ending the claim (`release`) in the same transaction.
   */
  enqueue(message: HeldMessage, release: ReleasedFrom): Promise<void>;
  /** The DSN to the sender of a deleted message (quarantine.notify_sender); absent: none sent. */
  notify?: QuarantineNotifyParts;
  now?(): number;
}

export interface QuarantineNotifyParts {
  /** Our host name: the DSN's Reporting-MTA and sender domain. */
  hostname: string;
  /** Whether the tenant wants DSNs (tenants.<name>.dsn, the config in force). */
  wantsDsn(tenant: string): boolean;
  newId(): string;
  /** Spools the DSN from the null sender to `to`, accounted to `tenant`. */
  enqueueDsn(dsn: { id: string; tenant: string; to: string; body: Buffer }): Promise<void>;
  /** Where a DSN that could not be spooled is reported. */
  onError(err: unknown, messageId: string): void;
}

export interface Quarantine {
  readonly store: QuarantineStore;
  list(opts?: { tenant?: string | undefined; offset?: number; limit?: number }): Promise<{
    total: number;
    messages: HeldSummary[];
  }>;
  show(id: string): Promise<QuarantinedView | undefined>;
  /** The held message whole (its body too), e.g. `herald quarantine show --raw`. */
  read(id: string): Promise<HeldMessage | undefined>;
  /** Queues a held message; undefined when it is not held (unknown, or already released/deleted). */
  release(id: string, by?: string): Promise<HeldSummary | undefined>;
  /**
   * Deletes a held message, each recipient ending `bounced` (operator delete), the sender told per
   * `notify_sender`; `cause` defaults to `operator`. Undefined when not held.
   */
  remove(id: string, cause?: DeleteCause): Promise<HeldSummary | undefined>;
  /**
   * Releases every message held for a flagged account (reason `behaviour:<rule>`, its `account`),
   * oldest first, looking at most MAX_BULK_RELEASE_SCAN held messages; the ids released.
   */
  releaseAccount(account: string, by?: string): Promise<string[]>;
  /** Deletes every message held longer than the retention; how many. */
  sweep(): Promise<number>;
  /** Runs the sweep every `quarantine.sweep_interval` on the relay that takes the lease. */
  startSweeper(): void;
  stopSweeper(): void;
}

export function createQuarantine(parts: QuarantineParts): Quarantine {
  const store = new QuarantineStore(parts.redis, parts.config.redis.prefix, parts.shards, parts.barrier);
  const now = parts.now ?? Date.now;
  const { retention, sweep_interval: intervalMs, notify_sender: notifySender } = parts.config.quarantine;
  const token = randomUUID();
  let timer: NodeJS.Timeout | undefined;

  const event = (message: HeldMessage, type: QuarantineEvent['type'], by?: string): QuarantineEvent => ({
    type,
    time: now(),
    messageId: message.id,
    tenant: message.tenant,
    reason: message.reason,
    ...(message.score !== undefined ? { score: message.score } : {}),
    recipients: message.recipients,
    ...(by ? { by } : {}),
  });
  const summary = ({ body, ...rest }: HeldMessage): HeldSummary => ({ ...rest, size: body.length });

  /** The failure DSN to the sender, when the policy, the tenant and NOTIFY want one. */
  const tellSender = async (message: HeldMessage, cause: DeleteCause, reply: SmtpReply, time: number) => {
    const notify = parts.notify;
    if (!notify || !notifiesOn(notifySender, cause) || !notify.wantsDsn(message.tenant)) return;
    try {
      const dsnId = notify.newId();
      const body = deletionDsn({ message, reply, hostname: notify.hostname, id: dsnId, now: time });
      if (body) await notify.enqueueDsn({ id: dsnId, tenant: message.tenant, to: message.from, body });
    } catch (err) {
      notify.onError(err, message.id);
    }
  };

  const remove = async (id: string, cause: DeleteCause): Promise<HeldSummary | undefined> => {
    const message = await store.claim(id, now());
    if (!message) return undefined;
    try {
      // From here a claim left behind is dropped, not held again: its events may be out.
      await store.markDeleting(id);
    } catch (err) {
      await store.unclaim(message);
      throw err;
    }
    const time = now();
    const reply = deletionReply(cause, retention);
    for (const recipient of message.recipients)
      parts.events.emit({
        type: 'bounced',
        time,
        messageId: message.id,
        tenant: message.tenant,
        domain: recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase(),
        recipient,
        attempt: 0,
        reply,
        latencyMs: time - message.heldAt,
        operator: 'delete',
        ...(message.stream ? { stream: message.stream } : {}),
        ...(message.campaign ? { campaign: message.campaign } : {}),
      });
    await parts.events.flush();
    await tellSender(message, cause, reply, time);
    await store.drop(id);
    return summary(message);
  };

  const sweep = async (): Promise<number> => {
    // Claims a dead process or a long outage left behind: held again (or dropped, if deleting).
    await store.recoverClaims(now());
    let removed = 0;
    for (;;) {
      const due = await store.ids({ heldBefore: now() - retention, limit: SWEEP_BATCH });
      for (const { id } of due) if (await remove(id, 'expiry')) removed++;
      if (due.length < SWEEP_BATCH) return removed;
    }
  };

  const release = async (id: string, by = 'operator'): Promise<HeldSummary | undefined> => {
    const message = await store.claim(id, now());
    if (!message) return undefined;
    try {
      // Its transaction deletes the record: queued exactly when no longer held.
      await parts.enqueue(message, store.releasedFrom(id));
    } catch (err) {
      // The reply may be what failed: queued after all, or back in the indexes (still held).
      if ((await store.settleFailedRelease(message)) === 'held') throw err;
    }
    parts.events.emit(event(message, 'released', by));
    return summary(message);
  };

  return {
    store,
    async list(opts = {}) {
      const limit = Math.min(opts.limit ?? DEFAULT_QUARANTINE_LIST, MAX_QUARANTINE_LIST);
      const [total, ids] = await Promise.all([
        store.count(opts.tenant),
        store.ids({ tenant: opts.tenant, offset: opts.offset ?? 0, limit }),
      ]);
      const messages = (await Promise.all(ids.map(({ id }) => store.summary(id)))).filter(
        (m): m is HeldSummary => m !== undefined,
      );
      return { total, messages };
    },
    async show(id) {
      const message = await store.read(id);
      if (!message) return undefined;
      return { ...summary(message), headers: headerBlock(message.body) };
    },
    read: (id) => store.read(id),
    release,
    async releaseAccount(account, by = 'operator') {
      const name = account.toLowerCase();
      const released: string[] = [];
      let offset = 0;
      for (let seen = 0; seen < MAX_BULK_RELEASE_SCAN; seen += SWEEP_BATCH) {
        const page = await store.ids({ offset, limit: SWEEP_BATCH });
        let kept = 0;
        for (const { id } of page) {
          const held = await store.summary(id);
          if (held?.account === name && held.reason.startsWith('behaviour:') && (await release(id, by)))
            released.push(id);
          else kept++;
        }
        if (page.length < SWEEP_BATCH) break;
        offset += kept;
      }
      return released;
    },
    remove: (id, cause = 'operator') => remove(id, cause),
    sweep,
    startSweeper() {
      if (timer) return;
      timer = setInterval(() => {
        store
          .takeSweepLease(intervalMs, token)
          .then((ours) => (ours ? sweep() : 0))
          .catch(() => undefined);
      }, intervalMs);
      timer.unref();
    },
    stopSweeper() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** The header block of a message (up to the first empty line), at most MAX_SHOWN_HEADER_BYTES. */
export function headerBlock(body: Buffer): string {
  const end = body.indexOf('\r\n\r\n');
  const cut = end === -1 ? body.length : end;
  return body.subarray(0, Math.min(cut, MAX_SHOWN_HEADER_BYTES)).toString('utf8');
}
