/**
 * The library's contract, apart from its composition root (herald.ts): `CreateHeraldOptions`,
 * the `Herald` interface (its verbs and read-outs) and the types they carry, re-exported from the
 * capabilities that define them. Types only.
 */
import type { Logger } from 'pino';
import type { Behaviour } from './behaviour/index.js';
import type { HeraldConfig } from './config/index.js';
import type { DeliveryWorker, FastPath } from './delivery/index.js';
import type { RedisEventSink } from './events/index.js';
import type { DeliveryExplanation, ExplainOptions } from './explain/index.js';
import type { FeedbackReport, FeedbackResult } from './feedback/index.js';
import type { Intake, SendInput, SendResult } from './intake/index.js';
import type { DeliverySnapshot, HeraldMetrics } from './metrics/index.js';
import type { Quarantine } from './quarantine/index.js';
import type { DurabilityBarrier, FastLane, QueueStats, ShardLayout } from './queue/index.js';
import type {
  ListOptions,
  QueueFilter,
  QueuePage,
  QueueTarget,
  RemoveResult,
  WakeResult,
} from './queue-ops/index.js';
import type { PauseState, TenantStatus } from './reputation/index.js';
import type { MessageStory } from './story/index.js';
import type { SuppressionList } from './suppression/index.js';
import type { Telemetry } from './telemetry/index.js';
import type { TlsReporting } from './tlsrpt/index.js';
import type { Webhooks, WebhooksDeps } from './webhooks/index.js';

export type { DeliveryExplanation, ExplainedSource, ExplainOptions } from './explain/index.js';
export type { FeedbackReport, FeedbackResult } from './feedback/index.js';
export type { SendInput, SendResult } from './intake/index.js';
export type { QueueStats, SiteQueueStats } from './queue/index.js';
export type {
  ListOptions,
  QueuedJob,
  QueueFilter,
  QueuePage,
  QueueTarget,
  RemoveResult,
  WakeResult,
} from './queue-ops/index.js';
export type { PauseState, ReputationRates, TenantStatus } from './reputation/index.js';
export type { LiveShapingState } from './shaping/index.js';
export type { AttemptStory, FeedbackStory, MessageStory, RecipientStory, Waiting } from './story/index.js';

export interface CreateHeraldOptions {
  logger?: Logger;
  /** Environment for REDIS_URL when `config` is not parsed yet. */
  env?: Record<string, string | undefined>;
  /**
   * This run of the node (config `node_id`): Heralds of one relay process (its delivery threads)
   * share it; default a new random one.
   */
  incarnation?: string;
  /**
   * Tracing: default started from `config.telemetry` (off: the no-op tracer, no SDK loaded) and
   * shut down (flushed) by close(); one given here is the caller's to shut down.
   */
  telemetry?: Telemetry;
  /** The `herald.process` resource attribute of the spans (relay, delivery-thread, bounce-processor). */
  telemetryProcess?: string;
  /** Webhook retry delays and lease TTL (tests make them short). */
  webhooks?: Pick<WebhooksDeps, 'retryDelaysMs' | 'leaseTtlMs'>;
  /**
   * Count this Herald's events into its own metrics (default true). False for a Herald whose
   * events another one counts: a relay's delivery thread forwards its events to the main thread,
   * whose /metrics is the one served (and whose TLS report counters count them).
   */
  countEvents?: boolean;
  /**
   * Whether this Herald takes submissions (default true). A delivery thread says false: it only
   * counts bounces for behaviour, so it keeps no flag cache and runs no behaviour passes.
   */
  takesSubmissions?: boolean;
}

