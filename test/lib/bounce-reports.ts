/**
 * Helpers for the bounce-processor e2e tests: the bounce section of the config, VERP return paths
 * for a recipient, a processor on a real stack (private Redis, its SMTP listener), and reports as
 * receiving systems write them: RFC 3464 DSNs (one or more recipients) and ARF complaints quoting
 * the original's return path. `sharedProcessor` gives a describe block one processor for all its
 * tests (started in `before`, stopped in `after`): each test then keeps to its own tenant, tokens
 * and SMTP session, so its assertions read only what it did.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { ClassifierPool } from '@herald/bounce-processor';
import { createBounceProcessor } from '@herald/bounce-processor';
import type { FeedbackEvent, HeraldEvent } from '@herald/delivery-core/events';
import { newMessageId } from '@herald/delivery-core/queue';
import { encodeVerp, verpKeys } from '@herald/delivery-core/verp';
import { SmtpClient } from './smtp-client.js';
import { type Stack, type StackOptions, startStack } from './stack.js';

export const BOUNCE = {
  listen: '127.0.0.1:0',
  domain: 'bounces.herald.test',
  verp_secret: 'test-secret-for-the-bounce-processor',
  complaint_address: 'fbl@bounces.herald.test',
};
const keys = verpKeys(BOUNCE.verp_secret, []);

/** The return path of one (tenant, message, recipient), and the message id it names. */
export const verpFor = (tenant: string, recipient: string, messageId = newMessageId()) => ({
  messageId,
  address: encodeVerp({ tenant, messageId, recipient, now: Date.now() }, keys, BOUNCE.domain),
});

export interface ProcessorUnderTest {
  stack: Stack;
  client: SmtpClient;
  address: { host: string; port: number };
}

export async function withProcessor(
  t: { after(fn: () => Promise<void>): void },
  options: {
    config?: Record<string, unknown>;
    classifier?: ClassifierPool;
    /** How the stack's Redis is started (a replica, appendfsync). */
    stack?: Pick<StackOptions, 'redis' | 'replica' | 'sinks' | 'zone'>;
  } = {},
): Promise<ProcessorUnderTest> {
  // Undone in reverse: the client first, so the listener closes without waiting for it.
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
  });
  const stack = await startStack({ ...options.stack, config: { bounce: BOUNCE, ...options.config } });
  undo.push(() => stack.stop());
  const processor = createBounceProcessor(
    stack.relay.herald,
    options.classifier ? { classifier: options.classifier } : {},
  );
  const address = await processor.start();
  undo.push(() => processor.stop());
  const client = await SmtpClient.connect(address);
  undo.push(() => client.close());
  return { stack, client, address };
}

/**
 * Config for a processor whose tests deliver nothing they look at: delivery on the relay's main
 * thread (`delivery.threads: 0`), so the stack does not load a delivery thread from the sources
 * (seconds on a busy machine). The reports, suppressions and counters are the same either way.
 */
export const NO_DELIVERY_THREADS = { delivery: { threads: 0 } };

/**
 * One processor for the tests of the calling describe block: started in its `before`, stopped in
 * its `after`. Returns a getter for it (valid inside the tests). A test opens its own session
 * with `SmtpClient.connect(processor().address)` and uses a tenant of its own.
 */
export function sharedProcessor(options: Parameters<typeof withProcessor>[1] = {}): () => ProcessorUnderTest {
  let shared: ProcessorUnderTest | undefined;
  const undo: (() => Promise<void>)[] = [];
  before(async () => {
    shared = await withProcessor({ after: (fn) => void undo.push(fn) }, options);
  });
  after(async () => {
    for (const step of undo) await step();
  });
  return () => {
    assert.ok(shared, 'the shared processor is started (use it inside a test)');
    return shared;
  };
}

/** An SMTP session of its own on the processor's listener, closed after the test. */
export async function sessionFor(
  t: { after(fn: () => unknown): void },
  address: { host: string; port: number },
): Promise<SmtpClient> {
  const client = await SmtpClient.connect(address);
  t.after(() => client.close());
  return client;
}

export const feedbackEvents = (events: readonly HeraldEvent[]) =>
  events.filter((e): e is FeedbackEvent => e.type === 'bounce_received' || e.type === 'complaint_received');

export interface DsnRecipient {
  address: string;
  status: string;
  diagnostic: string;
}

export function dsnFor(recipients: readonly DsnRecipient[]): string {
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
    ...recipients.flatMap((r) => [
      '',
      `Final-Recipient: rfc822; ${r.address}`,
      'Action: failed',
      `Status: ${r.status}`,
      `Diagnostic-Code: smtp; ${r.diagnostic}`,
    ]),
    '--b--',
    '',
  ].join('\r\n');
}

/** A hard bounce (550 5.1.1 user unknown) of each address. */
export const userUnknown = (...addresses: string[]): string =>
  dsnFor(
    addresses.map((address) => ({
      address,
      status: '5.1.1',
      diagnostic: `550 5.1.1 <${address}>: User unknown`,
    })),
  );

/** An ARF abuse report naming `recipients` (none: redacted) about a message with `returnPath`. */
export function arfFor(
  recipients: readonly string[],
  returnPath: string,
  to = recipients[0] ?? 'redacted@fbl.test',
): string {
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
    ...recipients.map((r) => `Original-Rcpt-To: ${r}`),
    '--f',
    'Content-Type: text/rfc822-headers',
    '',
    `Return-Path: <${returnPath}>`,
    'From: app@origin.test',
    `To: ${to}`,
    'Subject: offer',
    '--f--',
    '',
  ].join('\r\n');
}
