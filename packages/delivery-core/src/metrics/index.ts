/**
 * Metrics: a prom-client registry per Herald instance with the metric names operators alert on.
 * Label sets are bounded: `outcome` and `source` are closed enums; per-site and per-tenant series
 * (operator-metrics.ts) are capped (bounded-labels.ts), never per domain. The door's counters (AUTH
 * failures, refusals by reason, Redis deadlines in a session) are counted by the listener that
 * applies them, since their events are deduplicated; never a client address or user as a label.
 * What delivery measures outside events (shaping waits, connections per site) reaches the
 * registry through delivery snapshot sources (`addDeliverySource`: this thread's meter, and a
 * relay's delivery threads'). Needs injected: optionally the queue, per-site queue stats and the
 * webhook outboxes, read at scrape time.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { HeraldEvent, RecipientEventType } from '../events/index.js';
import { MAX_ENDPOINT_LABELS, topN } from './bounded-labels.js';
import { ConfigMetrics } from './config-metrics.js';
import type { DeliveryMeter } from './delivery-meter.js';
import { type DeliverySnapshotSource, OperatorMetrics, replyClass } from './operator-metrics.js';
import type { SiteQueueSource } from './site-queue-cache.js';

/** Prefix of prom-client's default metrics (process_*, nodejs_*), so they read herald_process_*. */
export const DEFAULT_METRICS_PREFIX = 'herald_';

export {
  LabelCap,
  MAX_ENDPOINT_LABELS,
  MAX_SITE_LABELS,
  MAX_TENANT_LABELS,
  NO_SITE_LABEL,
  OTHER_LABEL,
} from './bounded-labels.js';
export { ConfigMetrics, type ConfigStatus } from './config-metrics.js';
export {
  DeliveryMeter,
  type DeliverySnapshot,
  DeliverySnapshotBoard,
  THROTTLE_LAYERS,
  throttleLayer,
} from './delivery-meter.js';
export {
  createHealthEndpoints,
  type HealthEndpointsDeps,
  healthRequestHandler,
  probeRedisWhileListening,
  REDIS_PROBE_INTERVAL_MS,
} from './http-endpoints.js';
export type { DeliverySnapshotSource } from './operator-metrics.js';
export {
  SITE_QUEUE_REFRESH_MS,
  SITE_QUEUE_SCAN_MAX_JOBS,
  type SiteQueueSource,
} from './site-queue-cache.js';

const OUTCOMES: RecipientEventType[] = ['delivered', 'deferred', 'bounced', 'expired', 'suppressed'];

/** Batches waiting per webhook endpoint (the webhooks capability), read at scrape time. */
export interface WebhookOutboxSource {
  outboxDepths(): Promise<Map<string, number>>;
}

export interface QueueDepthSource {
  counts(): Promise<{ waiting: number; active: number; delayed: number; prioritized?: number }>;
}

/** Seconds from acceptance to a terminal outcome. */
/** Scan latency buckets (seconds): rspamd answers in milliseconds; the timeout is seconds. */
const SCAN_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LATENCY_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];

export class HeraldMetrics {
  readonly registry = new Registry();
  readonly accepted: Counter<'source'>;
  /** herald_messages_<outcome>_total, counted per recipient. */
  readonly outcomes: Record<RecipientEventType, Counter>;
  readonly attempts: Counter<'result'>;
  readonly latency: Histogram<'outcome'>;
  readonly queueDepth: Gauge<'state'>;
  readonly smtpReplies: Counter<'code'>;
  /** Per site and per tenant, Redis health (operator-metrics.ts). */
  readonly operator: OperatorMetrics;
  private readonly deliverySources: DeliverySnapshotSource[] = [];
  readonly feedback: Counter<'type' | 'reason' | 'verified'>;
  /** herald_auth_failures_total: AUTH attempts refused for their credentials. */
  readonly authFailures: Counter;
  /** herald_client_blocks_total: clients blocked at the door (fed by client_blocked events). */
  readonly clientBlocks: Counter;
  /** herald_smtp_refusals_total{reason}: connections refused or sessions ended at the door. */
  readonly smtpRefusals: Counter<'reason'>;
  /** herald_quarantine_events_total{type}: messages held in (quarantined) and let out of (released) quarantine. */
  readonly quarantineEvents: Counter<'type'>;
  /** herald_account_flags_total{type,rule}: accounts flagged by a behaviour rule, and unflagged (rule ''). */
  readonly accountFlags: Counter<'type' | 'rule'>;
  /** herald_behaviour_refused_total{cap}: a flagged account's mail refused, its held mail at a cap. */
  readonly behaviourRefused: Counter<'cap'>;
  /** herald_scan_total{result}: content scans by outcome (scan/'s SCAN_RESULTS). */
  readonly scanTotal: Counter<'result'>;
  /** herald_scan_duration_seconds: how long a content scan took (rspamd /checkv2, failures too). */
  readonly scanDuration: Histogram;
  /** herald_smtp_redis_timeouts_total{stage}: Redis calls of a session answered 451 at their deadline. */
  readonly smtpRedisTimeouts: Counter<'stage'>;
  /** herald_webhook_requests_total{result}: success, http_error, timeout, connection_error. */
  readonly webhookRequests: Counter<'result'>;
  /** herald_webhook_batches_dead_lettered_total{reason}: retry_expired, outbox_full. */
  readonly webhookDeadLettered: Counter<'reason'>;
  /** herald_webhook_stream_gaps_total: the event stream was trimmed past the dispatcher's cursor. */
  readonly webhookStreamGaps: Counter;
  /** herald_webhook_outbox_depth{endpoint}: batches waiting per endpoint. */
  readonly webhookOutboxDepth: Gauge<'endpoint'>;
  /** herald_config_info{hash}, reloads and their failures (config-metrics.ts). */
  readonly config: ConfigMetrics;

