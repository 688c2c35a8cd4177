/**
 * The audit of a chaos run (test/chaos.test.ts). From a sink's ground truth (what it actually wrote,
 * per recipient: @herald/test-harness `sink.truth()`), the terminal state each recipient must reach:
 * delivered iff a 2xx was written in full after the final dot at least once; else bounced iff the
 * last verdict was a 5xx reply (Herald bounces at the first 5xx and never tries again); else
 * expired. Then the comparison with Herald's terminal events, and, for a run that does not finish,
 * a report of every recipient still without one: its job's state, its last event, the sink's last
 * verdict, the connections the sink still has open and the connection leases still held.
 * Owns: nothing at run time. Guarantees: waits are bounded and never throw; reports are bounded.
 */
import type { HeraldEvent } from '@herald/delivery-core';
import type { RecipientEvent } from '@herald/delivery-core/events';
import { connectionLeaseKey, semaphoreKey } from '@herald/delivery-core/keys';
import { Spool } from '@herald/delivery-core/queue';
import type { RecipientTruth, SmtpSinkHandle } from '@herald/test-harness';
import { type EventLog, isRecipientEvent, isTerminal } from './events.js';
import type { Stack } from './stack.js';

export const OUTCOMES = ['delivered', 'bounced', 'expired'] as const;
export type Outcome = (typeof OUTCOMES)[number];
const PERMANENT_CLASS = 5;
/** Detailed lines per problem list in a failure message. */
const REPORT_LINES = 25;
const JOB_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

export function expectedOutcome(truth: RecipientTruth | undefined): Outcome {
  if (truth && truth.accepted > 0) return 'delivered';
  const last = truth?.last?.reply;
  return last && Math.floor(last.code / 100) === PERMANENT_CLASS ? 'bounced' : 'expired';
}

export interface OutcomeAudit {
  expected: Record<Outcome, number>;
  actual: Record<string, number>;
  /** "r1@x: expected bounced, got expired (sink: …)" */
  mismatches: string[];
  /** Recipients the sink accepted more than once. */
  duplicates: string[];
  /** Recipients whose message reached the sink in full without a written 2xx at least once. */
  receivedUnacknowledged: number;
  /** Recipients the sink never saw a RCPT for (every attempt failed earlier, or none was made). */
  unseen: number;
  attempts: number;
}

/** Compares each recipient's terminal event in `events` with what the sink's truth says it must be. */
export function auditOutcomes(
  recipients: readonly string[],
  truth: Map<string, RecipientTruth>,
  events: readonly HeraldEvent[],
): OutcomeAudit {
  const terminal = new Map<string, RecipientEvent>();
  for (const e of events) if (isTerminal(e)) terminal.set(e.recipient.toLowerCase(), e);
  const audit: OutcomeAudit = {
    expected: { delivered: 0, bounced: 0, expired: 0 },
    actual: {},
    mismatches: [],
    duplicates: [],
    receivedUnacknowledged: 0,
    unseen: 0,
    attempts: events.filter((e) => e.type === 'attempt').length,
  };
  for (const recipient of recipients) {
    const key = recipient.toLowerCase();
    const sink = truth.get(key);
    const expected = expectedOutcome(sink);
    const ended = terminal.get(key);
    const actual = ended?.type ?? 'none';
    audit.expected[expected]++;
    audit.actual[actual] = (audit.actual[actual] ?? 0) + 1;
    if (actual !== expected) {
      const why = ended
        ? ` (attempt ${ended.attempt}, ${ended.reply.stage} ${ended.reply.code} ${ended.reply.enhanced ?? ''} ${ended.reply.text})`
        : '';
      audit.mismatches.push(
        `${recipient}: expected ${expected}, got ${actual}${why}; ${describeTruth(sink)}`,
      );
    }
    if ((sink?.accepted ?? 0) > 1) audit.duplicates.push(`${recipient}: accepted ${sink?.accepted} times`);
    if (sink?.verdicts.some((v) => v.received && !v.accepted)) audit.receivedUnacknowledged++;
    if (!sink) audit.unseen++;
  }
  return audit;
}

export function describeTruth(truth: RecipientTruth | undefined): string {
  if (!truth) return 'sink: never saw a RCPT for it';
  const verdicts = truth.verdicts.map((v) => {
    const how = v.accepted ? 'accepted' : (v.reply?.text ?? v.failure);
    return `#${v.connection}/${v.transaction} ${v.stage} ${how}${v.received && !v.accepted ? ' (received)' : ''}`;
  });
  return `sink: ${verdicts.join(' | ')}`;
}

