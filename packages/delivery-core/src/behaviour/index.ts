/**
 * Behaviour: compromised-account detection (config `behaviour`). The account is the SMTP user a
 * session authenticated as, else the tenant (an API key's, `send()`'s, a trusted network's
 * `default`), lower-cased. Intake marks each accepted message with its account (`mark`) and the
 * spool counts it in the enqueue MULTI (counters.ts; no extra round trip); delivery's hard bounces
 * and the bounce-processor's hard bounces and complaints count for the message's account. Every
 * `evaluate_interval` each relay judges the accounts it saw since its last pass (at most
 * MAX_ACCOUNTS_PER_PASS; the rest wait for the next) against the rules (rules.ts); bounces and
 * complaints are judged when counted. A rule that trips flags the account (flags.ts, durable,
 * once) and emits `account_flagged`; from then on intake holds the account's newly accepted mail
 * in quarantine (reason `behaviour:<rule>`, the client still gets 250) until an operator
 * unflags it (`account_unflagged`; the counts up to then are not judged again); held mail stays
 * held until released. What one flag episode holds is bounded: once the account's held messages
 * reach `max_held_messages` or their bytes `max_held_bytes`, its new mail is refused (451 4.7.1,
 * the `accountHeld` refusal; nothing accepted, no event; `herald_behaviour_refused_total{cap}`).
 * `decide` reads the per-process copy of the flags and held counts (refreshed every
 * FLAG_CACHE_REFRESH_MS, this process's own holds counted at once), never Redis, so the caps can be
 * passed by what other relays hold within that staleness (about a second of their intake for the
 * account) plus the holds in flight here; the last message held may pass `max_held_bytes` by its size.
 * A held message's size and the caps: held.ts.
 * Needs injected: a client, the prefix and `behaviour` section, the event sink, the shard layout, a meter.
 */
import type { BehaviourConfig, BehaviourRules } from '../config/index.js';
import { behaviourRulesFor } from '../config/index.js';
import type { EventSink } from '../events/index.js';
import type { RedisClient } from '../redis/index.js';
import {
  accountOfMessage,
  type BehaviourMark,
  countFeedback,
  type RawFigures,
  readFigures,
  sinceCleared,
} from './counters.js';
import { type AccountFlag, FLAG_CACHE_REFRESH_MS, FlagStore, type HeldTally } from './flags.js';
import { type HeldState, type HoldCap, heldStateOf } from './held.js';
import { bucketsNeeded, judge, judgesAnything } from './rules.js';

export {
  type BehaviourMark,
  bucketsOf,
  type CountedMessage,
  HOUR_BUCKET_MS,
  MINUTE_BUCKET_MS,
  minutesOf,
  queueBehaviourCounts,
  type RawFigures,
} from './counters.js';
export { type AccountFlag, FLAG_CACHE_REFRESH_MS, type HeldTally } from './flags.js';
export { HELD_ENVELOPE_COPIES, type HeldState, type HoldCap, heldBytesOf } from './held.js';
export { BEHAVIOUR_RULES, type BehaviourRule, bucketsNeeded, judge, RULE_TABLE, type Trip } from './rules.js';

/** Most accounts one evaluation pass judges; the rest stay for the next pass. */
export const MAX_ACCOUNTS_PER_PASS = 1_000;
/** Most accounts remembered as seen between passes. */
const MAX_SEEN_ACCOUNTS = 100_000;

/** An account as an operator reads it (`herald account status`, GET /v1/accounts/{account}). */
export interface AccountStatus {
  account: string;
  rules: BehaviourRules;
  /** Its counts now, as the rules read them. */
  figures: RawFigures;
  flag?: AccountFlag;
  /** Held in its flag episode (cleared at unflag; no cap is reached unless flagged). */
  held: HeldState;
}

/** A flagged account with what it holds (`herald account list`, GET /v1/accounts). */
export interface FlaggedAccount extends AccountFlag {
  held: HeldState;
}

/**
 * The behaviour stage's answer for an account's new mail: spool it (not flagged), hold it
 * (flagged; then `countHeld`), or refuse it (flagged, its held mail at a cap).
 */
export type BehaviourDecision =
  | { action: 'spool' }
  | { action: 'hold'; flag: AccountFlag }
  | { action: 'refuse'; flag: AccountFlag; cap: HoldCap };

/** What the stage counts (metrics/: herald_behaviour_refused_total{cap}). */
export interface BehaviourMeter {
  refused(cap: HoldCap): void;
}

export interface Behaviour {
  /** The account of a submission: its SMTP user, else its tenant (lower-cased). */
  accountOf(submission: { user?: string | undefined; tenant: string }): string;
  /** What the spool counts for a message of this account (and notes the account for the next pass). */
  mark(account: string, tenant: string): BehaviourMark;
  /**
   * What to do with the account's new mail, from this process's copy of the flags and held counts
   * (no I/O); a `refuse` is counted (the meter).
   */
  decide(account: string): BehaviourDecision;
  /**
   * Counts a message just held for the flagged account (`decide` said `hold`; `bytes` from
   * `heldBytesOf`: body and envelope copies): a call of its own
   * right after the hold's MULTI (that one is in the message's queue-shard slot, the counts are
   * not). Never rejects: a failed count is reported to `onError` (the message stays held, uncounted).
   */
  countHeld(account: string, bytes: number): Promise<void>;
  /** Judges one account now; its flag when flagged (now or before). */
  evaluate(account: string, tenant: string): Promise<AccountFlag | undefined>;
  /** Counts hard bounces or complaints for the account, then judges it. */
  countFeedback(account: string, tenant: string, kind: 'hard' | 'complaint', n: number): Promise<void>;
  /** The account a message was accepted for (while bounce / complaint rules keep the record). */
  accountOfMessage(messageId: string, shard: number): Promise<string | undefined>;
  status(account: string): Promise<AccountStatus>;
  flagged(): Promise<FlaggedAccount[]>;
  /** Lifts a flag (an `account_unflagged` event); undefined when the account was not flagged. */
  unflag(account: string, by?: string): Promise<AccountFlag | undefined>;
  /** Reads the flags, then refreshes them and runs the passes until `stop`. */
  start(): Promise<void>;
  stop(): void;
}

