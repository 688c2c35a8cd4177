/**
 * End to end: the bounce-processor on real parts (private Redis, its SMTP listener, a relay).
 * - every dev-corpus message sent over SMTP to a VERP address is classified as the CLI does;
 * - an asynchronous DSN to a VERP address → bounce_received event and suppression; a forged or
 *   altered token → 550 5.1.1 at RCPT;
 * - an ARF complaint to the complaint address (quoting the VERP return path) → complaint_received,
 *   complaint counter and suppression; a tenant over its complaint threshold has its bulk paused.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createBounceProcessor } from '@herald/bounce-processor';
import { classifyMessage } from '@herald/delivery-core/bounce';
import type { FeedbackEvent, HeraldEvent } from '@herald/delivery-core/events';
import { newMessageId } from '@herald/delivery-core/queue';
import { encodeVerp, verpKeys } from '@herald/delivery-core/verp';
import { SmtpClient } from './lib/smtp-client.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const BOUNCE = {
  listen: '127.0.0.1:0',
  domain: 'bounces.herald.test',
  verp_secret: 'test-secret-0123456789',
  complaint_address: 'fbl@bounces.herald.test',
};
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '../../shared/corpus/bounces/emails');
const keys = verpKeys(BOUNCE.verp_secret, []);

const verpFor = (tenant: string, recipient: string, messageId = newMessageId()) => ({
  messageId,
  address: encodeVerp({ tenant, messageId, recipient, now: Date.now() }, keys, BOUNCE.domain),
});

async function withProcessor(
  t: { after(fn: () => Promise<void>): void },
  config: Record<string, unknown> = {},
): Promise<{ stack: Stack; client: SmtpClient; address: { host: string; port: number } }> {
  const stack = await startStack({ config: { bounce: BOUNCE, ...config } });
  t.after(() => stack.stop());
  const processor = createBounceProcessor(stack.relay.herald);
  const address = await processor.start();
  t.after(() => processor.stop());
  const client = await SmtpClient.connect(address);
  t.after(async () => client.close());
  return { stack, client, address };
}

const feedback = (events: readonly HeraldEvent[]) =>
  events.filter((e): e is FeedbackEvent => e.type === 'bounce_received' || e.type === 'complaint_received');

function dsnFor(recipient: string, status: string, diagnostic: string): string {
  return [
    'From: MAILER-DAEMON@mx.dest.test',
    'To: bounces@bounces.herald.test',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '--b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.dest.test',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    `Status: ${status}`,
    `Diagnostic-Code: smtp; ${diagnostic}`,
    '--b--',
    '',
  ].join('\r\n');
}

function arfFor(recipient: string, returnPath: string): string {
  return [
    'From: feedback@fbl.dest.test',
    `To: ${BOUNCE.complaint_address}`,
    'Subject: complaint',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="f"',
    '',
    '--f',
    'Content-Type: text/plain',
    '',
    'This is an abuse report.',
    '--f',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: fbl/1.0',
    'Version: 1',
    `Original-Rcpt-To: ${recipient}`,
    '--f',
    'Content-Type: text/rfc822-headers',
    '',
    `Return-Path: <${returnPath}>`,
    'From: app@origin.test',
    `To: ${recipient}`,
    'Subject: offer',
    '--f--',
    '',
  ].join('\r\n');
}

describe('bounce-processor', () => {
  it('classifies every dev-corpus message sent over SMTP as the CLI does', {
    timeout: 120_000,
  }, async (t) => {
    if (!existsSync(CORPUS)) {
      t.skip(`no corpus at ${CORPUS}`);
      return;
    }
    const { stack, client } = await withProcessor(t);
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.eml'));
    const expected = new Map<string, string[]>();
    for (const file of files) {
      const raw = readFileSync(join(CORPUS, file));
      const { messageId, address } = verpFor('acme', `someone-${file}@dest.test`);
      const sent = await client.send({ from: '', to: [address] }, raw);
      assert.equal(sent.code, 250, `${file}: ${sent.response}`);
      const want = classifyMessage(raw)
        .recipients.filter((r) => r.address.includes('@'))
        .map((r) => `${r.address.trim().toLowerCase()} ${r.reason}`)
        .sort();
      expected.set(messageId, want);
    }
    const got = new Map<string, string[]>();
    for (const e of feedback(await stack.streamEvents()))
      got.set(e.messageId!, [...(got.get(e.messageId!) ?? []), `${e.recipient} ${e.reason}`]);
    let same = 0;
    for (const [id, want] of expected)
      if (JSON.stringify((got.get(id) ?? []).sort()) === JSON.stringify(want)) same++;
    t.diagnostic(`${files.length} corpus messages over SMTP; ${same} classified exactly as the CLI does`);
    assert.equal(same, expected.size);
  });

  it('an async DSN to a VERP address suppresses the recipient; forged and altered tokens are refused', async (t) => {
    const { stack, client, address: listener } = await withProcessor(t);
    const herald = stack.relay.herald;
    const { address } = verpFor('acme', 'gone@dest.test');
    const sent = await client.send(
      { from: '', to: [address] },
      dsnFor(
        'gone@dest.test',
        '5.1.1',
        '550 5.1.1 <gone@dest.test>: Recipient address rejected: User unknown',
      ),
    );
    assert.equal(sent.code, 250, sent.response);
    const event = await stack.events.waitFor<FeedbackEvent>(
      'bounce_received',
      (e) => e.type === 'bounce_received',
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
    const { stack, client } = await withProcessor(t, {
      tenants: { acme: { complaint_rate_threshold: 0.1, reputation_min_volume: 5 } },
    });
    const herald = stack.relay.herald;
    await herald.reputation.count('acme', 'sent', 5);
    const { address } = verpFor('acme', 'angry@dest.test');
    const sent = await client.send(
      { from: '', to: [BOUNCE.complaint_address] },
      arfFor('angry@dest.test', address),
    );
    assert.equal(sent.code, 250, sent.response);
    const event = await stack.events.waitFor<FeedbackEvent>(
      'complaint_received',
      (e) => e.type === 'complaint_received',
    );
    assert.deepEqual(
      [event.tenant, event.recipient, event.reason, event.feedbackType, event.suppressed],
      ['acme', 'angry@dest.test', 'feedback', 'abuse', true],
    );
    assert.equal(
      (await herald.suppression.check('acme', ['angry@dest.test'])).get('angry@dest.test')?.source,
      'complaint',
    );
    const rates = await herald.reputation.rates('acme', 3_600_000);
    assert.equal(rates.complaints, 1);
    const paused = await stack.events.waitFor('tenant_paused', (e) => e.type === 'tenant_paused');
    assert.match('reason' in paused ? paused.reason : '', /complaint rate 20\.00 % over 10\.00 %/);
  });

  it('answers 451 4.3.0 while Redis is down (the remote MTA retries), and takes the report once it is back', async (t) => {
    const { stack, client, address: listener } = await withProcessor(t);
    const { address } = verpFor('acme', 'later@dest.test');
    const dsn = dsnFor('later@dest.test', '5.1.1', '550 5.1.1 <later@dest.test>: User unknown');
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
});
