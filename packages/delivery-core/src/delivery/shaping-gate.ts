/**
 * The shaping gate: before an attempt, find the destination's site (provider, MX set or static
 * route), take the effective limits for it from the shaping file, and enforce the site's message
 * rate across every relay with the Redis GCRA limiter. A job that may not go now books the next
 * free slot (`reserve`) and is rescheduled for exactly that time, keeping the booking in its data;
 * when it comes back it goes without booking again. So a backlog of N jobs behind a throttled
 * site costs O(N) Redis calls, and a throttle deferral never spends a delivery attempt.
 * Needs injected: the shaping file, the provider rules, a RateLimiter, a clock.
 * Suspensions and rate cuts in force for the site (SiteState: automation rules or an operator) are
 * honoured the same way, and `observe` runs the automation rules over each attempt's replies.
 * Not yet here: connection leases per site and source IP.
 */
import { type EffectiveLimits, effectiveLimits, type Shaping } from '../shaping/index.js';
import { type ProviderRule, siteForMxHosts, siteForRoute } from '../sites/index.js';
import type { Rate, RateLimiter } from '../throttle/index.js';
import { PARK_SAFETY_MS, type ParkedJobs } from './connection-leases.js';
import type { AttemptLimits, DeliveryGate } from './process.js';
import type { SiteState } from './site-state.js';

/** A booked slot this close ahead counts as due (BullMQ promotes delayed jobs with some jitter). */
const SLOT_TOLERANCE_MS = 5;
/** Destinations whose limits are kept computed (oldest dropped first). */
const LIMITS_CACHE_MAX_ENTRIES = 10_000;

export interface ShapingGateOptions {
  shaping: Shaping;
  /** The built-in layer: the relay's herald.yaml delivery/retry settings as limits. */
  base?: Readonly<EffectiveLimits>;
  rules: readonly ProviderRule[];
  limiter: RateLimiter;
  /** Suspensions and rate cuts (automation, operator); absent = none. */
  siteState?: SiteState;
  /** Where jobs over a site's in-flight cap wait; they are woken as attempts to the site end. */
  parked?: ParkedJobs;
  now(): number;
}

export interface SiteLimits {
  site: string;
  provider?: string | undefined;
  limits: EffectiveLimits;
}

export class ShapingGate implements DeliveryGate {
  /** Limits per (domain, MX set or route): the shaping file is fixed for the process's life. */
  private readonly cache = new Map<string, SiteLimits>();
  /** Attempts in progress per site in this process. */
  private readonly inFlight = new Map<string, number>();
  /** Jobs this gate parked per site and has not woken yet (a release wakes one). */
  private readonly parkedHere = new Map<string, number>();

  constructor(private readonly options: ShapingGateOptions) {}

  /** The site and effective limits for one destination. */
  limitsFor(
    domain: string,
    hostnames: readonly string[],
    route?: { host: string; port: number },
  ): SiteLimits {
    const cacheKey = `${domain}|${route ? `${route.host}:${route.port}` : hostnames.join(',')}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const { site, provider } = route
      ? { site: siteForRoute(route), provider: undefined }
      : siteForMxHosts(hostnames, this.options.rules);
    const target = { domain, site, ...(provider ? { provider } : {}) };
    const limits = effectiveLimits(this.options.shaping, target, this.options.base).limits;
    const result: SiteLimits = { site, provider, limits };
    if (this.cache.size >= LIMITS_CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, result);
    return result;
  }

  admit: DeliveryGate['admit'] = async ({ domain, hosts, route, data }) => {
    const { site, limits } = this.limitsFor(
      domain,
      hosts.map((h) => h.hostname),
      route?.via,
    );
    data.site = site;
    const condition = this.options.siteState ? await this.options.siteState.condition(site) : {};
    if (condition.suspendedUntil !== undefined) {
      return { admitted: false, until: condition.suspendedUntil, reason: `site ${site} suspended` };
    }
    // At most max_connections attempts per site in flight here: the rest wait parked instead of
    // holding delivery slots that other sites need (a dead site must not delay a healthy one).
    if ((this.inFlight.get(site) ?? 0) >= limits.max_connections) {
      this.parkedHere.set(site, (this.parkedHere.get(site) ?? 0) + 1);
      return {
        admitted: false,
        until: this.options.now() + PARK_SAFETY_MS,
        reason: `site ${site} has ${limits.max_connections} attempts in flight`,
        parkOn: site,
      };
    }
    const rate = slower(limits.max_message_rate, condition.slow?.rate);
    if (rate) {
      const key = `site:${site}`;
      const booked = data.rateSlot?.key === key ? data.rateSlot.at : undefined;
      if (booked !== undefined) {
        if (this.options.now() + SLOT_TOLERANCE_MS < booked) {
          return { admitted: false, until: booked, reason: `max_message_rate ${site}` };
        }
      } else {
        const slot = await this.options.limiter.reserve(key, rate);
        if (slot.delayMs > SLOT_TOLERANCE_MS) {
          data.rateSlot = { key, at: this.options.now() + slot.delayMs };
          return { admitted: false, until: data.rateSlot.at, reason: `max_message_rate ${site}` };
        }
      }
      delete data.rateSlot;
    }
    this.inFlight.set(site, (this.inFlight.get(site) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(site) ?? 1) - 1;
      if (left > 0) this.inFlight.set(site, left);
      else this.inFlight.delete(site);
      const parked = this.parkedHere.get(site) ?? 0;
      if (parked > 0) {
        if (parked > 1) this.parkedHere.set(site, parked - 1);
        else this.parkedHere.delete(site);
        void this.options.parked?.wakeOne(site).catch(() => {});
      }
    };
    return { admitted: true, release, limits: attemptLimits(site, limits) };
  };

  observe: NonNullable<DeliveryGate['observe']> = async ({ domain, hosts, route }, replies) => {
    const { siteState, shaping } = this.options;
    if (!siteState || shaping.automation.length === 0) return;
    const { site } = this.limitsFor(
      domain,
      hosts.map((h) => h.hostname),
      route?.via,
    );
    await siteState.observe(site, shaping.automation, replies).catch(() => {});
  };
}

/** The slower of two rates (fewer messages per millisecond); undefined when neither is set. */
function slower(a: Rate | undefined, b: Rate | undefined): Rate | undefined {
  if (!a || !b) return a ?? b;
  return a.count / a.periodMs <= b.count / b.periodMs ? a : b;
}

/** The per-attempt part of the effective limits (connections per session, timeouts, TLS). */
function attemptLimits(site: string, limits: EffectiveLimits): AttemptLimits {
  return {
    maxMessagesPerConnection: limits.max_messages_per_connection,
    maxConnections: limits.max_connections,
    site,
    siteMaxConnections: limits.max_connections,
    timeouts: {
      connectMs: limits.connect_timeout,
      greetingMs: limits.greeting_timeout,
      commandMs: limits.command_timeout,
      dataMs: limits.data_timeout,
    },
    tls: limits.tls === 'verify' ? 'require' : limits.tls,
    tlsVerify: limits.tls === 'verify',
  };
}
