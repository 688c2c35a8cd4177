/**
 * End to end: one intake, three front ends. Each case of the table runs once through the relay's
 * SMTP listener, once through `herald.send()` of the same Herald and once through the relay's HTTP
 * API (`POST /v1/messages` with an admin key naming the tenant; real Redis, DNS and sink), and all
 * must come to the same decision with the same basic and enhanced code (over HTTP: a refused
 * recipient's entry, or the error's `details`; a 503 is the API's 451 4.3.0): a refused
 * recipient (a `rejected` entry for send()), a refused message (a thrown IntakeRefusedError), or
 * a temporary local failure (451 4.3.0; HERALD_REDIS_UNAVAILABLE). "Unknown tenant" is a submission
 * Herald cannot account to any tenant: over SMTP a client neither authenticated nor trusted, through
 * send() a name no tenant can have (tenants are an open set: any valid name gets the default policy). Redis down runs last: it kills
 * the stack's redis-server (by its handle) and starts it again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Herald, IntakeRefusedError, type SendInput } from '@herald/delivery-core';
import { RawSmtp } from './lib/raw-smtp.js';
import { type Stack, startStack } from './lib/stack.js';

const PASSWORD = 'pw';
const ADMIN_KEY = 'parity-admin-key-0123456789';
/** Small enough that the oversize case stays small. */
const MAX_MESSAGE_BYTES = 4_000;
const OVERSIZE_BYTES = MAX_MESSAGE_BYTES * 2;

type Decision = 'recipient refused' | 'message refused' | 'try again later';

interface Outcome {
  decision: Decision;
  code: number;
  enhanced: string;
}

interface SmtpCase {
  /** AUTH as this user (its tenant); none: an unauthenticated client. */
  user?: string;
  from: string;
  to: string;
  body: string;
}

interface ParityCase {
  name: string;
  smtp: SmtpCase;
  send: SendInput;
  expect: Outcome;
  /** Runs before both submissions. */
  setup?(stack: Stack): Promise<void>;
}

const message = (from: string, extra = '') => `From: ${from}\r\nSubject: parity\r\n\r\nhello${extra}\r\n`;
const oversize = (from: string) => message(from, `\r\n${'x'.repeat(76)}`.repeat(OVERSIZE_BYTES / 78));

const CASES: ParityCase[] = [
  {
    name: 'suppressed recipient',
    setup: async (stack) => {
      await stack.relay.herald.suppression.add('shop', {
        address: 'gone@example.test',
        reason: 'userunknown',
        source: 'bounce',
      });
    },
    smtp: { user: 'shop', from: 'news@shop.test', to: 'gone@example.test', body: message('news@shop.test') },
    send: { tenant: 'shop', from: 'news@shop.test', to: 'gone@example.test', text: 'hello' },
    expect: { decision: 'recipient refused', code: 550, enhanced: '5.7.1' },
  },
  {
    name: 'foreign sender domain',
    smtp: { user: 'shop', from: 'ceo@bank.test', to: 'a@example.test', body: message('ceo@bank.test') },
    send: { tenant: 'shop', from: 'ceo@bank.test', to: 'a@example.test', text: 'hello' },
    expect: { decision: 'message refused', code: 553, enhanced: '5.7.1' },
  },
  {
    name: 'DMARC failure',
    smtp: { user: 'strict', from: 'app@origin.test', to: 'a@example.test', body: message('ceo@bank.test') },
    send: { tenant: 'strict', from: 'app@origin.test', to: 'a@example.test', raw: message('ceo@bank.test') },
    expect: { decision: 'message refused', code: 550, enhanced: '5.7.26' },
  },
  {
    name: 'oversize',
    smtp: { user: 'shop', from: 'news@shop.test', to: 'a@example.test', body: oversize('news@shop.test') },
    send: { tenant: 'shop', from: 'news@shop.test', to: 'a@example.test', raw: oversize('news@shop.test') },
    expect: { decision: 'message refused', code: 552, enhanced: '5.3.4' },
  },
  {
    name: 'unknown tenant',
    smtp: { from: 'app@origin.test', to: 'a@example.test', body: message('app@origin.test') },
    send: { tenant: 'no such:tenant', from: 'app@origin.test', to: 'a@example.test', text: 'hello' },
    expect: { decision: 'message refused', code: 530, enhanced: '5.7.0' },
  },
  {
    name: 'a From naming an author outside sender_domains after an allowed one',
    smtp: {
      user: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      body: message('a@shop.test, x@evil.test'),
    },
    send: {
      tenant: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      raw: message('a@shop.test, x@evil.test'),
    },
    expect: { decision: 'message refused', code: 554, enhanced: '5.7.1' },
  },
  {
    name: 'a From hiding its address behind a nested comment',
    smtp: {
      user: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      body: message('(a (b) <a@shop.test>) x@evil.test'),
    },
    send: {
      tenant: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      raw: message('(a (b) <a@shop.test>) x@evil.test'),
    },
    expect: { decision: 'message refused', code: 554, enhanced: '5.7.1' },
  },
  {
    name: 'two From fields',
    smtp: {
      user: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      body: message('a@shop.test\r\nFrom: x@evil.test'),
    },
    send: {
      tenant: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      raw: message('a@shop.test\nFrom: x@evil.test'),
    },
    expect: { decision: 'message refused', code: 550, enhanced: '5.7.1' },
  },
  {
    name: 'an unreadable From (an address with two "@")',
    smtp: {
      user: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      body: message('x@evil.test@shop.test'),
    },
    send: {
      tenant: 'shop',
      from: 'news@shop.test',
      to: 'a@example.test',
      raw: message('x@evil.test@shop.test'),
    },
    expect: { decision: 'message refused', code: 550, enhanced: '5.7.1' },
  },
  {
    name: 'Redis down',
    setup: (stack) => stack.redis.kill(),
    smtp: { user: 'shop', from: 'news@shop.test', to: 'a@example.test', body: message('news@shop.test') },
    send: { tenant: 'shop', from: 'news@shop.test', to: 'a@example.test', text: 'hello' },
    expect: { decision: 'try again later', code: 451, enhanced: '4.3.0' },
  },
];

