/**
 * The shaping gate: before an attempt, find the destination's site (provider, MX set or static
 * route), take the effective limits for it from the shaping file, and enforce the site's message
 * rate across every relay with the Redis GCRA limiter. A job that may not go now books the next
 * free slot (`reserve`) and is rescheduled for exactly that time, keeping the booking in its data;
 * when it comes back it goes without booking again. So a backlog of N jobs behind a throttled
 * site costs O(N) Redis calls, and a throttle deferral never spends a delivery attempt.
 * Needs injected: the shaping file, the provider rules, a RateLimiter, a clock.
 * Not yet here: connection leases per site and source IP, automation suspensions (issue 4).
 */
import { type EffectiveLimits, effectiveLimits, type Shaping } from '../shaping/index.js';
import { type ProviderRule, siteForMxHosts, siteForRoute } from '../sites/index.js';
import type { RateLimiter } from '../throttle/index.js';
import type { DeliveryGate } from './process.js';

/** A booked slot this close ahead counts as due (BullMQ promotes delayed jobs with some jitter). */
const SLOT_TOLERANCE_MS = 5;

export interface ShapingGateOptions {
  shaping: Shaping;
  rules: readonly ProviderRule[];
  limiter: RateLimiter;
  now(): number;
}

export interface SiteLimits {
  site: string;
  provider?: string | undefined;
  limits: EffectiveLimits;
}

export class ShapingGate implements DeliveryGate {
  constructor(private readonly options: ShapingGateOptions) {}

  /** The site and effective limits for one destination. */
  limitsFor(
    domain: string,
    hostnames: readonly string[],
    route?: { host: string; port: number },
  ): SiteLimits {
    const { site, provider } = route
      ? { site: siteForRoute(route), provider: undefined }
      : siteForMxHosts(hostnames, this.options.rules);
    const target = { domain, site, ...(provider ? { provider } : {}) };
    return { site, provider, limits: effectiveLimits(this.options.shaping, target).limits };
  }

  admit: DeliveryGate['admit'] = async ({ domain, hosts, route, data }) => {
    const { site, limits } = this.limitsFor(
      domain,
      hosts.map((h) => h.hostname),
      route?.via,
    );
    const rate = limits.max_message_rate;
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
    return { admitted: true, release: () => {} };
  };
}
