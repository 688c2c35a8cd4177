/**
 * The shaping gate: before an attempt, find the destination's site (provider, MX set or static
 * route), take the effective limits for it from the shaping file, and enforce the site's message
 * rate across every relay with the Redis GCRA limiter. A job that may not go now books the next
 * free slot (`reserve`) and is rescheduled for exactly that time, keeping the booking in its data;
 * when it comes back it goes without booking again; each further transaction of an admitted
 * attempt (recipients over a server's limit, VERP) takes one more message, waiting for it up to
 * FURTHER_MESSAGE_MAX_WAIT_MS, else its recipients wait for the next attempt (AttemptLimits.messageSlot). So a backlog of N jobs behind a throttled
 * site costs O(N) Redis calls, and a throttle deferral never spends a delivery attempt.
 * Needs injected: the shaping file, how a destination maps to its site (`siteOf`: the sites
 * module's naming, injected so shaping does not import sites, which reads shaping's provider
 * data), a RateLimiter, a clock. Implements delivery's gate port (DeliveryGate).
 * Suspensions and rate cuts in force for the site (SiteState: automation rules or an operator) are
 * honoured the same way, and `observe` runs the automation rules over each attempt's replies;
 * `daneMode` answers the destination's `dane` (its limits) for delivery's TLS policy.
 * Before the site's rate: a paused tenant's bulk mail, tenant and campaign rates; then the source
 * IP (SourcePicker: pools, warm-up caps), and the lane's in-flight cap (LaneSlots) at its
 * concurrency window (ConcurrencyWindows: Postfix-like feedback from each attempt's release).
 * Connection leases per lane are the SMTP pool's (SiteConnectionLeases). Order: ARCHITECTURE
 * "Traffic shaping". The limits per destination and source IP are destination-limits.ts's
 * (cached), what an admitted attempt is told of them attempt-limits.ts's.
 */

import { type DeliveryGate, type GateDestination, PARK_SAFETY_MS } from '../delivery/index.js';
import {
  campaignRateKey,
  laneOf,
  laneRateKey,
  siteHoldKey,
  tenantParkKey,
  tenantRateKey,
} from '../keys/index.js';
import type { DeliveryJobData } from '../queue/index.js';
import type { TenantReputation } from '../reputation/index.js';
import type { DailyCap, Rate, RateLimiter } from '../throttle/index.js';
import { attemptLimits } from './attempt-limits.js';
import type { ConcurrencyWindows } from './concurrency.js';
import type { ParkedJobs } from './connection-leases.js';
import { DestinationLimits, type SiteLimits, type SiteOf } from './destination-limits.js';
import type { EffectiveLimits } from './effective.js';
import { LaneSlots } from './lane-slots.js';
import { DEFAULT_STREAM } from './pools.js';
import { messageSlot, passRates, type RateStage } from './rate-stages.js';
import type { Shaping } from './schema.js';
import type { SiteState } from './site-state.js';
import { SourcePicker, type WarmupTake } from './source-picker.js';

/** A paused tenant's parked bulk job looks again after this even if no resume wakes it. */
const TENANT_PAUSE_RECHECK_MS = 10 * 60_000;

export interface ShapingGateOptions {
  shaping: Shaping;
  /** The built-in layer: the relay's herald.yaml delivery/retry settings as limits. */
  base?: Readonly<EffectiveLimits>;
  /** The site of a destination: its MX host names, or the static route it is sent through. */
  siteOf(hostnames: readonly string[], route?: { host: string; port: number }): SiteOf;
  limiter: RateLimiter;
  /** Suspensions and rate cuts (automation, operator); absent = none. */
  siteState?: SiteState;
  /** Where jobs over a site's in-flight cap wait; they are woken as attempts to the site end. */
  parked?: ParkedJobs;
  /** Warm-up daily caps of pool IPs; absent = warm-up schedules are not enforced. */
  dailyCap?: DailyCap;
  /** Tenant pauses (reputation): a paused tenant's bulk streams wait parked; absent = none. */
  reputation?: TenantReputation;
  /** Concurrency feedback per lane; absent = every lane may use its max_connections at once. */
  windows?: ConcurrencyWindows;
  now(): number;
  random?: () => number;
}

