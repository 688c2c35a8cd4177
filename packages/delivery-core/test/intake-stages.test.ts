/**
 * The intake pipeline's pure stages as a table: each case names a stage, its input and the
 * refusal it must give (its catalogue kind, basic and enhanced code) or that it passes. Every row
 * of the refusal catalogue has a stage case here or in test/intake-parity.test.ts (Redis failures).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import {
  IntakeRefusedError,
  intakeStages,
  isRefusal,
  REFUSALS,
  type Refusal,
  type RefusalKind,
  refuse,
} from '@herald/delivery-core/intake';

const config = defaultConfig({
  smtp: {
    max_recipients: 2,
    max_message_size: 1_000,
    trusted_networks: ['10.0.0.0/8'],
    users: [{ username: 'shop', password: 'pw', tenant: 'shop' }],
  },
  tenants: {
    shop: { sender_domains: ['shop.test'] },
    strict: { refuse_dmarc_fail: true },
    quiet: { suppression: 'drop' },
  },
});
const stages = intakeStages(config);
const msg = (from: string, extra = '') => Buffer.from(`From: ${from}\r\n${extra}Subject: s\r\n\r\nbody\r\n`);
const entry = { address: 'gone@x.test', reason: 'userunknown', source: 'bounce' as const, at: 0 };

type Result = Refusal | 'drop' | string | object | undefined;
const CASES: { name: string; run: () => Result; expect: RefusalKind | 'pass' | 'drop' }[] = [
  {
    name: 'an SMTP user is its tenant',
    run: () => stages.tenant({ via: 'smtp', remoteAddress: '192.0.2.1', user: { tenant: 'shop' } }),
    expect: 'pass',
  },
  {
    name: 'a trusted network is tenant default',
    run: () => stages.tenant({ via: 'smtp', remoteAddress: '10.1.2.3' }),
    expect: 'pass',
  },
  {
    name: 'an unauthenticated, untrusted client has no tenant',
    run: () => stages.tenant({ via: 'smtp', remoteAddress: '192.0.2.1' }),
    expect: 'noTenant',
  },
  { name: 'send() without a tenant is default', run: () => stages.tenant({ via: 'api' }), expect: 'pass' },
  {
    name: 'send() as a configured tenant (any case)',
    run: () => stages.tenant({ via: 'api', tenant: 'Strict' }),
    expect: 'pass',
  },
  {
    name: 'send() as a user\u2019s tenant',
    run: () => stages.tenant({ via: 'api', tenant: 'shop' }),
    expect: 'pass',
  },
  {
    name: 'send() as a tenant nobody configured (tenants are an open set)',
    run: () => stages.tenant({ via: 'api', tenant: 'nobody' }),
    expect: 'pass',
  },
  { name: 'the null sender', run: () => stages.sender('shop', ''), expect: 'pass' },
  {
    name: 'send() as no possible tenant name',
    run: () => stages.tenant({ via: 'api', tenant: 'no such:tenant' }),
    expect: 'noTenant',
  },
  {
    name: 'send() with an empty tenant',
    run: () => stages.tenant({ via: 'api', tenant: '' }),
    expect: 'noTenant',
  },
  {
    name: 'a bad sender address',
    run: () => stages.sender('default', 'not an address'),
    expect: 'badSender',
  },
  {
    name: 'a sender in a subdomain of sender_domains',
    run: () => stages.sender('shop', 'a@mail.shop.test'),
    expect: 'pass',
  },
  {
    name: 'a foreign sender domain',
    run: () => stages.sender('shop', 'ceo@bank.test'),
    expect: 'senderNotAllowed',
  },
  { name: 'a bad recipient', run: () => stages.recipient('nobody', 0), expect: 'badRecipient' },
  { name: 'a recipient within max_recipients', run: () => stages.recipient('a@x.test', 1), expect: 'pass' },
  {
    name: 'a recipient beyond max_recipients',
    run: () => stages.recipient('a@x.test', 2),
    expect: 'tooManyRecipients',
  },
  {
    name: 'a suppressed recipient, mode refuse',
    run: () => stages.suppressed('default', 'gone@x.test', entry),
    expect: 'suppressed',
  },
  {
    name: 'a suppressed recipient, mode drop',
    run: () => stages.suppressed('quiet', 'gone@x.test', entry),
    expect: 'drop',
  },
  { name: 'a message at max_message_size', run: () => stages.size(1_000), expect: 'pass' },
  { name: 'a message over max_message_size', run: () => stages.size(1_001), expect: 'tooBig' },
  {
    name: 'NUL in the header block',
    run: () => stages.content('default', '', msg('a@x.test', 'X-A: \0\r\n')),
    expect: 'badContent',
  },
  {
    name: 'an invalid X-Herald-Stream',
    run: () => stages.content('default', '', msg('a@x.test', 'X-Herald-Stream: no way\r\n')),
    expect: 'badInstruction',
  },
  {
    name: 'a From header outside sender_domains',
    run: () => stages.content('shop', 'a@shop.test', msg('ceo@bank.test')),
    expect: 'fromNotAllowed',
  },
  {
    name: 'a From header in sender_domains',
    run: () => stages.content('shop', 'a@shop.test', msg('news@shop.test')),
    expect: 'pass',
  },
  {
    name: '(a (b) <a@shop.test>) x@evil.test' + ' (an author outside sender_domains)',
    run: () => stages.content('shop', 'a@shop.test', msg('(a (b) <a@shop.test>) x@evil.test')),
    expect: 'fromNotAllowed',
  },
  {
    name: '(nested (comment) <a@shop.test>) Evil <x@evil.test>' + ' (an author outside sender_domains)',
    run: () =>
      stages.content('shop', 'a@shop.test', msg('(nested (comment) <a@shop.test>) Evil <x@evil.test>')),
    expect: 'fromNotAllowed',
  },
  {
    name: 'x@evil.test, <a@shop.test>' + ' (an author outside sender_domains)',
    run: () => stages.content('shop', 'a@shop.test', msg('x@evil.test, <a@shop.test>')),
    expect: 'fromNotAllowed',
  },
  {
    name: 'a@shop.test, x@evil.test' + ' (an author outside sender_domains)',
    run: () => stages.content('shop', 'a@shop.test', msg('a@shop.test, x@evil.test')),
    expect: 'fromNotAllowed',
  },
  {
    name: '<a@shop.test> <x@evil.test>' + ' (unreadable From)',
    run: () => stages.content('shop', 'a@shop.test', msg('<a@shop.test> <x@evil.test>')),
    expect: 'badFrom',
  },
  {
    name: 'x@evil.test@shop.test' + ' (unreadable From)',
    run: () => stages.content('shop', 'a@shop.test', msg('x@evil.test@shop.test')),
    expect: 'badFrom',
  },
  {
    name: '(unclosed <a@shop.test>' + ' (unreadable From)',
    run: () => stages.content('shop', 'a@shop.test', msg('(unclosed <a@shop.test>')),
    expect: 'badFrom',
  },
  {
    name: '"a@shop.test <a@shop.test>' + ' (unreadable From)',
    run: () => stages.content('shop', 'a@shop.test', msg('"a@shop.test <a@shop.test>')),
    expect: 'badFrom',
  },
  {
    name: 'two From fields (CRLF)',
    run: () => stages.content('shop', 'a@shop.test', msg('a@shop.test', 'From: x@evil.test\r\n')),
    expect: 'badFrom',
  },
  {
    name: 'two From fields (bare LF), even without sender_domains',
    run: () => stages.content('default', '', Buffer.from('From: a@shop.test\nfrom: x@evil.test\n\nbody\n')),
    expect: 'badFrom',
  },
  {
    name: 'authors of two domains, each allowed',
    run: () =>
      stages.content('shop', 'a@shop.test', msg('a@shop.test, "B" <b@mail.shop.test>, g: c@shop.test;')),
    expect: 'pass',
  },
  {
    name: 'authors of two domains under refuse_dmarc_fail',
    run: () => stages.content('strict', 'a@origin.test', msg('b@origin.test, c@other.test')),
    expect: 'dmarcWouldFail',
  },
  {
    name: 'DMARC would fail (refuse_dmarc_fail)',
    run: () => stages.content('strict', 'a@origin.test', msg('ceo@bank.test')),
    expect: 'dmarcWouldFail',
  },
  {
    name: 'DMARC aligned by the return path',
    run: () => stages.content('strict', 'a@origin.test', msg('b@origin.test')),
    expect: 'pass',
  },
];

describe('intake stages', () => {
  for (const c of CASES)
    it(`${c.name}: ${c.expect}`, () => {
      const result = c.run();
      if (c.expect === 'pass') assert.ok(!isRefusal(result) && result !== 'drop', JSON.stringify(result));
      else if (c.expect === 'drop') assert.equal(result, 'drop');
      else {
        assert.ok(isRefusal(result), `a refusal, got ${JSON.stringify(result)}`);
        const row = REFUSALS[c.expect];
        assert.deepEqual(
          { kind: result.kind, code: result.code, enhanced: result.enhanced },
          { kind: c.expect, code: row.code, enhanced: row.enhanced },
        );
      }
    });

  it('send() throws a refusal as a HeraldError with the catalogue code, the reason as its message', () => {
    const err = new IntakeRefusedError(refuse('queueUnavailable', { reason: 'redis down' }));
    assert.equal(err.code, 'HERALD_REDIS_UNAVAILABLE');
    assert.equal(err.message, 'redis down');
    assert.equal(err.refusal.enhanced, '4.3.0');
    assert.equal(new IntakeRefusedError(refuse('senderNotAllowed')).code, 'HERALD_SEND_DOMAIN_NOT_ALLOWED');
  });
});
