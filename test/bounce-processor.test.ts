/**
 * End to end: the bounce-processor on real parts (private Redis, its SMTP listener, a relay).
 * - every dev-corpus message sent over SMTP to the VERP address of its first reported recipient
 *   is classified as the CLI does, and recorded for that recipient (verified);
 * - an asynchronous DSN to a VERP address → bounce_received event and suppression; a forged or
 *   altered token → 550 5.1.1 at RCPT;
 * - an ARF complaint to the complaint address (quoting the VERP return path) → complaint_received,
 *   complaint counter and suppression; a tenant over its complaint threshold has its bulk paused;
 * - a hostile message stuck in the classifier does not stall the listener: another session is
 *   served meanwhile, and the stuck one is answered 250 (dropped as undefined) after the budget.
 * The trust rules (only the token's recipient is acted upon, once) are in
 * bounce-processor-trust.test.ts. The first three tests share one processor, each with a tenant of
 * its own; the Redis outage and the stuck classifier get processors of their own.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createClassifierPool } from '@herald/bounce-processor';
import { classifyMessage } from '@herald/delivery-core/bounce';
import type { FeedbackEvent } from '@herald/delivery-core/events';
import { reputationKey } from '@herald/delivery-core/keys';
import { reputationBucket } from '@herald/delivery-core/reputation';
import pino from 'pino';
import { STALL_MARKER } from '../apps/bounce-processor/test/fixtures/misbehaving-classifier-thread.js';
import {
  arfFor,
  BOUNCE,
  dsnFor,
  feedbackEvents,
  NO_DELIVERY_THREADS,
  sessionFor,
  sharedProcessor,
  verpFor,
  withProcessor,
} from './lib/bounce-reports.js';
import { SmtpClient } from './lib/smtp-client.js';
import { waitUntil } from './lib/wait.js';

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../shared/corpus/bounces/emails');
const MISBEHAVING_CLASSIFIER = new URL(
  '../apps/bounce-processor/test/fixtures/misbehaving-classifier-thread.ts',
  import.meta.url,
);
/** Long enough for another session's whole transaction on a busy machine. */
const STUCK_BUDGET_MS = 4_000;
/** Lets the stuck session's message reach the classifier before the other session starts. */
const SETTLE_MS = 200;
/** Concurrent SMTP sessions sending the corpus (the processor runs two classifier threads). */
const CORPUS_SESSIONS = 4;
/** Over its complaint threshold in the complaint test (configured for the shared processor). */
const TOUCHY_TENANT = 'touchy';