  constructor(
    options: {
      defaultMetrics?: boolean;
      queue?: QueueDepthSource;
      webhookOutboxes?: WebhookOutboxSource;
      /** Per-site queue depth and oldest age (`herald.queueStats`), scanned at most every SITE_QUEUE_REFRESH_MS. */
      siteQueues?: SiteQueueSource;
    } = {},
  ) {
    const registers = [this.registry];
    this.config = new ConfigMetrics(this.registry);
    // prom-client's names start with process_ / nodejs_: herald_process_cpu_user_seconds_total.
    if (options.defaultMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_METRICS_PREFIX });
    this.accepted = new Counter({
      name: 'herald_messages_accepted_total',
      help: 'Messages accepted for delivery',
      labelNames: ['source'],
      registers,
    });
    this.outcomes = Object.fromEntries(
      OUTCOMES.map((outcome) => [
        outcome,
        new Counter({
          name: `herald_messages_${outcome}_total`,
          help: `Recipients ${outcome} (one count per recipient and outcome event)`,
          registers,
        }),
      ]),
    ) as Record<RecipientEventType, Counter>;
    this.attempts = new Counter({
      name: 'herald_delivery_attempts_total',
      help: 'Delivery attempts by whether a host accepted a transaction',
      labelNames: ['result'],
      registers,
    });
    this.latency = new Histogram({
      name: 'herald_delivery_latency_seconds',
      help: 'Time from acceptance to a terminal outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.smtpReplies = new Counter({
      name: 'herald_remote_replies_total',
      help: 'Per-recipient reply classes seen by delivery (2xx, 4xx, 5xx; connection failures count as 4xx)',
      labelNames: ['code'],
      registers,
    });
    this.feedback = new Counter({
      name: 'herald_feedback_total',
      help: "Asynchronous bounces and complaints received, by type, reason and whether the report named the VERP token's recipient; tenant pauses and resumes",
      labelNames: ['type', 'reason', 'verified'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'herald_auth_failures_total',
      help: 'SMTP AUTH attempts refused for their credentials',
      registers,
    });
    this.clientBlocks = new Counter({
      name: 'herald_client_blocks_total',
      help: 'Clients blocked at the door after too many AUTH failures',
      registers,
    });
    this.smtpRefusals = new Counter({
      name: 'herald_smtp_refusals_total',
      help: 'SMTP connections refused or sessions ended at the door, by the limit that did it',
      labelNames: ['reason'],
      registers,
    });
    this.quarantineEvents = new Counter({
      name: 'herald_quarantine_events_total',
      help: 'Messages held in quarantine (quarantined) and released from it (released)',
      labelNames: ['type'],
      registers,
    });
    this.accountFlags = new Counter({
      name: 'herald_account_flags_total',
      help: 'Accounts flagged by a behaviour rule (account_flagged, by rule) and unflagged by an operator (account_unflagged)',
      labelNames: ['type', 'rule'],
      registers,
    });
    this.behaviourRefused = new Counter({
      name: 'herald_behaviour_refused_total',
      help: 'Messages of a flagged account refused (451 4.7.1) because its held mail reached max_held_messages or max_held_bytes, by cap',
      labelNames: ['cap'],
      registers,
    });
    this.scanTotal = new Counter({
      name: 'herald_scan_total',
      help: 'Content scans (rspamd) by result: accept, add_header, quarantine, reject, failed_open, failed_closed',
      labelNames: ['result'],
      registers,
    });
    this.scanDuration = new Histogram({
      name: 'herald_scan_duration_seconds',
      help: 'Time a content scan (rspamd /checkv2) took, failures included',
      buckets: SCAN_SECONDS_BUCKETS,
      registers,
    });
    this.smtpRedisTimeouts = new Counter({
      name: 'herald_smtp_redis_timeouts_total',
      help: 'Redis calls in an SMTP session answered 451 4.3.0 at smtp.redis_timeout, by stage',
      labelNames: ['stage'],
      registers,
    });
    this.webhookRequests = new Counter({
      name: 'herald_webhook_requests_total',
      help: 'Webhook requests by result (success: any 2xx; http_error, timeout, connection_error are retried)',
      labelNames: ['result'],
      registers,
    });
    this.webhookDeadLettered = new Counter({
      name: 'herald_webhook_batches_dead_lettered_total',
      help: 'Webhook batches moved to a dead-letter list: failing past retry_for, or their outbox full',
      labelNames: ['reason'],
      registers,
    });
    this.webhookStreamGaps = new Counter({
      name: 'herald_webhook_stream_gaps_total',
      help: 'Times the event stream was trimmed past the webhook dispatcher cursor (events lost to webhooks)',
      registers,
    });
    const webhookOutboxes = options.webhookOutboxes;
    this.webhookOutboxDepth = new Gauge({
      name: 'herald_webhook_outbox_depth',
      help: 'Webhook batches waiting to be sent, per endpoint',
      labelNames: ['endpoint'],
      registers,
      async collect() {
        if (!webhookOutboxes) return;
        const depths = await webhookOutboxes.outboxDepths().catch(() => undefined);
        if (!depths) return;
        this.reset();
        const deepest = topN(
          [...depths],
          MAX_ENDPOINT_LABELS,
          (n) => n,
          (a, b) => a + b,
        );
        for (const [endpoint, depth] of deepest) this.set({ endpoint }, depth);
      },
    });
    const queue = options.queue;
    this.queueDepth = new Gauge({
      name: 'herald_queue_depth',
      help: 'Delivery jobs by state',
      labelNames: ['state'],
      registers,
      async collect() {
        if (!queue) return;
        const counts = await queue.counts().catch(() => undefined);
        if (!counts) return;
        this.set({ state: 'waiting' }, counts.waiting);
        this.set({ state: 'active' }, counts.active);
        this.set({ state: 'delayed' }, counts.delayed);
        // Ready jobs of non-transactional streams wait in BullMQ's prioritized set.
        this.set({ state: 'prioritized' }, counts.prioritized ?? 0);
      },
    });
    this.operator = new OperatorMetrics({
      registers,
      siteQueues: options.siteQueues,
      deliverySnapshots: () => this.deliverySources.flatMap((source) => source()),
    });
  }

