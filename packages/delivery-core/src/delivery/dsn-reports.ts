/**
 * One DSN per message and report kind, however many destination domains (jobs) the message has:
 * a 550 from 30 domains is one "Undelivered Mail" report listing 30 recipients, as Postfix's
 * bounce service sends it. The per-message collector is a hash in the message's shard
 * (`QueueKeys.dsnReports`): each recipient's report line is recorded when its outcome is settled,
 * before its job ends (`record`); the finish script of the message's last job keeps the body and
 * puts the message in the shard's due zset (`QueueKeys.dsnDue`, queue/spool.ts, queue/leases.ts);
 * the party that finished it then spools one failure report and one success report (`relayed`),
 * separately as Postfix does (bounce and trace), each once (`sent:<kind>` marks it), then deletes
 * collector and body (`flush`). A message whose other jobs still wait (a domain deferring for
 * days) does not hold its failures back that long: `record` also puts the message in the due zset
 * (NX, at the first line's time), so after REPORT_SWEEP_GRACE_MS the sweep sends what was
 * collected so far (a partial flush: the lines sent are taken out of the collector, body and
 * collector stay for the jobs left) — lines settled within one window share a report, as
 * Postfix's bounce notice covers the recipients that failed in one queue-manager pass. An
 * operator's bounce is flushed at once. A crash after the record loses nothing: the job runs
 * again, or its message is in the due zset and `sweep` (every relay, every shard, due entries
 * older than REPORT_SWEEP_GRACE_MS, claimed in Lua on the server clock) flushes it; a crash
 * between a report's spooling and its mark may send that report twice, never none.
 * Delay notices cannot wait for the end: the first job of a message to find recipients past the
 * delay warning sends one report for the pass, listing its own deferred recipients and those of
 * the message's other jobs that were already deferred (`delayed`); each address is claimed once
 * per message (`delay:<address>`, HSETNX), so a later job's pass lists only recipients not warned.
 * Needs injected: a command connection, the spool (keys, body), the DSN enqueue, ids and a clock.
 */
import type { Logger } from 'pino';
import { composeDsn, type DsnRecipient } from '../dsn/index.js';
import type { DeliveryJobData, Spool } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';

/** The reports collected until the message ends, in the order they are sent. */
export const COLLECTED_KINDS = ['failure', 'success'] as const;
export type CollectedKind = (typeof COLLECTED_KINDS)[number];

/** A due message older than this (server clock) is flushed by the sweep: its finisher crashed. */
export const REPORT_SWEEP_GRACE_MS = 60_000;
/** How often each relay sweeps its due zsets. */
export const REPORT_SWEEP_INTERVAL_MS = 30_000;
/** Due messages one sweep takes per shard at most. */
export const REPORT_SWEEP_BATCH = 100;

/** The report's envelope, recorded with the first line (the job data has it; the body's size reads it). */
interface ReportMeta {
  tenant: string;
  from: string;
  acceptedAt: number;
  size: number;
  ret?: DeliveryJobData['ret'];
  envid?: string;
}

/**
 * KEYS[1] reports-due zset. ARGV[1] message id, ARGV[2] grace (ms). Claims a due message for a
 * sweep: when its score is at least ARGV[2] old on the server's clock, moves it to now (another
 * sweep waits a grace again) and returns 1; else 0.
 */