function outcomeOfReply(text: string, stage: 'rcpt' | 'other'): Outcome {
  const match = /^(\d{3}) (\d\.\d{1,3}\.\d{1,3}) /.exec(text);
  assert.ok(match, `an SMTP reply with an enhanced code: ${text}`);
  const code = Number(match[1]);
  const decision: Decision =
    code < 500 && code !== 452
      ? 'try again later'
      : stage === 'rcpt' && code !== 530
        ? 'recipient refused'
        : 'message refused';
  return { decision, code, enhanced: match[2]! };
}

/** One SMTP transaction, step by step; the first refusal decides. */
async function throughSmtp(stack: Stack, c: SmtpCase): Promise<Outcome | 'accepted'> {
  const { client } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port);
  try {
    await client.command('EHLO parity.test');
    if (c.user) {
      const auth = Buffer.from(`\0${c.user}\0${PASSWORD}`).toString('base64');
      assert.equal((await client.command(`AUTH PLAIN ${auth}`)).code, 235);
    }
    const mail = await client.command(`MAIL FROM:<${c.from}>`);
    if (mail.code !== 250) return outcomeOfReply(mail.text, 'other');
    const rcpt = await client.command(`RCPT TO:<${c.to}>`);
    if (rcpt.code !== 250) return outcomeOfReply(rcpt.text, 'rcpt');
    assert.equal((await client.command('DATA')).code, 354);
    const data = await client.command(`${c.body}.`);
    if (data.code !== 250) return outcomeOfReply(data.text, 'other');
    return 'accepted';
  } finally {
    client.close();
  }
}

async function throughSend(herald: Herald, input: SendInput): Promise<Outcome | 'accepted'> {
  try {
    const result = await herald.send(input);
    const rejected = result.rejected[0];
    if (rejected) return { decision: 'recipient refused', code: rejected.code, enhanced: rejected.enhanced };
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof IntakeRefusedError, `send() throws an IntakeRefusedError: ${String(err)}`);
    const { code, enhanced } = err.refusal;
    return { decision: code < 500 ? 'try again later' : 'message refused', code, enhanced };
  }
}

/** The same submission as `send()` input, as a POST /v1/messages body with an admin key. */
async function throughHttp(stack: Stack, input: SendInput): Promise<Outcome | 'accepted'> {
  assert.ok(stack.api, 'the relay serves the API');
  const { tenant, from, to, text, raw } = input;
  const res = await fetch(`http://127.0.0.1:${stack.api.port}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant, from, to, ...(raw !== undefined ? { raw: String(raw) } : { text }) }),
  });
  const body = (await res.json()) as {
    recipients?: { accepted: boolean; code?: number; enhanced?: string }[];
    error?: {
      details?: { code: number; enhanced: string; recipients?: { code: number; enhanced: string }[] };
    };
  };
  if (res.status === 503) return { decision: 'try again later', code: 451, enhanced: '4.3.0' };
  const refused = (body.recipients ?? body.error?.details?.recipients)?.find((r) => r.code !== undefined);
  if (refused) return { decision: 'recipient refused', code: refused.code!, enhanced: refused.enhanced! };
  if (res.status === 202) return 'accepted';
  const details = body.error?.details;
  assert.ok(
    details,
    `an HTTP refusal carries the SMTP reply in details: ${res.status} ${JSON.stringify(body)}`,
  );
  return { decision: 'message refused', code: details.code, enhanced: details.enhanced };
}

describe('one intake: SMTP, send() and the HTTP API decide alike', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: {
          trusted_networks: [],
          max_message_size: MAX_MESSAGE_BYTES,
          redis_timeout: '1s',
          users: [
            { username: 'shop', password: PASSWORD, tenant: 'shop' },
            { username: 'strict', password: PASSWORD, tenant: 'strict' },
          ],
        },
        tenants: { shop: { sender_domains: ['shop.test'] }, strict: { refuse_dmarc_fail: true } },
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }], redis_timeout: '1s' },
      },
    });
  });
  after(async () => {
    await stack.redis.restart();
    await stack.stop();
  });

  for (const c of CASES)
    it(`${c.name}: ${c.expect.decision}, ${c.expect.code} ${c.expect.enhanced} on every path`, async () => {
      await c.setup?.(stack);
      const smtp = await throughSmtp(stack, c.smtp);
      const send = await throughSend(stack.relay.herald, c.send);
      const http = await throughHttp(stack, c.send);
      assert.deepEqual(smtp, c.expect, 'over SMTP');
      assert.deepEqual(send, c.expect, 'through send()');
      assert.deepEqual(http, c.expect, 'through the HTTP API');
    });
});
