/**
 * One DSN per message and report kind, however many destination domains (jobs) the message has:
 * a 550 from 30 domains is one "Undelivered Mail" report listing 30 recipients, as Postfix's
 * bounce service sends it. The per-message collector is a hash in the message's shard
 * (`QueueKeys.dsnReports`): each recipient's report line is recorded when its outcome is settled,
 * before its job ends (`record`); the finish script of the message's last job keeps the body and
 * puts the message in the shard's due zset (`QueueKeys.dsnDue`, queue/spool.ts, queue/leases.ts);
 * the party that finished it then spools one failure report and one success report (`relayed`),
 * separately as Postfix does (bounce and trace), each once (its lines leave the collector once it is spooled), then deletes
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
 * The claim records the claimed lines and puts the message in the shard's delay-due zset in the
 * same script (`claimDelayed`, dsn-scripts.ts); once the notice is spooled the lines are dropped
 * (`sendClaimedDelays`). A crash in between loses nothing: `sweep` sends delay lines left more
 * than REPORT_SWEEP_GRACE_MS, and a message that ends first sends them with its `flush`.
 * Needs injected: a command connection, the spool (keys, body), the DSN enqueue, ids and a clock.
 */
import type { Logger } from 'pino';
import { composeDsn, type DsnRecipient } from '../dsn/index.js';
import type { DeliveryJobData, Spool } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { CLAIM_DELAY_LUA, CLAIM_DUE_LUA, DELAY_LINE_FIELD, DELAY_SENT_LUA } from './dsn-scripts.js';

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

