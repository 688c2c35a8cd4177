/**
 * createShapingRuntime: traffic shaping as a capability, built from the parts it needs — the
 * leased connection slots shared by every relay (with `node_id`, held in this run's name), the
 * rate limiter, site suspensions and rate cuts, the adaptive connection windows, parked jobs —
 * and offering what delivery plugs into its port (`newGate()` for each worker, `parked`, the
 * pool's `leases`) plus the operator verbs around it: reclaim a crashed run's leases, suspend /
 * resume a site, resume a tenant (each waking the jobs it held), and the read-out of a delivery
 * path's live state (`liveState`, live-state.ts). `useShaping` swaps in a reloaded shaping file
 * (live reload): every gate made so far and the live-state reader use it from the next call on.
 * Needs injected: the config, the command connection, the delivery queue (to wake parked jobs),
 * the event sink, the shaping file in force, tenant reputation, the incarnation and how a
 * destination maps to its site (`siteOf`, from `sites`, which imports shaping's data).
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { type HeraldConfig, HOLD_HINT, MAX_HOLD_MS } from '../config/index.js';
import type { DeliveryGate } from '../delivery/index.js';
import { HeraldError } from '../errors/index.js';
import type { RedisEventSink } from '../events/index.js';
import { laneWindowKey, siteHoldKey, tenantParkKey } from '../keys/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import type { TenantReputation } from '../reputation/index.js';
import { DailyCap, LeasedSemaphore, NODE_SEPARATOR, RateLimiter } from '../throttle/index.js';
import { ConcurrencyWindows } from './concurrency.js';
import { ParkedJobs, reclaimNodeLeases, SiteConnectionLeases } from './connection-leases.js';
import { baseLimitsFromConfig } from './effective.js';
import { type LivePath, type LiveShapingState, liveStateReader } from './live-state.js';
import type { Shaping } from './schema.js';
import { ShapingGate, type ShapingGateOptions } from './shaping-gate.js';
import { CONDITION_CACHE_MS, SiteState } from './site-state.js';

export interface ShapingRuntimeParts {
  config: HeraldConfig;
  redis: RedisClient;
  /** The delivery queue holding a job (its shard's): parked jobs are woken on it. */
  queueFor(jobId: string): Queue<DeliveryJobData>;
  events: RedisEventSink;
  shaping: Shaping;
  reputation: TenantReputation;
  logger: Logger;
  /** This run of the node: with `node_id`, connection leases are held in its name. */
  incarnation: string;
  siteOf: ShapingGateOptions['siteOf'];
}

export interface ShapingRuntime {
  /** Site suspensions and rate cuts shared by every relay (automation rules, `herald site`). */
  readonly siteState: SiteState;
  /** Jobs held for a slot, a suspension or a tenant pause (delivery's JobParking). */
  readonly parked: ParkedJobs;
  /** Site-wide connection slots for the SMTP pool. */
  readonly leases: SiteConnectionLeases;
  /** A gate for one delivery worker (its own in-process lane slots). */
  newGate(): DeliveryGate;
  reclaimLeases(): Promise<number>;
  suspendSite(site: string, forMs: number, reason?: string): Promise<number>;
  resumeSite(site: string, reason?: string): Promise<boolean>;
  resumeTenant(tenant: string, reason?: string): Promise<boolean>;
  /** The live shaping state of a delivery path, read without changing it. */
  liveState(path: LivePath): Promise<LiveShapingState>;
  /** A reloaded shaping file and config (its delivery/retry layer) for every gate and read-out. */
  useShaping(next: Pick<ShapingRuntimeParts, 'shaping' | 'siteOf' | 'config'>): void;
}

export function createShapingRuntime(parts: ShapingRuntimeParts): ShapingRuntime {
  const { config, redis, logger } = parts;
  const prefix = config.redis.prefix;
  const parked = new ParkedJobs(redis, prefix, parts.queueFor, logger);
  const semaphore = new LeasedSemaphore(redis, {
    keyPrefix: prefix,
    leaseTtlMs: config.delivery.connection_lease_ttl,
    ...(config.node_id ? { holder: `${config.node_id}${NODE_SEPARATOR}${parts.incarnation}` } : {}),
  });
  const limiter = new RateLimiter(redis, { keyPrefix: prefix });
  const siteState = new SiteState(redis, prefix, parts.events);
  const dailyCap = () => new DailyCap(redis, { keyPrefix: prefix });
  const wakeSite = (site: string) => parked.wakeAll(siteHoldKey(site));
  // What a reload swaps: the gates made so far and the live-state reader follow `current`.
  let current = { shaping: parts.shaping, siteOf: parts.siteOf, config };
  const gates = new Set<ShapingGate>();
  const readLive = (shaping: Shaping) =>
    liveStateReader({ redis, prefix, shaping, siteState, semaphore, limiter, dailyCap: dailyCap() });
  let liveState = readLive(parts.shaping);

  return {
    siteState,
    parked,
    leases: new SiteConnectionLeases(semaphore, parked, logger, limiter, (lane) =>
      laneWindowKey(prefix, lane),
    ),
    newGate: () => {
      const gate = new ShapingGate({
        shaping: current.shaping,
        base: baseLimitsFromConfig(current.config),
        siteOf: current.siteOf,
        limiter,
        dailyCap: dailyCap(),
        siteState,
        reputation: parts.reputation,
        parked,
        windows: new ConcurrencyWindows(redis, prefix),
        now: Date.now,
      });
      gates.add(gate);
      return gate;
    },
    reclaimLeases: async () =>
      config.node_id ? reclaimNodeLeases(semaphore, config.node_id, parked, logger) : 0,
    async suspendSite(site, forMs, reason = 'operator') {
      // An end past what a Date holds would be stored and written in the event, then break the
      // readers that print it (the API's answer, the dashboard).
      if (!(Number.isFinite(forMs) && forMs > 0 && forMs <= MAX_HOLD_MS))
        throw new HeraldError(
          'HERALD_INPUT_INVALID',
          `suspension: ${HOLD_HINT} and more than 0, got ${forMs} ms`,
        );
      return siteState.suspend(site, forMs, reason);
    },
    async resumeSite(site, reason = 'operator') {
      const resumed = await siteState.resume(site, reason);
      await wakeSite(site);
      // A relay that read the suspension just before it was lifted may hold a woken job again
      // until its cached condition expires: wake what was parked meanwhile once more after that.
      await new Promise((resolve) => setTimeout(resolve, CONDITION_CACHE_MS * 2));
      await wakeSite(site);
      return resumed;
    },
    async resumeTenant(tenant, reason = 'operator') {
      const resumed = await parts.reputation.resume(tenant, reason);
      await parked.wakeAll(tenantParkKey(tenant));
      return resumed;
    },
    liveState: (path) => liveState(path),
    useShaping(next) {
      current = { shaping: next.shaping, siteOf: next.siteOf, config: next.config };
      for (const gate of gates)
        gate.useShaping({
          shaping: next.shaping,
          siteOf: next.siteOf,
          base: baseLimitsFromConfig(next.config),
        });
      liveState = readLive(next.shaping);
    },
  };
}