const CLAIM_DUE_LUA = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) > now - tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 1`;

export interface DsnReportsDeps {
  redis: RedisClient;
  spool: Pick<Spool, 'keysFor' | 'shardKeys' | 'allShards' | 'getBody'>;
  /** Our host name: Reporting-MTA and the report's sender domain. */
  hostname: string;
  /** Spools a DSN from the null sender to `to`, accounted to `tenant`. */
  enqueueDsn(dsn: { id: string; tenant: string; to: string; body: Buffer }): Promise<void>;
  newId(): string;
  now(): number;
}

function metaOf(data: DeliveryJobData): ReportMeta {
  return {
    tenant: data.tenant,
    from: data.from,
    acceptedAt: data.acceptedAt,
    size: data.size,
    ...(data.ret ? { ret: data.ret } : {}),
    ...(data.envid ? { envid: data.envid } : {}),
  };
}

export class DsnReports {
  constructor(private readonly deps: DsnReportsDeps) {
    deps.redis.defineCommand('heraldClaimDueReport', { numberOfKeys: 1, lua: CLAIM_DUE_LUA });
  }

  /** Records report lines of `kind` for the message's end (idempotent per address: a repeat overwrites). */
  async record(data: DeliveryJobData, kind: CollectedKind, lines: readonly DsnRecipient[]): Promise<void> {
    if (lines.length === 0) return;
    const key = this.deps.spool.keysFor(data.messageId).dsnReports(data.messageId);
    const fields: string[] = ['meta', JSON.stringify(metaOf(data))];
    for (const line of lines) fields.push(`${kind}:${line.address.toLowerCase()}`, JSON.stringify(line));
    // Due by the sweep one grace after the first line even while other jobs wait (a partial flush).
    const due = this.deps.spool.keysFor(data.messageId).dsnDue;
    await this.deps.redis
      .multi()
      .hset(key, ...fields)
      .zadd(due, 'NX', String(this.deps.now()), data.messageId)
      .exec();
  }

  /**
   * One delay notice for this pass: `own` (this job's recipients past the warning) and `others`
   * (the message's other jobs' deferred recipients), less every address already warned; sent now.
   * Returns the addresses it reported.
   */
  async sendDelayed(
    data: DeliveryJobData,
    own: readonly DsnRecipient[],
    others: readonly DsnRecipient[] = [],
  ): Promise<string[]> {
    const lines = [...own, ...others.filter((o) => !own.some((r) => sameAddress(r, o)))];
    if (lines.length === 0) return [];
    const key = this.deps.spool.keysFor(data.messageId).dsnReports(data.messageId);
    const multi = this.deps.redis.multi().hset(key, 'meta', JSON.stringify(metaOf(data)));
    for (const line of lines)
      multi.hsetnx(key, `delay:${line.address.toLowerCase()}`, String(this.deps.now()));
    const results = (await multi.exec()) ?? [];
    const fresh = lines.filter((_, i) => results[i + 1]?.[1] === 1);
    if (fresh.length === 0) return [];
    const original = (await this.deps.spool.getBody(data.messageId, data.size)) ?? undefined;
    await this.send(data.messageId, metaOf(data), fresh, original);
    return fresh.map((r) => r.address);
  }

  /**
   * Spools the message's collected reports not sent yet, then deletes its collector and body and
   * takes it off the due zset. While jobs of the message are still pending (a partial flush: the
   * sweep, an operator's bounce), the lines sent are taken out of the collector instead and body
   * and collector stay. Safe to repeat. Returns how many reports it spooled.
   */
  async flush(messageId: string): Promise<number> {
    const { redis, spool } = this.deps;
    const keys = spool.keysFor(messageId);
    const key = keys.dsnReports(messageId);
    const all = await redis.hgetall(key);
    if ((await redis.exists(keys.pendingJobs(messageId))) === 1) return this.flushSoFar(messageId, all);
    let sent = 0;
    if (all.meta) {
      const meta = JSON.parse(all.meta) as ReportMeta;
      let original: Buffer | undefined | null;
      for (const kind of COLLECTED_KINDS) {
        if (all[`sent:${kind}`]) continue;
        const lines = Object.entries(all)
          .filter(([field]) => field.startsWith(`${kind}:`))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([, value]) => JSON.parse(value) as DsnRecipient);
        if (lines.length === 0) continue;
        original ??= await spool.getBody(messageId, meta.size);
        await this.send(messageId, meta, lines, original ?? undefined);
        await redis.hset(key, `sent:${kind}`, '1');
        sent += 1;
      }
    }
    await redis.del(key, keys.body(messageId));
    await redis.zrem(keys.dsnDue, messageId);
    return sent;
  }

  /** The partial flush of a message with jobs left: each kind's lines so far, then out of the collector. */
  private async flushSoFar(messageId: string, all: Record<string, string>): Promise<number> {
    const { redis, spool } = this.deps;
    const keys = spool.keysFor(messageId);
    let sent = 0;
    if (all.meta) {
      const meta = JSON.parse(all.meta) as ReportMeta;
      let original: Buffer | undefined | null;
      for (const kind of COLLECTED_KINDS) {
        const fields = Object.keys(all)
          .filter((field) => field.startsWith(`${kind}:`))
          .sort();
        if (fields.length === 0) continue;
        original ??= await spool.getBody(messageId, meta.size);
        await this.send(
          messageId,
          meta,
          fields.map((field) => JSON.parse(all[field]!) as DsnRecipient),
          original ?? undefined,
        );
        await redis.hdel(keys.dsnReports(messageId), ...fields);
        sent += 1;
      }
    }
    await redis.zrem(keys.dsnDue, messageId);
    return sent;
  }

  /**
   * Flushes every message in a due zset for REPORT_SWEEP_GRACE_MS: a finisher that crashed, or
   * lines collected while other jobs of the message wait (a partial flush).
   */
  async sweep(graceMs = REPORT_SWEEP_GRACE_MS): Promise<number> {
    const { redis, spool } = this.deps;
    const claim = (redis as unknown as Record<string, (...args: string[]) => Promise<number>>)
      .heraldClaimDueReport!;
    let flushed = 0;
    for (const shard of spool.allShards()) {
      const due = spool.shardKeys(shard).dsnDue;
      const ids = await redis.zrange(due, 0, REPORT_SWEEP_BATCH - 1);
      for (const id of ids) {
        if ((await claim.call(redis, due, id, String(graceMs))) !== 1) continue;
        await this.flush(id);
        flushed += 1;
      }
    }
    return flushed;
  }

  private async send(
    messageId: string,
    meta: ReportMeta,
    recipients: DsnRecipient[],
    original: Buffer | undefined,
  ): Promise<void> {
    const { hostname, now } = this.deps;
    const id = this.deps.newId();
    const body = composeDsn({
      reportingMta: hostname,
      to: meta.from,
      originalId: messageId,
      arrivalAt: meta.acceptedAt,
      recipients,
      original,
      ret: meta.ret,
      envid: meta.envid,
      messageId: `${id}.dsn@${hostname}`,
      now: now(),
    });
    await this.deps.enqueueDsn({ id, tenant: meta.tenant, to: meta.from, body });
  }
}

function sameAddress(a: DsnRecipient, b: DsnRecipient): boolean {
  return a.address.toLowerCase() === b.address.toLowerCase();
}

/** Sweeps every REPORT_SWEEP_INTERVAL_MS (passes never overlap) until closed. */
export function startReportSweep(
  reports: DsnReports,
  logger: Logger,
  intervalMs = REPORT_SWEEP_INTERVAL_MS,
): { close(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let closed = false;
  const timer = setInterval(() => {
    if (busy || closed) return;
    busy = true;
    running = reports
      .sweep()
      .then((n) => {
        if (n > 0) logger.warn({ flushed: n }, 'sent DSN reports a crashed worker had left due');
      })
      .catch((err: unknown) => logger.debug({ err }, 'DSN report sweep failed'))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}
