/**
 * Live shaping state per site, in Redis so every relay sees it: suspensions and temporary rate
 * cuts (set by automation rules or an operator; each lifts itself when its time ends, by key
 * expiry), and the match counters of threshold rules. Every transition emits a SiteEvent.
 *
 * Keys (keys/shaping.ts, tagged by site): `<prefix>:site:{<site>}:suspended` (value: until, epoch
 * ms), `<prefix>:site:{<site>}:slow` (value: "count/periodMs/until"), `<prefix>:site:{<site>}:sources`
 * (hash: source IP → until, the source IPs suspended at this site; the key lives as long as the
 * longest), `<prefix>:site:{<site>}:rule:<i>` (threshold counter, expires after the rule's window).
 * Needs injected: an ioredis client, the event sink, a clock.
 */

import type { EventSink } from '../events/index.js';
import { type SiteStateField, siteStateKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import type { Rate } from '../throttle/index.js';
import { type ReplyLike, ruleMatches } from './automation.js';
import { formatRate } from './rate.js';
import { type AutomationRule, DEFAULT_SLOW_FOR_MS } from './schema.js';

export interface SiteCondition {
  suspendedUntil?: number;
  slow?: { rate: Rate; until: number };
  /** Source IPs suspended at this site, with the time each suspension ends (epoch ms). */
  suspendedSources?: Map<string, number>;
}

/**
 * KEYS[1] counter. ARGV[1] window ms. Increments; the first increment starts the window.
 * Returns the count within the window.
 */
const COUNT_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** How long a site's condition read from Redis is reused in this process. */
export const CONDITION_CACHE_MS = 250;
const CONDITION_CACHE_MAX_SITES = 10_000;

export class SiteState {
  private readonly cache = new Map<string, { at: number; value: SiteCondition }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly events: EventSink,
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('heraldSiteCount', { numberOfKeys: 1, lua: COUNT_LUA });
  }

  private key(site: string, field: SiteStateField): string {
    return siteStateKey(this.prefix, site, field);
  }

  /**
   * The site's suspension and rate cut in force now: one round trip, then remembered for
   * CONDITION_CACHE_MS so a busy site costs one read per interval, not one per message (another
   * relay's suspension takes effect here within that interval).
   */
  async condition(site: string): Promise<SiteCondition> {
    const now = this.now();
    const cached = this.cache.get(site);
    if (cached && now - cached.at < CONDITION_CACHE_MS) return cached.value;
    // Two reads, no transaction needed: sent together (one round trip on an auto-pipelined client).
    const [[suspended, slow], sources] = await Promise.all([
      this.redis.mget(this.key(site, 'suspended'), this.key(site, 'slow')),
      this.redis.hgetall(this.key(site, 'sources')),
    ]);
    const result: SiteCondition = {};
    const suspendedSources = new Map<string, number>();
    for (const [ip, value] of Object.entries(sources))
      if (Number(value) > now) suspendedSources.set(ip, Number(value));
    if (suspendedSources.size > 0) result.suspendedSources = suspendedSources;
    const until = Number(suspended);
    if (suspended && until > now) result.suspendedUntil = until;
    if (slow) {
      const [count, periodMs, slowUntil] = slow.split('/').map(Number);
      if (count && periodMs && slowUntil && slowUntil > now)
        result.slow = { rate: { count, periodMs }, until: slowUntil };
    }
    if (this.cache.size >= CONDITION_CACHE_MAX_SITES) this.cache.clear();
    this.cache.set(site, { at: now, value: result });
    return result;
  }

  async suspend(site: string, forMs: number, reason: string): Promise<number> {
    this.cache.delete(site);
    const until = this.now() + forMs;
    await this.redis.set(this.key(site, 'suspended'), String(until), 'PX', forMs);
    this.events.emit({ type: 'site_suspended', time: this.now(), site, until, reason });
    return until;
  }

  async slow(site: string, rate: Rate, forMs: number, reason: string): Promise<number> {
    this.cache.delete(site);
    const until = this.now() + forMs;
    await this.redis.set(this.key(site, 'slow'), `${rate.count}/${rate.periodMs}/${until}`, 'PX', forMs);
    this.events.emit({ type: 'site_slowed', time: this.now(), site, until, rate: formatRate(rate), reason });
    return until;
  }

  /** Stops using one source IP at `site` for `forMs` (the other IPs of its pool go on). */
  async suspendSource(site: string, source: string, forMs: number, reason: string): Promise<number> {
    this.cache.delete(site);
    const until = this.now() + forMs;
    const key = this.key(site, 'sources');
    await this.redis
      .multi()
      .hset(key, source, String(until))
      .pexpire(key, forMs, 'GT')
      .pexpire(key, forMs, 'NX')
      .exec();
    this.events.emit({ type: 'source_suspended', time: this.now(), site, source, until, reason });
    return until;
  }

  /** Lifts a suspension, a rate cut and every source IP suspension at the site now. True when there was one. */
  async resume(site: string, reason: string): Promise<boolean> {
    this.cache.delete(site);
    const removed = await this.redis.del(
      this.key(site, 'suspended'),
      this.key(site, 'slow'),
      this.key(site, 'sources'),
    );
    if (removed > 0) this.events.emit({ type: 'site_resumed', time: this.now(), site, reason });
    return removed > 0;
  }

  /**
   * Runs the automation rules over the replies of one attempt at `site`. A rule without a
   * threshold acts on its first match; with one, when its count within the window is reached
   * (then the count starts over). `suspend_source` needs the source IP the replies came to; mail
   * sent without a pool has none, and the action is skipped.
   */
  async observe(
    site: string,
    rules: readonly AutomationRule[],
    replies: readonly ReplyLike[],
    source?: string,
  ): Promise<void> {
    for (const [index, rule] of rules.entries()) {
      const reply = replies.find((r) => ruleMatches(rule, r));
      if (!reply) continue;
      if (rule.threshold) {
        const counter = this.key(site, `rule:${index}`);
        const run = (this.redis as unknown as Record<string, (...a: string[]) => Promise<number>>)
          .heraldSiteCount!;
        const count = await run.call(this.redis, counter, String(rule.threshold.within));
        if (count < rule.threshold.count) continue;
        await this.redis.del(counter);
      }
      const reason =
        `automation rule ${index}: ${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text}`.slice(
          0,
          300,
        );
      const { action } = rule;
      if (action.suspend !== undefined) await this.suspend(site, action.suspend, reason);
      else if (action.slow_to !== undefined)
        await this.slow(site, action.slow_to, action.for ?? DEFAULT_SLOW_FOR_MS, reason);
      else if (action.suspend_source !== undefined && source !== undefined)
        await this.suspendSource(site, source, action.suspend_source, reason);
    }
  }
}
