/**
 * Sender domains per tenant (`tenants.<name>.sender_domains`): MAIL FROM and the From header must
 * use an allowed domain or a subdomain of one (553 5.7.1 at MAIL, 554 5.7.1 at the end of DATA);
 * the null sender is always allowed; a tenant without the list may send as anyone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import { createPolicy } from '../src/policy.js';

const policy = createPolicy(
  defaultConfig({
    smtp: {
      users: [
        { username: 'shop', password: 'pw', tenant: 'shop' },
        { username: 'free', password: 'pw', tenant: 'free' },
      ],
    },
    tenants: { shop: { sender_domains: ['shop.test'] } },
  }),
);
const session = (tenant: string) => ({
  remoteAddress: '127.0.0.1',
  user: { username: tenant, tenant },
  secure: false,
  recipients: 0,
});
const message = (from: string) => Buffer.from(`From: ${from}\r\nSubject: hi\r\n\r\nbody\r\n`);

describe('submission policy: sender domains per tenant', () => {
  it('MAIL FROM: the domain or a subdomain passes; another domain gets 553 5.7.1; <> passes', () => {
    assert.equal(policy.onMailFrom('news@shop.test', session('shop')), undefined);
    assert.equal(policy.onMailFrom('news@mail.shop.test', session('shop')), undefined);
    assert.equal(policy.onMailFrom('', session('shop')), undefined);
    assert.deepEqual(policy.onMailFrom('ceo@bank.test', session('shop')), {
      code: 553,
      enhanced: '5.7.1',
      text: '<ceo@bank.test>: Sender address rejected: domain not allowed for this account',
    });
    assert.deepEqual(policy.onMailFrom('x@notshop.test', session('shop'))?.code, 553, 'not a suffix match');
    assert.equal(policy.onMailFrom('ceo@bank.test', session('free')), undefined, 'no list: anyone');
  });

  it('From header: checked at the end of DATA with 554 5.7.1', () => {
    assert.ok(!('code' in policy.onData(message('"Shop" <news@shop.test>'), session('shop'))));
    const refused = policy.onData(message('"Bank" <ceo@bank.test>'), session('shop'));
    assert.ok('code' in refused);
    assert.deepEqual(refused, {
      code: 554,
      enhanced: '5.7.1',
      text: 'From domain bank.test: not allowed for this account',
    });
    const none = policy.onData(Buffer.from('Subject: no from\r\n\r\nx\r\n'), session('shop'));
    assert.ok('code' in none && none.code === 554);
    assert.ok(!('code' in policy.onData(message('ceo@bank.test'), session('free'))));
  });
});