/** Per retry class of the deferred events: how many, and their delays to the next attempt (median, max). */
export function retryDelays(events: readonly HeraldEvent[]): string {
  const byClass = new Map<string, number[]>();
  for (const e of events) {
    if (e.type !== 'deferred' || e.nextAttemptAt === undefined) continue;
    const delays = byClass.get(e.retryClass ?? '?') ?? [];
    delays.push(e.nextAttemptAt - e.time);
    byClass.set(e.retryClass ?? '?', delays);
  }
  return [...byClass]
    .map(([name, delays]) => {
      const sorted = delays.sort((a, b) => a - b);
      return `${name} ×${sorted.length} (median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms)`;
    })
    .join(', ');
}

/** Waits (bounded) until every recipient has a terminal event; returns those that have none. */
export async function waitForTerminals(
  log: EventLog,
  recipients: readonly string[],
  timeoutMs: number,
): Promise<string[]> {
  const pending = new Set(recipients.map((r) => r.toLowerCase()));
  const settled = (e: HeraldEvent) => {
    if (isTerminal(e)) pending.delete(e.recipient.toLowerCase());
    return pending.size === 0;
  };
  await log.waitFor('a terminal event for every recipient', settled, timeoutMs).catch(() => undefined);
  return recipients.filter((r) => pending.has(r.toLowerCase()));
}

/** Why recipients are stuck: job state and data, last event, the sink's view, held leases. */
export async function describeStuck(
  stack: Stack,
  sink: SmtpSinkHandle,
  stuck: readonly string[],
): Promise<string> {
  const herald = stack.relay.herald;
  const spool = new Spool(stack.redisClient, herald.config.redis.prefix, { shards: herald.shards });
  const jobs = await Promise.all(spool.allQueues().map((queue) => queue.getJobs([...JOB_STATES])))
    .then((perShard) => perShard.flat())
    .finally(() => spool.close());
  const where = new Map<string, string>();
  for (const job of jobs) {
    const state = await job.getState();
    const age =
      state === 'active' && job.processedOn ? `, attempt running for ${Date.now() - job.processedOn} ms` : '';
    for (const r of job.data.recipients) {
      where.set(
        r.address.toLowerCase(),
        `job ${job.id} ${state} (attempts ${job.data.attempts}${age}), recipient ${r.state}`,
      );
    }
  }
  const lastEvent = new Map<string, string>();
  for (const e of stack.events.all) {
    if (!isRecipientEvent(e) || !('reply' in e)) continue;
    lastEvent.set(e.recipient.toLowerCase(), `${e.type} ${e.reply.code} ${e.reply.text}`);
  }
  const truth = sink.truth();
  const states = new Map<string, number>();
  const lines = stuck.map((recipient) => {
    const key = recipient.toLowerCase();
    const state =
      where
        .get(key)
        ?.split(' (')[0]
        ?.replace(/^job \S+ /, '') ?? 'no job';
    states.set(state, (states.get(state) ?? 0) + 1);
    const event = lastEvent.get(key) ?? 'no recipient event';
    return `  ${recipient}: ${where.get(key) ?? 'no job found'}; last event: ${event}; ${describeTruth(truth.get(key))}`;
  });
  const summary = [...states].map(([state, n]) => `${n} ${state}`).join(', ');
  return [
    `${stuck.length} recipient(s) without a terminal event (${summary}):`,
    ...bounded(lines),
    `queue: ${JSON.stringify((await herald.queueStats({ maxJobs: 0 })).totals)}`,
    `connection leases held: ${JSON.stringify(await connectionLeases(stack))}`,
    ...openConnections(sink),
  ].join('\n');
}

/** `<prefix>:sem:conn:*` key → leases held. */
export async function connectionLeases(stack: Stack): Promise<Record<string, number>> {
  const redis = stack.redisClient;
  const prefix = stack.relay.herald.config.redis.prefix;
  const held: Record<string, number> = {};
  for (const key of await redis.keys(semaphoreKey(prefix, connectionLeaseKey('*')))) {
    const n = await redis.zcard(key);
    if (n > 0) held[key] = n;
  }
  return held;
}

/** The sink's connections still open, with their last commands and what became of the replies. */
export function openConnections(sink: SmtpSinkHandle): string[] {
  const open = sink.transcripts().filter((t) => t.closedAt === undefined);
  if (open.length === 0) return ['sink: no connection open'];
  return [
    `sink: ${open.length} connection(s) open:`,
    ...bounded(
      open.map((t) => {
        const last = t.entries
          .slice(-3)
          .map((e) => `${e.stage}${e.behaviour ? `[${e.behaviour}]` : ''}→${e.fate?.kind ?? 'pending'}`);
        return `  #${t.connection} open ${Date.now() - t.openedAt} ms: … ${last.join(', ')}`;
      }),
    ),
  ];
}

export function bounded(lines: readonly string[], max = REPORT_LINES): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), `  … and ${lines.length - max} more`];
}