export class ShapingGate implements DeliveryGate {
  /** Limits per destination and source IP, until a reloaded shaping file (useShaping). */
  private destinations: DestinationLimits;
  /** Attempts in flight per lane (site, or site@source IP) in this process. */
  private readonly slots: LaneSlots;
  private sources: SourcePicker;

  constructor(private options: ShapingGateOptions) {
    this.slots = new LaneSlots(options.parked, options.now);
    this.destinations = new DestinationLimits(options);
    this.sources = sourcePicker(options);
  }

  /**
   * A reloaded shaping file (live reload): the next admission computes its limits from it. The
   * lanes' slots and attempts in flight stay; a lower max_connections holds new attempts only.
   */
  useShaping(change: Pick<ShapingGateOptions, 'shaping' | 'siteOf' | 'base'>): void {
    this.options = { ...this.options, ...change };
    this.destinations = new DestinationLimits(this.options);
    this.sources = sourcePicker(this.options);
  }

  /** The site and effective limits for one destination. */
  limitsFor(
    domain: string,
    hostnames: readonly string[],
    route?: { host: string; port: number },
  ): SiteLimits {
    return this.destinations.of(domain, hostnames, route);
  }

  /**
   * The site and limits of a destination the delivery asks about: an MX delivery's site is named
   * after the MX RRset (`mxNames`), not after the hosts this attempt picked to try.
   */
  private limitsOf({ domain, hosts, route, mxNames }: GateDestination): SiteLimits {
    return this.limitsFor(domain, mxNames ?? hosts.map((h) => h.hostname), route?.via);
  }

  admit: DeliveryGate['admit'] = async (request) => {
    const { domain, data } = request;
    const now = this.options.now;
    const siteLimits = this.limitsOf(request);
    const { site } = siteLimits;
    data.site = site;
    const condition = this.options.siteState ? await this.options.siteState.condition(site) : {};
    if (condition.suspendedUntil !== undefined) {
      // Held until the suspension ends, or until an operator lifts it (the resume wakes them).
      return {
        admitted: false,
        until: condition.suspendedUntil,
        reason: `site ${site} suspended`,
        parkOn: siteHoldKey(site),
      };
    }
    // A tenant paused for its reputation sends transactional mail only; the rest waits until an
    // operator resumes it (parked on the tenant: the resume wakes them).
    if (
      (data.stream ?? DEFAULT_STREAM) !== DEFAULT_STREAM &&
      (await this.options.reputation?.paused(data.tenant))
    ) {
      return {
        admitted: false,
        until: now() + TENANT_PAUSE_RECHECK_MS,
        reason: `tenant ${data.tenant} paused`,
        parkOn: tenantParkKey(data.tenant),
      };
    }
    // Tenant and campaign rates come before any site's: one tenant's blast waits in its own lane.
    const tenantWait = await passRates(this.tenantStages(data), data, this.options.limiter, now);
    if (tenantWait)
      return { admitted: false, until: tenantWait.until, reason: `max_message_rate ${tenantWait.key}` };

    const pick = this.sources.pick(site, data, condition.suspendedSources);
    if (pick.kind === 'wait') return { admitted: false, until: pick.until, reason: pick.reason };
    const source = pick.kind === 'picked' ? pick.source : undefined;
    const limits = source ? this.destinations.through(domain, siteLimits, source) : siteLimits.limits;
    // Limits hold per (site, source IP) like PowerMTA's and KumoMTA's: the lane.
    const lane = laneOf(site, source?.ip);

    // The lane's connection window (concurrency feedback), at most max_connections, caps its
    // attempts in flight here: the rest wait (briefly in memory on a fast lane, else parked)
    // instead of holding delivery slots that other sites need.
    const window = this.options.windows
      ? await this.options.windows.limit(lane, limits.initial_connections, limits.max_connections)
      : limits.max_connections;
    const release = await this.slots.take(lane, window);
    if (!release) {
      if (source) data.source = source.ip;
      this.slots.parkedOne(lane);
      return {
        admitted: false,
        until: now() + PARK_SAFETY_MS,
        reason: `${lane} has ${window} attempts in flight`,
        parkOn: lane,
      };
    }
    const rate = slower(limits.max_message_rate, condition.slow?.rate);
    const { windows } = this.options;
    let current: number;
    let warmup: WarmupTake | undefined;
    try {
      const siteWait = rate
        ? await passRates([{ key: laneRateKey(lane), rate }], data, this.options.limiter, now)
        : undefined;
      if (siteWait) {
        release(false);
        if (source) data.source = source.ip;
        return { admitted: false, until: siteWait.until, reason: `max_message_rate ${lane}` };
      }
      if (source) {
        const pending = data.recipients.filter((r) => r.state === 'pending').length;
        warmup = await this.sources.take(site, source, pending);
        if (!warmup) {
          release(false);
          delete data.source;
          return {
            admitted: false,
            until: now(),
            reason: `warm-up cap of ${source.ip} at ${site} reached today`,
          };
        }
        data.source = source.ip;
      }
      // The window may have shrunk while this job waited for its slot: the leases use it as it is
      // now. Read inside the try: a Redis failure here must give the slot back too.
      current = windows
        ? await windows.limit(lane, limits.initial_connections, limits.max_connections)
        : window;
    } catch (err) {
      release(false);
      // Nothing is sent from this admission: the recipients it counted against the IP's warm-up
      // cap go back (before, each failed admission lowered the day's cap for good). Not awaited:
      // on a client that queues while Redis is away it runs once Redis answers again.
      void warmup?.giveBack().catch(() => {});
      throw err;
    }
    delete data.rateSlots;
    return {
      admitted: true,
      release: (connection) => {
        // Feedback first: it shrinks this process's window at once, before the slot is handed on.
        if (connection && windows)
          void windows.feedback(lane, connection, limits.initial_connections, limits.max_connections);
        release();
      },
      limits: {
        ...attemptLimits(lane, limits, source, current),
        // Each further transaction of the attempt is a message to the site: one more of its rate.
        ...(rate ? { messageSlot: messageSlot(this.options.limiter, laneRateKey(lane), rate) } : {}),
      },
    };
  };