  /** Adds where delivery snapshots come from (summed at scrape time). */
  addDeliverySource(source: DeliverySnapshotSource): void {
    this.deliverySources.push(source);
  }

  /** This thread's own delivery meter as a source, with its SMTP pool's connections per site. */
  addLocalDelivery(meter: DeliveryMeter, connections: () => ReadonlyMap<string, number>): void {
    this.addDeliverySource(() => [{ snapshot: meter.snapshot(connections()) }]);
  }

  /** What the webhook dispatcher counts (its `WebhookMeter`). */
  /** What the content scanner (scan/) counts: a scan's result and its duration. */
  readonly scanMeter = {
    scanned: (result: string, seconds: number) => {
      this.scanTotal.inc({ result });
      this.scanDuration.observe(seconds);
    },
  };

  /** What the behaviour stage counts (behaviour/'s BehaviourMeter). */
  readonly behaviourMeter = {
    refused: (cap: 'messages' | 'bytes') => this.behaviourRefused.inc({ cap }),
  };

  readonly webhookMeter = {
    request: (result: string) => this.webhookRequests.inc({ result }),
    deadLettered: (reason: string) => this.webhookDeadLettered.inc({ reason }),
    gap: () => this.webhookStreamGaps.inc(),
  };

  /** Feeds counters from the event stream; wire with `events.on(metrics.observe)`. */
  readonly observe = (event: HeraldEvent): void => {
    this.operator.observe(event);
    switch (event.type) {
      case 'accepted':
        this.accepted.inc({ source: event.source });
        return;
      case 'attempt':
        this.attempts.inc({ result: event.host ? 'connected' : 'no-host' });
        for (const result of event.results) this.smtpReplies.inc({ code: replyClass(result.reply.code) });
        return;
      case 'site_suspended':
      case 'site_slowed':
      case 'site_resumed':
      case 'source_suspended':
        return;
      case 'bounce_received':
      case 'complaint_received':
        this.feedback.inc({
          type: event.type,
          reason: event.reason,
          verified: String(event.verified ?? true),
        });
        return;
      case 'tenant_paused':
      case 'tenant_resumed':
        this.feedback.inc({ type: event.type, reason: '', verified: '' });
        return;
      case 'client_blocked':
        this.clientBlocks.inc();
        return;
      case 'client_limited':
        return;
      case 'quarantined':
      case 'released':
        this.quarantineEvents.inc({ type: event.type });
        return;
      case 'account_flagged':
      case 'account_unflagged':
        this.accountFlags.inc({ type: event.type, rule: event.rule ?? '' });
        return;
      default:
        this.outcomes[event.type].inc();
        if (event.type !== 'deferred') this.latency.observe({ outcome: event.type }, event.latencyMs / 1000);
    }
  };

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
