/**
 * The TLS-RPT counters: per policy domain (the recipient domain), per UTC day, per policy (type +
 * policy strings + mx patterns), the successful sessions and the failed ones by failure detail
 * (result type, receiving MX and IP, reason, sending IP). Fed by every attempt event of this process
 * (`observe`, an event listener): one MULTI per attempt with a TLS verdict — SADD the domain into
 * the day's index, HINCRBY its counter, HSETNX the policy's description, PEXPIRE both — written
 * without waiting (a failed write is logged, never delays or fails a delivery). Keys expire
 * COUNTER_TTL_MS after the day's last write, time enough to send the report the next day and to
 * retry. `readDay` turns a day's counters back into the report's tallies.
 * Needs: the command connection, the prefix, a logger.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { HeraldEvent } from '../events/index.js';
import { tlsRptDayKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { type TlsOutcome, type TlsPolicyType, type TlsResultType, tlsOutcomeOf } from './outcome.js';
import type { PolicyTally } from './report.js';

/** A day's counters live this long after their last write (the report goes out the next day). */
export const COUNTER_TTL_MS = 3 * 86_400_000;
/** Hex characters of a policy's digest in field names. */
const POLICY_ID_CHARS = 12;

/** `YYYY-MM-DD` of the UTC day of `ms`. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

interface PolicyDescription {
  policyType: TlsPolicyType;
  policyString?: string[];
  mxHosts?: string[];
}

/**
 * A failure detail as stored in a field name: [result type, mx, ip, reason, sending ip]. Fields
 * written before the sending IP was kept have four elements (read as none).
 */
type Detail = [TlsResultType, string, string, string, string?];

function describePolicy(outcome: TlsOutcome): { id: string; json: string } {
  const policy: PolicyDescription = {
    policyType: outcome.policyType,
    ...(outcome.policyString ? { policyString: outcome.policyString } : {}),
    ...(outcome.mxHosts ? { mxHosts: outcome.mxHosts } : {}),
  };
  const json = JSON.stringify(policy);
  return { id: createHash('sha256').update(json).digest('hex').slice(0, POLICY_ID_CHARS), json };
}

export class TlsReportCounter {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
    private readonly ttlMs = COUNTER_TTL_MS,
  ) {}

  /** An event listener: counts each attempt event's TLS outcome (others are ignored). */
  readonly observe = (event: HeraldEvent): void => {
    if (event.type !== 'attempt') return;
    const outcome = tlsOutcomeOf(event);
    if (!outcome) return;
    this.record(event.domain, event.time, outcome).catch((err: unknown) =>
      this.logger.warn({ err, domain: event.domain }, 'TLS report counter write failed'),
    );
  };

  /** Counts one session's outcome for `domain` on the UTC day of `time`. */
  async record(domain: string, time: number, outcome: TlsOutcome): Promise<void> {
    const policyDomain = domain.toLowerCase();
    const keys = tlsRptDayKeys(this.prefix, utcDay(time));
    const counts = keys.counts(policyDomain);
    const policy = describePolicy(outcome);
    const field = outcome.success
      ? `ok:${policy.id}`
      : `f:${policy.id}:${JSON.stringify([
          outcome.resultType ?? 'validation-failure',
          outcome.receivingMx ?? '',
          outcome.receivingIp ?? '',
          outcome.reason ?? '',
          outcome.sendingIp ?? '',
        ] satisfies Detail)}`;
    await this.redis
      .multi()
      .sadd(keys.domains, policyDomain)
      .pexpire(keys.domains, this.ttlMs)
      .hsetnx(counts, `p:${policy.id}`, policy.json)
      .hincrby(counts, field, 1)
      .pexpire(counts, this.ttlMs)
      .exec();
  }
}

/** The policy domains counted on `day` (`YYYY-MM-DD`). */
export async function countedDomains(redis: RedisClient, prefix: string, day: string): Promise<string[]> {
  return (await redis.smembers(tlsRptDayKeys(prefix, day).domains)).sort();
}

/** One domain's tallies for `day`, one per policy, failures grouped by detail. */
export async function readDay(
  redis: RedisClient,
  prefix: string,
  day: string,
  domain: string,
): Promise<PolicyTally[]> {
  const fields = await redis.hgetall(tlsRptDayKeys(prefix, day).counts(domain));
  const tallies = new Map<string, PolicyTally>();
  const tally = (id: string): PolicyTally => {
    let found = tallies.get(id);
    if (!found) {
      const policy = JSON.parse(fields[`p:${id}`] ?? '{"policyType":"no-policy-found"}') as PolicyDescription;
      found = { ...policy, successes: 0, failures: [] };
      tallies.set(id, found);
    }
    return found;
  };
  for (const [field, value] of Object.entries(fields)) {
    const count = Number(value);
    if (field.startsWith('ok:')) tally(field.slice(3)).successes += count;
    else if (field.startsWith('f:')) {
      const rest = field.slice(2);
      const colon = rest.indexOf(':');
      const [resultType, mx, ip, reason, sendingIp] = JSON.parse(rest.slice(colon + 1)) as Detail;
      tally(rest.slice(0, colon)).failures.push({
        resultType,
        ...(sendingIp ? { sendingIp } : {}),
        ...(mx ? { receivingMx: mx } : {}),
        ...(ip ? { receivingIp: ip } : {}),
        ...(reason ? { reason } : {}),
        count,
      });
    }
  }
  // Policies only ever described (a write cut short) still count: every policy seen is reported.
  for (const field of Object.keys(fields)) if (field.startsWith('p:')) tally(field.slice(2));
  return [...tallies.values()];
}