  /** The tenant's and its campaign's rate stages for a job (none when the file sets none). */
  private tenantStages(data: DeliveryJobData): RateStage[] {
    const tenants = this.options.shaping.tenants;
    const name = data.tenant.toLowerCase();
    const tenant = Object.hasOwn(tenants, name) ? tenants[name] : undefined;
    if (!tenant) return [];
    const stages: RateStage[] = [];
    if (tenant.max_message_rate) stages.push({ key: tenantRateKey(name), rate: tenant.max_message_rate });
    if (tenant.campaign_max_message_rate && data.campaign)
      stages.push({ key: campaignRateKey(name, data.campaign), rate: tenant.campaign_max_message_rate });
    return stages;
  }

  queueLifetimeMs: NonNullable<DeliveryGate['queueLifetimeMs']> = (request) =>
    this.limitsOf(request).limits.max_queue_lifetime;

  /** The destination's `dane` (provider, site or domain layer, else delivery.dane.mode). */
  daneMode: NonNullable<DeliveryGate['daneMode']> = (request) => this.limitsOf(request).limits.dane;

  observe: NonNullable<DeliveryGate['observe']> = async (request, replies) => {
    const { siteState, shaping } = this.options;
    if (!siteState || shaping.automation.length === 0) return;
    const { site } = this.limitsOf(request);
    await siteState.observe(site, shaping.automation, replies, request.source).catch(() => {});
  };
}

/** The slower of two rates (fewer messages per millisecond); undefined when neither is set. */
function slower(a: Rate | undefined, b: Rate | undefined): Rate | undefined {
  if (!a || !b) return a ?? b;
  return a.count / a.periodMs <= b.count / b.periodMs ? a : b;
}

function sourcePicker(options: ShapingGateOptions): SourcePicker {
  return new SourcePicker({
    shaping: options.shaping,
    dailyCap: options.dailyCap,
    now: options.now,
    ...(options.random ? { random: options.random } : {}),
  });
}