export interface BehaviourParts {
  redis: RedisClient;
  prefix: string;
  behaviour: BehaviourConfig;
  events: EventSink;
  shards?: { readonly layout: { readonly max: number } };
  now?: () => number;
  /** A pass, refresh or held count that failed (Redis down): logged by the caller. */
  onError?: (err: unknown) => void;
  /** Counts refusals at the held caps; absent: not counted. */
  meter?: BehaviourMeter;
}

export function createBehaviour(parts: BehaviourParts): Behaviour {
  const { redis, prefix, behaviour, events } = parts;
  const now = parts.now ?? Date.now;
  const flags = new FlagStore(redis, prefix);
  const seen = new Map<string, string>();
  const timers: NodeJS.Timeout[] = [];
  const allRules = [behaviour.rules, ...Object.values(behaviour.accounts)];
  // Bounces and complaints come back later: a message's account is kept as long as they are judged.
  const attributeMs = Math.max(
    0,
    ...allRules.flatMap((r) => [r.bounce_spike?.window ?? 0, r.complaint_spike?.window ?? 0]),
  );
  const shardCount = () => parts.shards?.layout.max ?? 1;
  const fail = (err: unknown) => parts.onError?.(err);
  const heldState = (tally: HeldTally, flagged: boolean) => heldStateOf(tally, flagged, behaviour);

  // After an unflag, only the minute buckets that begin after it are judged (the burst that was
  // flagged is not flagged again); the hourly baseline stays.
  const figuresOf = async (account: string, rules: BehaviourRules) => {
    const at = now();
    const [raw, cleared] = await Promise.all([
      readFigures(redis, prefix, account, { ...bucketsNeeded(rules), shards: shardCount(), now: at }),
      flags.clearedAt(account),
    ]);
    return cleared === undefined ? raw : sinceCleared(raw, at, cleared);
  };

  const evaluate = async (account: string, tenant: string): Promise<AccountFlag | undefined> => {
    const known = flags.cached(account);
    if (known) return known;
    const rules = behaviourRulesFor(behaviour, account);
    if (!judgesAnything(rules)) return undefined;
    const trip = judge(rules, await figuresOf(account, rules));
    if (!trip) return undefined;
    const flag: AccountFlag = { account, tenant, ...trip, since: now() };
    if (!(await flags.flag(flag))) return flags.read(account);
    events.emit({
      type: 'account_flagged',
      time: flag.since,
      account,
      tenant,
      rule: trip.rule,
      figures: trip.figures,
      reason: trip.reason,
    });
    return flag;
  };

  const pass = async () => {
    const batch = [...seen].slice(0, MAX_ACCOUNTS_PER_PASS);
    for (const [account] of batch) seen.delete(account);
    for (const [account, tenant] of batch) await evaluate(account, tenant);
  };

  return {
    accountOf: ({ user, tenant }) => (user ?? tenant).toLowerCase(),
    mark(account, tenant) {
      if (!seen.has(account) && seen.size < MAX_SEEN_ACCOUNTS) seen.set(account, tenant);
      return { account, attributeMs };
    },
    decide(account) {
      const flag = flags.cached(account);
      if (!flag) return { action: 'spool' };
      const { capReached } = heldState(flags.cachedHeld(account), true);
      if (!capReached) return { action: 'hold', flag };
      parts.meter?.refused(capReached);
      return { action: 'refuse', flag, cap: capReached };
    },
    async countHeld(account, bytes) {
      await flags.countHeld(account, bytes).catch(fail);
    },
    evaluate,
    async countFeedback(account, tenant, kind, n) {
      const name = account.toLowerCase();
      await countFeedback(redis, prefix, name, kind === 'hard' ? 'h' : 'c', n, now());
      await evaluate(name, tenant);
    },
    accountOfMessage: (messageId, shard) => accountOfMessage(redis, prefix, messageId, shard),
    async status(account) {
      const name = account.toLowerCase();
      const rules = behaviourRulesFor(behaviour, name);
      const [figures, flag, tally] = await Promise.all([
        figuresOf(name, rules),
        flags.read(name),
        flags.readHeld(name),
      ]);
      return { account: name, rules, figures, ...(flag ? { flag } : {}), held: heldState(tally, !!flag) };
    },
    async flagged() {
      const list = await flags.list();
      return list.map((flag) => ({ ...flag, held: heldState(flags.cachedHeld(flag.account), true) }));
    },
    async unflag(account, by = 'operator') {
      const flag = await flags.unflag(account.toLowerCase(), now());
      if (flag)
        events.emit({
          type: 'account_unflagged',
          time: now(),
          account: flag.account,
          tenant: flag.tenant,
          reason: `unflagged (was ${flag.rule})`,
          by,
        });
      return flag;
    },
    async start() {
      if (timers.length > 0) return;
      await flags.refresh().catch(fail);
      const refresh = setInterval(() => void flags.refresh().catch(fail), FLAG_CACHE_REFRESH_MS);
      let running = false;
      const judgeSeen = setInterval(() => {
        if (running || seen.size === 0) return;
        running = true;
        pass()
          .catch(fail)
          .finally(() => {
            running = false;
          });
      }, behaviour.evaluate_interval);
      for (const timer of [refresh, judgeSeen]) {
        timer.unref();
        timers.push(timer);
      }
    },
    stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