export interface Herald {
  readonly config: HeraldConfig;
  readonly logger: Logger;
  /** This run of the node; delivery threads of the same relay process are given the same one. */
  readonly incarnation: string;
  /**
   * How an acknowledged enqueue is made durable (redis.durability): `fast`, or the strict plan
   * chosen from the server at start (`fsync-always`, `waitaof`, `wait-replica`; queue/durability.ts).
   */
  readonly durability: DurabilityBarrier['mode'];
  /**
   * The queue's shards now (`queue.shards`, and the highest count any process used: every shard
   * is served and read); which shard holds a message follows from its id (queue/shards.ts).
   */
  readonly shards: { readonly layout: ShardLayout };
  readonly events: RedisEventSink;
  readonly metrics: HeraldMetrics;
  /** The per-tenant suppression lists (consulted at intake, fed by feedback, managed by `herald suppression`). */
  readonly suppression: SuppressionList;
  /** The submission pipeline, stage by stage, for front ends (the relay's SMTP listener). */
  readonly intake: Intake;
  /**
   * Webhook endpoints (list, add, remove), dead letters (list, replay) and the dispatcher
   * (`startDispatcher`, run by relays with the worker role; stopped by `close`).
   */
  readonly webhooks: Webhooks;
  /**
   * SMTP TLS Reporting (config `tls_reporting`; undefined when off): attempt outcomes are counted
   * from the start; `sendDay` sends (dry run: builds) a UTC day's reports (`herald tlsrpt send`),
   * `startDaily` runs the daily job (relays with the worker role); `close` stops it.
   */
  readonly tlsReporting: TlsReporting | undefined;
  /**
   * Held messages (the content scan's quarantine action): list, show, release (queued as if just
   * accepted), remove (each recipient bounced, operator delete), the retention sweep
   * (`startSweeper`, run by relays with the worker role; stopped by `close`).
   */
  readonly quarantine: Quarantine;
  /**
   * Compromised-account detection (config `behaviour`; undefined when off): an account's status
   * (rules, figures, flag), the flagged accounts, `unflag`. Flagged accounts' new mail is held in
   * `quarantine` (reason `behaviour:<rule>`); `quarantine.releaseAccount` releases it.
   */
  readonly behaviour: Behaviour | undefined;
  /** Submits one message through the intake pipeline; resolves once Redis acknowledged it. */
  send(input: SendInput): Promise<SendResult>;
  /**
   * Acts on one bounce or complaint report (read by the bounce-processor): suppress, count once
   * per VERP token, evaluate the tenant, emit events. Rejects when Redis fails.
   */
  recordFeedback(report: FeedbackReport): Promise<FeedbackResult>;
  /** Suspends a site for every relay; resolves with when the suspension ends (epoch ms). */
  suspendSite(site: string, forMs: number, reason?: string): Promise<number>;
  /**
   * Lifts a site's suspension, rate cut and source suspensions now and wakes the jobs the
   * suspension held. True when there was something to lift.
   */
  resumeSite(site: string, reason?: string): Promise<boolean>;
  /** Pauses a tenant's bulk mail; undefined when it was paused already. */
  pauseTenant(tenant: string, reason?: string): Promise<PauseState | undefined>;
  /** Lifts a tenant's reputation pause and wakes its parked bulk jobs; true when it was paused. */
  resumeTenant(tenant: string, reason?: string): Promise<boolean>;
  /** Starts delivery workers in this thread: one per queue shard (delivery's `startWorkers`). */
  startWorkers(): DeliveryWorker[];
  /**
   * Starts the fast path on the last worker started: jobs handed over from memory (the spool's
   * fast lane in another thread) run there. `announce` tells the lane's owner its room.
   */
  startFastPath(announce: (room: number, done: number) => void): FastPath;
  /**
   * What this thread's delivery measured outside events (shaping waits, SMTP connections open per
   * site), as plain data: a delivery thread posts it to the relay's main thread for /metrics.
   */
  deliverySnapshot(): DeliverySnapshot;
  /**
   * Spools jobs the lane has room for as leases and hands them to it after the EXEC instead of
   * adding them to BullMQ (queue/fast-lane.ts); undefined turns it off.
   */
  useFastLane(lane: FastLane | undefined): void;
  /**
   * With `node_id`: frees the connection leases a previous run of this node held (a crash), and
   * wakes the jobs parked for them. Call once at start, before any worker. Returns how many.
   */
  reclaimLeases(): Promise<number>;
  /**
   * The delivery queue per site: ready, scheduled (retries, throttle waits), in flight, and the
   * age of the oldest message. The totals are exact; the per-site split reads at most `maxJobs`
   * jobs (default 100000; 0 for the totals alone) and says when it stopped (`truncated`).
   */
  queueStats(opts?: { maxJobs?: number }): Promise<QueueStats>;
  /**
   * A site's queued jobs (`provider:<name>`, `mx:<hosts>`, `route:<host>:<port>`, or
   * `domain:<name>`: every job to that domain), a page at a time in acceptance order; pass the
   * page's `next` as `after` for the next one.
   */
  listQueue(site: string, opts?: ListOptions): Promise<QueuePage>;
  /**
   * Retry now: jobs of one message (or job), a site, or the whole queue that wait for a retry, a
   * shaping wait or a slot are made ready now; they still pass the shaping gate.
   */
  retryQueued(target: QueueTarget): Promise<WakeResult>;
  /** Ignore a site's backoff once: its waiting jobs are ready now, within its limits; held jobs stay. */
  flushSite(site: string): Promise<WakeResult>;
  /**
   * Removes jobs (one message or job, or every job matching a filter); each pending recipient
   * ends `bounced` with `operator: 'delete'`, no DSN. Jobs in flight end so after their attempt.
   */
  deleteQueued(target: { messageId: string } | QueueFilter): Promise<RemoveResult>;
  /** As deleteQueued, with `operator: 'bounce'` and a DSN to the sender (one message, or a site). */
  bounceQueued(
    target: { messageId: string } | { site: string },
    opts?: { reason?: string },
  ): Promise<RemoveResult>;
  /** A tenant's reputation over its window, its thresholds, and its bulk pause, read now. */
  tenantStatus(tenant: string): Promise<TenantStatus>;
  /**
   * Where mail for `domain` goes and under which limits, as this config decides now: the static
   * route or the MX hosts (resolved now; HERALD_DNS_FAILED when that fails), the site, the source
   * pool and IP, each limit with the layer that set it, and the path's live shaping state.
   */
  explain(domain: string, opts?: ExplainOptions): Promise<DeliveryExplanation>;
  /**
   * One message's story (`herald message show`, `GET /v1/messages/{id}`): envelope, each
   * recipient's state and last reply, every attempt (MX host, IP, TLS, replies), feedback, and
   * why a recipient not finished waits. Read from the message's trace, so it outlives the message
   * for `events.trace_retention`. Undefined for an unknown (or expired) id; rejects when Redis fails.
   */
  messageStory(id: string): Promise<MessageStory | undefined>;
  /**
   * The W3C traceparent a message was accepted under (its accepted event's, in the message's
   * trace), so a later span (a bounce) can link to it; undefined when untraced, unknown or expired.
   */
  messageTraceparent(id: string): Promise<string | undefined>;
  /** Tracing (telemetry/): the tracer front ends start their spans with. */
  readonly telemetry: Telemetry;
  /** True when Redis answers PING. */
  ping(): Promise<boolean>;
  /**
   * Live reload: `read` gives the new config (e.g. the file read again); the shaping file and DKIM
   * keys are read again too. The live sections (reload's LIVE_PATHS: shaping, tenants, dkim,
   * smtp.users, routes) apply to the next session, message and attempt; other changed paths are
   * `needsRestart` and keep their running value. Anything invalid keeps the running config whole
   * and is answered `ok: false` with the reason (key paths, no secret), logged and counted in
   * `herald_config_reload_failures_total`. Connections and deliveries in flight are not touched.
   * `livePaths` replaces LIVE_PATHS (the bounce-processor's BOUNCE_PROCESSOR_LIVE_PATHS).
   */
  reloadConfig(read: () => HeraldConfig, options?: { livePaths?: readonly string[] }): ReloadResult;
  /** The version of the config running (`herald_config_info{hash}`). */
  readonly configHash: string;
  close(): Promise<void>;
}

export type ReloadResult =
  | { ok: true; hash: string; previousHash: string; applied: string[]; needsRestart: string[] }
  | { ok: false; hash: string; error: string; code: string };
