/**
 * The metrics an operator reads per site and per tenant, and the process's Redis health: the
 * second half of HeraldMetrics (index.ts keeps the totals). Owns: these metric families and their
 * label caps (bounded-labels.ts: sites and tenants first-come up to MAX_SITE_LABELS /
 * MAX_TENANT_LABELS, the rest `other`; shaping-file providers always named).
 * Guarantees: event-fed counters (`observe`) count once per event; the per-site queue gauges come
 * from a cached, bounded scan (site-queue-cache.ts); connections open and shaping waits come from
 * delivery snapshots (delivery-meter.ts: this thread's, and the relay's delivery threads').
 * Needs injected: the registry, and optionally the queue stats source, the snapshot source.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HeraldEvent } from '../events/index.js';
import {
  LabelCap,
  MAX_SITE_LABELS,
  MAX_TENANT_LABELS,
  NO_SITE_LABEL,
  siteLabelCap,
  topN,
} from './bounded-labels.js';
import { type DeliverySnapshot, splitWaitKey } from './delivery-meter.js';
import { queued, SiteQueueCache, type SiteQueueRow, type SiteQueueSource } from './site-queue-cache.js';

/** Seconds one delivery attempt took (connect to the last reply). */
const ATTEMPT_DURATION_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds a Redis PING took (the HTTP endpoints' probe). */
const REDIS_PING_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Where the delivery measurements come from at scrape time; `thread` labels a delivery thread's lag. */
export type DeliverySnapshotSource = () => { thread?: number; snapshot: DeliverySnapshot }[];

export interface OperatorMetricsOptions {
  registers: Registry[];
  siteQueues?: SiteQueueSource | undefined;
  deliverySnapshots: () => ReturnType<DeliverySnapshotSource>;
}

export function replyClass(code: number): string {
  if (code >= 200 && code < 600) return `${Math.floor(code / 100)}xx`;
  return 'other';
}

export class OperatorMetrics {
  readonly deliveries: Counter<'site' | 'result' | 'reply_class'>;
  readonly attemptDuration: Histogram<'site'>;
  readonly tenantAccepted: Counter<'tenant'>;
  readonly tenantRecipients: Counter<'tenant' | 'outcome'>;
  readonly tenantFeedback: Counter<'tenant' | 'type'>;
  readonly siteTransitions: Counter<'type' | 'site'>;
  readonly redisPing: Histogram;
  readonly redisUp: Gauge;
  private readonly sites = siteLabelCap(MAX_SITE_LABELS);
  private readonly tenants = new LabelCap(MAX_TENANT_LABELS);

  constructor(options: OperatorMetricsOptions) {
    const registers = options.registers;
    this.deliveries = new Counter({
      name: 'herald_deliveries_total',
      help: 'Recipient outcomes of delivery attempts by site, result and reply class (sites capped)',
      labelNames: ['site', 'result', 'reply_class'],
      registers,
    });
    this.attemptDuration = new Histogram({
      name: 'herald_delivery_attempt_duration_seconds',
      help: 'Duration of one delivery attempt (connect to the last reply) by site (sites capped)',
      labelNames: ['site'],
      buckets: ATTEMPT_DURATION_BUCKETS_S,
      registers,
    });
    this.tenantAccepted = new Counter({
      name: 'herald_tenant_messages_accepted_total',
      help: 'Messages accepted per tenant (tenants capped)',
      labelNames: ['tenant'],
      registers,
    });
    this.tenantRecipients = new Counter({
      name: 'herald_tenant_recipients_total',
      help: 'Recipient outcomes per tenant (tenants capped)',
      labelNames: ['tenant', 'outcome'],
      registers,
    });
    this.tenantFeedback = new Counter({
      name: 'herald_tenant_feedback_total',
      help: 'Asynchronous bounces and complaints per tenant (tenants capped)',
      labelNames: ['tenant', 'type'],
      registers,
    });
    this.siteTransitions = new Counter({
      name: 'herald_site_transitions_total',
      help: 'Sites suspended, slowed or resumed, source IPs suspended, by automation or an operator (sites capped)',
      labelNames: ['type', 'site'],
      registers,
    });
    this.redisPing = new Histogram({
      name: 'herald_redis_ping_duration_seconds',
      help: 'Round trip of a Redis PING, probed by the HTTP endpoints',
      buckets: REDIS_PING_BUCKETS_S,
      registers,
    });
    this.redisUp = new Gauge({
      name: 'herald_redis_up',
      help: '1 when the last Redis PING answered in time, else 0',
      registers,
    });
    this.registerSnapshotMetrics(registers, options.deliverySnapshots);
    this.registerSiteQueueMetrics(registers, options.siteQueues);
  }

  observe(event: HeraldEvent): void {
    switch (event.type) {
      case 'accepted':
        this.tenantAccepted.inc({ tenant: this.tenants.label(event.tenant) });
        return;
      case 'attempt':
        this.attemptDuration.observe({ site: this.site(event.site) }, event.durationMs / 1000);
        return;
      case 'site_suspended':
      case 'site_slowed':
      case 'site_resumed':
      case 'source_suspended':
        this.siteTransitions.inc({ type: event.type, site: this.site(event.site) });
        return;
      case 'bounce_received':
      case 'complaint_received':
        this.tenantFeedback.inc({ tenant: this.tenants.label(event.tenant), type: event.type });
        return;
      case 'tenant_paused':
      case 'tenant_resumed':
      case 'client_blocked':
      case 'client_limited':
      case 'quarantined':
      case 'released':
      case 'account_flagged':
      case 'account_unflagged':
        return;
      default: {
        const tenant = this.tenants.label(event.tenant);
        this.tenantRecipients.inc({ tenant, outcome: event.type });
        if (event.type === 'suppressed') return;
        this.deliveries.inc({
          site: this.site(event.site),
          result: event.type,
          reply_class: replyClass(event.reply.code),
        });
      }
    }
  }

  /** A capped site label (NO_SITE_LABEL for a delivery that never reached one). */
  site(site: string | undefined): string {
    return this.sites.label(site || NO_SITE_LABEL);
  }

  private registerSnapshotMetrics(registers: Registry[], source: DeliverySnapshotSource): void {
    const site = (name: string) => this.site(name);
    new Gauge({
      name: 'herald_site_connections_open',
      help: 'Outbound SMTP connections open (in use or idle) in this process, by site (sites capped)',
      labelNames: ['site'],
      registers,
      collect() {
        this.reset();
        const sum = new Map<string, number>();
        for (const { snapshot } of source())
          for (const [name, n] of Object.entries(snapshot.connections))
            sum.set(site(name), (sum.get(site(name)) ?? 0) + n);
        for (const [label, n] of sum) this.set({ site: label }, n);
      },
    });
    new Counter({
      name: 'herald_shaping_waits_total',
      help: 'Delivery jobs held back by shaping before an attempt (no attempt spent), by site and layer (sites capped)',
      labelNames: ['site', 'layer'],
      registers,
      collect() {
        this.reset();
        for (const { snapshot } of source())
          for (const [key, n] of Object.entries(snapshot.waits)) {
            const [name, layer] = splitWaitKey(key);
            this.inc({ site: site(name), layer }, n);
          }
      },
    });
    new Gauge({
      name: 'herald_delivery_thread_eventloop_lag_seconds',
      help: "A delivery thread's event-loop delay, p99 over its last snapshot interval",
      labelNames: ['thread'],
      registers,
      collect() {
        this.reset();
        for (const { thread, snapshot } of source())
          if (thread !== undefined && snapshot.eventLoopLagSeconds !== undefined)
            this.set({ thread: String(thread) }, snapshot.eventLoopLagSeconds);
      },
    });
  }

  private registerSiteQueueMetrics(registers: Registry[], source: SiteQueueSource | undefined): void {
    const cache = source ? new SiteQueueCache(source, MAX_SITE_LABELS) : undefined;
    // Both gauges read the same cached view (a scrape starts at most one scan).
    const rows = async (): Promise<[string, SiteQueueRow][] | undefined> => {
      const read = await cache?.read();
      if (!read) return undefined;
      const bySite = read.sites.map((r): [string, SiteQueueRow] => [r.site, r]);
      return topN(bySite, MAX_SITE_LABELS, queued, mergeRows);
    };
    new Gauge({
      name: 'herald_site_queue_depth',
      help: 'Delivery jobs per site and state (ready, scheduled, in_flight), from a cached bounded scan (top sites, the rest other)',
      labelNames: ['site', 'state'],
      registers,
      async collect() {
        const read = await rows();
        if (!read) return;
        this.reset();
        for (const [site, row] of read) {
          this.set({ site, state: 'ready' }, row.ready);
          this.set({ site, state: 'scheduled' }, row.scheduled);
          this.set({ site, state: 'in_flight' }, row.inFlight);
        }
      },
    });
    new Gauge({
      name: 'herald_site_queue_oldest_age_seconds',
      help: 'Age of the oldest queued message per site, from the same cached scan',
      labelNames: ['site'],
      registers,
      async collect() {
        const read = await rows();
        if (!read) return;
        this.reset();
        for (const [site, row] of read) this.set({ site }, row.oldestAgeMs / 1000);
      },
    });
    new Gauge({
      name: 'herald_site_suspended_seconds',
      help: 'Seconds left of a site suspension, for the most queued sites (read with the per-site scan)',
      labelNames: ['site'],
      registers,
      async collect() {
        const read = await cache?.read();
        if (!read) return;
        this.reset();
        const now = Date.now();
        for (const [site, until] of read.suspended) this.set({ site }, Math.max(0, until - now) / 1000);
      },
    });
    new Gauge({
      name: 'herald_site_queue_scan_truncated',
      help: 'Whether the last per-site queue scan stopped at its job cap (1: the per-site split is partial)',
      registers,
      async collect() {
        const read = await cache?.read();
        if (read) this.set(read.truncated ? 1 : 0);
      },
    });
  }
}

function mergeRows(a: SiteQueueRow, b: SiteQueueRow): SiteQueueRow {
  return {
    site: a.site,
    ready: a.ready + b.ready,
    scheduled: a.scheduled + b.scheduled,
    inFlight: a.inFlight + b.inFlight,
    oldestAgeMs: Math.max(a.oldestAgeMs, b.oldestAgeMs),
  };
}