type Script = (...args: string[]) => Promise<unknown>;

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
    deps.redis.defineCommand('heraldClaimDelay', { numberOfKeys: 2, lua: CLAIM_DELAY_LUA });
    deps.redis.defineCommand('heraldDelaySent', { numberOfKeys: 2, lua: DELAY_SENT_LUA });
  }

  private script(name: string): Script {
    const run = (this.deps.redis as unknown as Record<string, Script>)[name]!;
    return (...args) => run.call(this.deps.redis, ...args);
  }

  /**
   * The collector fields and values (field, value, …) that record `lines` of `kind`: what `record`
   * writes, and what an operator's bounce hands the finish script (`Spool.claimFinish`) to write
   * in the same step as the job's end. Empty without lines.
   */
  static fieldsOf(data: DeliveryJobData, kind: CollectedKind, lines: readonly DsnRecipient[]): string[] {
    if (lines.length === 0) return [];
    const fields: string[] = ['meta', JSON.stringify(metaOf(data))];
    for (const line of lines) fields.push(`${kind}:${line.address.toLowerCase()}`, JSON.stringify(line));
    return fields;
  }

  /** Records report lines of `kind` for the message's end (idempotent per address: a repeat overwrites). */
  async record(data: DeliveryJobData, kind: CollectedKind, lines: readonly DsnRecipient[]): Promise<void> {
    const fields = DsnReports.fieldsOf(data, kind, lines);
    if (fields.length === 0) return;
    const keys = this.deps.spool.keysFor(data.messageId);
    // Due by the sweep one grace after the first line even while other jobs wait (a partial flush).
    await this.deps.redis
      .multi()
      .hset(keys.dsnReports(data.messageId), ...fields)
      .zadd(keys.dsnDue, 'NX', String(this.deps.now()), data.messageId)
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
    const fresh = await this.claimDelayed(data, lines);
    if (fresh.length === 0) return [];
    await this.sendClaimedDelays(data.messageId, metaOf(data), fresh);
    return fresh.map((r) => r.address);
  }

  /**
   * The first step of a delay pass: claims each address's notice once per message and records
   * the claimed lines for the sweep, in one script. Returns the lines claimed now.
   */
  async claimDelayed(data: DeliveryJobData, lines: readonly DsnRecipient[]): Promise<DsnRecipient[]> {
    if (lines.length === 0) return [];
    const keys = this.deps.spool.keysFor(data.messageId);
    const args = [data.messageId, JSON.stringify(metaOf(data)), String(this.deps.now())];
    for (const line of lines) args.push(line.address.toLowerCase(), JSON.stringify(line));
    const claimed = new Set(
      (await this.script('heraldClaimDelay')(
        keys.dsnReports(data.messageId),
        keys.dsnDelayDue,
        ...args,
      )) as string[],
    );
    return lines.filter((line) => claimed.has(line.address.toLowerCase()));
  }

  /** The second step: spools one delay notice for claimed `lines`, then drops their recorded lines. */
  private async sendClaimedDelays(messageId: string, meta: ReportMeta, lines: DsnRecipient[]): Promise<void> {
    const keys = this.deps.spool.keysFor(messageId);
    const original = (await this.deps.spool.getBody(messageId, meta.size)) ?? undefined;
    await this.send(messageId, meta, lines, original);
    const fields = lines.map((l) => `${DELAY_LINE_FIELD}${l.address.toLowerCase()}`);
    await this.script('heraldDelaySent')(keys.dsnReports(messageId), keys.dsnDelayDue, messageId, ...fields);
  }

  /** The delay lines a crash left in the message's collector, sent as one notice. */
  private async sendLeftDelays(messageId: string, all: Record<string, string>): Promise<number> {
    const lines = linesOf(all, DELAY_LINE_FIELD);
    if (!all.meta || lines.length === 0) {
      const keys = this.deps.spool.keysFor(messageId);
      await this.script('heraldDelaySent')(keys.dsnReports(messageId), keys.dsnDelayDue, messageId);
      return 0;
    }
    await this.sendClaimedDelays(messageId, JSON.parse(all.meta) as ReportMeta, lines);
    return 1;
  }

  /**
   * Spools the message's collected reports not sent yet (first a delay notice a crash left), then
   * deletes its collector and body and takes it off the due zsets. While jobs of the message are
   * still pending (a partial flush: the sweep, an operator's bounce), body and collector stay for
   * them. Safe to repeat. Returns how many reports it spooled.
   */
  async flush(messageId: string): Promise<number> {
    const { redis, spool } = this.deps;
    const keys = spool.keysFor(messageId);
    const key = keys.dsnReports(messageId);
    const all = await redis.hgetall(key);
    const partial = (await redis.exists(keys.pendingJobs(messageId))) === 1;
    const delaysLeft = !partial && Object.keys(all).some((field) => field.startsWith(DELAY_LINE_FIELD));
    const sent =
      (delaysLeft ? await this.sendLeftDelays(messageId, all) : 0) +
      (await this.sendCollected(messageId, all));
    if (!partial) await redis.del(key, keys.body(messageId));
    await redis.zrem(keys.dsnDue, messageId);
    return sent;
  }

  /**
   * One report per kind of the lines in `all` (the collector as read), each kind's lines taken
   * out of the collector once its report is spooled, so a repeat sends only what is left.
   */
  private async sendCollected(messageId: string, all: Record<string, string>): Promise<number> {
    if (!all.meta) return 0;
    const { redis, spool } = this.deps;
    const meta = JSON.parse(all.meta) as ReportMeta;
    let original: Buffer | undefined | null;
    let sent = 0;
    for (const kind of COLLECTED_KINDS) {
      const fields = Object.keys(all).filter((field) => field.startsWith(`${kind}:`));
      if (fields.length === 0) continue;
      original ??= await spool.getBody(messageId, meta.size);
      await this.send(messageId, meta, linesOf(all, `${kind}:`), original ?? undefined);
      await redis.hdel(spool.keysFor(messageId).dsnReports(messageId), ...fields);
      sent += 1;
    }
    return sent;
  }

  /**
   * Flushes every message in the due zset for REPORT_SWEEP_GRACE_MS (a finisher that crashed, or
   * lines collected while other jobs of the message wait: a partial flush), and sends the delay
   * notices claimed that long ago and never spooled. Returns how many it handled.
   */
  async sweep(graceMs = REPORT_SWEEP_GRACE_MS): Promise<number> {
    const { redis, spool } = this.deps;
    const claim = this.script('heraldClaimDueReport');
    let handled = 0;
    for (const shard of spool.allShards()) {
      const keys = spool.shardKeys(shard);
      for (const id of await redis.zrange(keys.dsnDelayDue, 0, REPORT_SWEEP_BATCH - 1)) {
        if ((await claim(keys.dsnDelayDue, id, String(graceMs))) !== 1) continue;
        await this.sendLeftDelays(id, await redis.hgetall(spool.keysFor(id).dsnReports(id)));
        handled += 1;
      }
      for (const id of await redis.zrange(keys.dsnDue, 0, REPORT_SWEEP_BATCH - 1)) {
        if ((await claim(keys.dsnDue, id, String(graceMs))) !== 1) continue;
        await this.flush(id);
        handled += 1;
      }
    }
    return handled;
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

/** The report lines under `prefix` in a collector's fields, by address. */
function linesOf(all: Record<string, string>, prefix: string): DsnRecipient[] {
  return Object.entries(all)
    .filter(([field]) => field.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, value]) => JSON.parse(value) as DsnRecipient);
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
