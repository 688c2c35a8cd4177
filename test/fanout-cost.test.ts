/**
 * End to end: what one message to many recipients over several domains costs Redis. A message to
 * 100 recipients over 10 domains stores its body once, has one job per domain, and costs Redis
 * about what 10 one-recipient messages (one per domain) cost, not what 100 would: its per-recipient
 * work is the suppression lookup at RCPT and one outcome event per recipient, which the
 * 100-message run pays too. Counted with INFO commandstats on the test's private Redis (command
 * counts, not times).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Zone } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { FIRST_SINK_HOST, type Stack, startStack } from './lib/stack.js';

const DOMAINS = 10;
const PER_DOMAIN = 10;
/**
 * A body large enough (≈ 800 KB) that writing it twice would show in Redis's input bytes over the
 * events' (≈ 1.5 KB per recipient with their trace copies), and under the fast lane's limit.
 */
const BODY_LINES = Array.from({ length: 8_000 }, (_, i) => `line ${i} `.padEnd(98, 'x'));
const domains = Array.from({ length: DOMAINS }, (_, i) => `d${i}.fanout.test`);

function zone(): Zone {
  const z: Zone = { 'mx.fanout.test': { A: [FIRST_SINK_HOST] } };
  for (const d of domains) z[d] = { MX: [{ preference: 10, exchange: 'mx.fanout.test' }] };
  return z;
}

/** Bytes Redis has read from its clients so far. */
async function inputBytes(stack: Stack): Promise<number> {
  const info = await stack.redisClient.info('stats');
  return Number(/^total_net_input_bytes:(\d+)/m.exec(info)?.[1]);
}

/** INFO commandstats as command → calls. */
async function commandCalls(stack: Stack): Promise<Map<string, number>> {
  const info = await stack.redisClient.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_(\S+):calls=(\d+),/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) d.set(k, v - (before.get(k) ?? 0));
  return d;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('one message to 100 recipients over 10 domains', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ zone: zone() });
  });
  after(() => stack.stop());

  /** Runs `send` and returns the Redis commands it cost until every job finished. */
  async function cost(send: () => Promise<void>): Promise<{ calls: Map<string, number>; bytes: number }> {
    await stack.waitForIdleQueue();
    await stack.relay.herald.events.flush();
    const before = await commandCalls(stack);
    const bytesBefore = await inputBytes(stack);
    await send();
    await stack.waitForIdleQueue();
    await stack.relay.herald.events.flush();
    const bytes = (await inputBytes(stack)) - bytesBefore;
    const after = await commandCalls(stack);
    const d = diff(after, before);
    // The measurement's own reads (INFO, the idle-queue polling) are not the message's cost.
    for (const own of ['info', 'zcard', 'llen', 'hlen', 'exists', 'lrange', 'zrange', 'xrange'])
      d.delete(own);
    return { calls: d, bytes };
  }

  it('stores the body once and costs about one message per domain, not per recipient', async () => {
    const fanTo = domains.flatMap((d) => Array.from({ length: PER_DOMAIN }, (_, i) => `r${i}@${d}`));
    const body = sampleMessage({ subject: 'fan-out', lines: BODY_LINES });
    const { calls: fan, bytes: fanBytes } = await cost(async () => {
      const sent = await stack.submit({ from: 'app@origin.test', to: fanTo, body });
      assert.equal(sent.code, 250, sent.response);
      await stack.sinks[0]!.waitForMessages(DOMAINS);
    });
    const { calls: single, bytes: singleBytes } = await cost(async () => {
      // At once, as the fan-out's jobs are: the same contention for the one site they share.
      await Promise.all(
        domains.map(async (d) => {
          const sent = await stack.submit({ from: 'app@origin.test', to: [`one@${d}`], body });
          assert.equal(sent.code, 250, sent.response);
        }),
      );
      await stack.sinks[0]!.waitForMessages(2 * DOMAINS);
    });
    const line = (m: Map<string, number>) =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
    // For the report: what each costs, by command.
    console.log(
      `fan-out (1 message, ${fanTo.length} recipients): ${fanBytes} B in, ${total(fan)} commands: ${line(fan)}`,
    );
    console.log(
      `singles (${DOMAINS} messages, 1 recipient each): ${singleBytes} B in, ${total(single)} commands: ${line(single)}`,
    );

    assert.equal(stack.sinks[0]!.messages.length, 2 * DOMAINS, 'one SMTP transaction per domain');
    // The body reaches Redis once, whatever the recipient and domain count (10 messages: 10 times).
    assert.ok(singleBytes > (DOMAINS - 1) * body.length, `the measure sees each body (${singleBytes} B)`);
    assert.ok(
      fanBytes < 2 * body.length,
      `the body is written once (${fanBytes} B in, body ${body.length} B)`,
    );
    // Scripts (BullMQ's, the finish, shaping's) are per job, never per recipient. (EVAL is the
    // trace trim: a trace over events.trace_max_entries is cut once per batch of events.) Timers
    // add some either way (lease and connection-slot renewals: more of them the longer a run takes
    // on a busy machine, seen 22 to 35 for the singles), so the slack is one per domain; per
    // recipient would add one per extra recipient, several times that.
    const scripts = (m: Map<string, number>) => m.get('evalsha') ?? 0;
    assert.ok(
      scripts(fan) <= scripts(single) + DOMAINS,
      `scripts: fan-out ${scripts(fan)} ≈ singles ${scripts(single)}`,
    );
    // Per-recipient work is the suppression lookup at RCPT and one outcome event (its trace copy
    // shares one push per message and batch): at most 2.5 commands per recipient beyond what 10
    // messages cost.
    const extraRecipients = fanTo.length - DOMAINS;
    assert.ok(
      total(fan) <= total(single) + 2.5 * extraRecipients,
      `fan-out ${total(fan)} ≤ singles ${total(single)} + 2.5 × ${extraRecipients}`,
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