describe('bounce-processor', () => {
  const processor = sharedProcessor({
    config: {
      ...NO_DELIVERY_THREADS,
      tenants: { [TOUCHY_TENANT]: { complaint_rate_threshold: 0.1, reputation_min_volume: 5 } },
    },
  });

  it('classifies every dev-corpus message sent over SMTP as the CLI does', {
    timeout: 120_000,
  }, async (t) => {
    if (!existsSync(CORPUS)) {
      // In CI the corpus must be there: its absence fails the test instead of skipping it.
      assert.ok(!process.env.CI, `no corpus at ${CORPUS} (CI is set: this test may not skip)`);
      t.skip(`no corpus at ${CORPUS}`);
      return;
    }
    const { stack, address: listener } = processor();
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.eml'));
    const expected = new Map<string, string[]>();
    // Several sessions at once, each taking the next file, so both classifier threads are busy.
    let next = 0;
    const sendRest = async () => {
      const client = await sessionFor(t, listener);
      for (let file = files[next++]; file !== undefined; file = files[next++]) {
        const raw = readFileSync(join(CORPUS, file));
        // The token names the report's first recipient, as it would for a message Herald sent.
        const report = classifyMessage(raw);
        const first = report.recipients.find((r) => r.address.includes('@'));
        const recipient = first?.address.trim().toLowerCase() ?? `someone-${file}@dest.test`;
        const { messageId, address } = verpFor('corpus', recipient);
        const sent = await client.send({ from: '', to: [address] }, raw);
        assert.equal(sent.code, 250, `${file}: ${sent.response}`);
        // A feedback report whose address is redacted still counts once, unverified, for nobody.
        const unnamed = report.kind === 'feedback' ? [' feedback unverified'] : [];
        expected.set(messageId, first ? [`${recipient} ${first.reason} verified`] : unnamed);
      }
    };
    await Promise.all(Array.from({ length: CORPUS_SESSIONS }, sendRest));
    const got = new Map<string, string[]>();
    for (const e of feedbackEvents(await stack.streamEvents()))
      got.set(e.messageId!, [
        ...(got.get(e.messageId!) ?? []),
        `${e.recipient} ${e.reason} ${e.verified ? 'verified' : 'unverified'}`,
      ]);
    let same = 0;
    for (const [id, want] of expected)
      if (JSON.stringify((got.get(id) ?? []).sort()) === JSON.stringify(want)) same++;
    t.diagnostic(`${files.length} corpus messages over SMTP; ${same} classified exactly as the CLI does`);
    assert.equal(same, expected.size);
  });

  it('an async DSN to a VERP address suppresses the recipient; forged and altered tokens are refused', async (t) => {
    const { stack, address: listener } = processor();
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address } = verpFor('acme', 'gone@dest.test');
    const sent = await client.send(
      { from: '', to: [address] },
      dsnFor([
        {
          address: 'gone@dest.test',
          status: '5.1.1',
          diagnostic: '550 5.1.1 <gone@dest.test>: Recipient address rejected: User unknown',
        },
      ]),
    );
    assert.equal(sent.code, 250, sent.response);
    const event = await stack.events.waitFor<FeedbackEvent>(
      'bounce_received',
      (e) => e.type === 'bounce_received' && e.tenant === 'acme',
    );
    assert.deepEqual(
      [event.tenant, event.recipient, event.reason, event.hard, event.suppressed],
      ['acme', 'gone@dest.test', 'userunknown', true, true],
    );
    const listed = await herald.suppression.check('acme', ['gone@dest.test']);
    assert.equal(listed.get('gone@dest.test')?.reason, 'userunknown');

    const local = address.split('@')[0]!;
    const flipped = `${local.slice(0, -1)}${local.endsWith('a') ? 'b' : 'a'}@${BOUNCE.domain}`;
    for (const bad of [flipped, `bounces+notatoken@${BOUNCE.domain}`, `someone@${BOUNCE.domain}`]) {
      const fresh = await SmtpClient.connect(listener);
      try {
        const refused = await fresh.send({ from: '', to: [bad] }, 'Subject: x\r\n\r\nx\r\n');
        assert.equal(refused.code, 550, `${bad}: ${refused.response}`);
        assert.match(refused.response, /5\.1\.1/);
      } finally {
        fresh.close();
      }
    }
  });

  it('an ARF complaint suppresses the complainer and pauses a tenant over its complaint threshold', async (t) => {
    const { stack, address: listener } = processor();
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const tenant = TOUCHY_TENANT;
    // Five accepted recipients in this hour, as the spool counts them.
    const prefix = herald.config.redis.prefix;
    await stack.redisClient.incrby(reputationKey(prefix, tenant, 'sent', reputationBucket(Date.now())), 5);
    const { address } = verpFor(tenant, 'angry@dest.test');
    const sent = await client.send(
      { from: '', to: [BOUNCE.complaint_address] },
      arfFor(['angry@dest.test'], address),
    );
    assert.equal(sent.code, 250, sent.response);
    const event = await stack.events.waitFor<FeedbackEvent>(
      'complaint_received',
      (e) => e.type === 'complaint_received' && e.tenant === tenant,
    );
    assert.deepEqual(
      [event.tenant, event.recipient, event.reason, event.feedbackType, event.suppressed],
      [tenant, 'angry@dest.test', 'feedback', 'abuse', true],
    );
    assert.equal(
      (await herald.suppression.check(tenant, ['angry@dest.test'])).get('angry@dest.test')?.source,
      'complaint',
    );
    const { rates } = await herald.tenantStatus(tenant);
    assert.equal(rates.complaints, 1);
    const paused = await stack.events.waitFor(
      'tenant_paused',
      (e) => e.type === 'tenant_paused' && e.tenant === tenant,
    );
    assert.match('reason' in paused ? paused.reason : '', /complaint rate 20\.00 % over 10\.00 %/);
  });

  it('answers 451 4.3.0 while Redis is down (the remote MTA retries), and takes the report once it is back', async (t) => {
    const { stack, client, address: listener } = await withProcessor(t, { config: NO_DELIVERY_THREADS });
    const { address } = verpFor('acme', 'later@dest.test');
    const dsn = dsnFor([
      {
        address: 'later@dest.test',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <later@dest.test>: User unknown',
      },
    ]);
    await stack.redis.kill();
    const refused = await client.send({ from: '', to: [address] }, dsn);
    assert.equal(refused.code, 451, refused.response);
    assert.match(refused.response, /^451 4\.3\.0 /);
    await stack.redis.restart();
    await waitUntil('the processor reaching Redis again', () => stack.relay.herald.ping());
    const again = await SmtpClient.connect(listener);
    try {
      const taken = await again.send({ from: '', to: [address] }, dsn);
      assert.equal(taken.code, 250, taken.response);
    } finally {
      again.close();
    }
    const listed = await stack.relay.herald.suppression.check('acme', ['later@dest.test']);
    assert.equal(listed.get('later@dest.test')?.reason, 'userunknown');
  });

  it('a message stuck in the classifier does not stall the listener; it is answered after its budget', async (t) => {
    const classifier = createClassifierPool({
      logger: pino({ level: 'silent' }),
      entry: MISBEHAVING_CLASSIFIER,
      budgetMs: STUCK_BUDGET_MS,
    });
    const {
      stack,
      client,
      address: listener,
    } = await withProcessor(t, {
      classifier,
      config: NO_DELIVERY_THREADS,
    });
    const stuck = verpFor('acme', 'stuck@dest.test');
    // Hostile for the old classifier too: one long line without a newline.
    const hostile = `${STALL_MARKER}\r\nSubject: x\r\n\r\n${'a'.repeat(64 * 1024)}\r\n`;
    let stuckAnswered = false;
    const stuckReply = client.send({ from: '', to: [stuck.address] }, hostile).then((reply) => {
      stuckAnswered = true;
      return reply;
    });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const other = await SmtpClient.connect(listener);
    const gone = verpFor('acme', 'gone@dest.test');
    const taken = await other
      .send(
        { from: '', to: [gone.address] },
        dsnFor([{ address: 'gone@dest.test', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' }]),
      )
      .finally(() => other.close());
    assert.equal(taken.code, 250, taken.response);
    assert.match(taken.response, /1 recipient report/);
    assert.equal(stuckAnswered, false, 'the other session was served while the hostile message was read');
    const answered = await stuckReply;
    assert.equal(answered.code, 250, answered.response);
    assert.match(answered.response, /not readable \(timed-out\)/);
    const events = feedbackEvents(await stack.streamEvents());
    assert.deepEqual(
      events.map((e) => e.recipient),
      ['gone@dest.test'],
    );
  });
});
