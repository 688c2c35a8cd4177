/**
 * The RCPT stage's suppression decision: the tenant's `suppression` mode picks a 550 5.7.1
 * refusal with the reason (refuse, the default) or a silent drop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import { createPolicy } from '../src/policy.js';

const policy = createPolicy(
  defaultConfig({
    smtp: {
      users: [
        { username: 'news', password: 'pw', tenant: 'newsletters' },
        { username: 'app', password: 'pw' },
      ],
    },
    tenants: { newsletters: { suppression: 'drop' } },
  }),
);
const session = (username?: string, tenant?: string) => ({
  remoteAddress: '127.0.0.1',
  user: username ? { username, tenant: tenant ?? username } : undefined,
  secure: false,
  recipients: 0,
});
const entry = { address: 'gone@example.net', reason: 'userunknown', source: 'bounce' as const, at: 0 };

describe('submission policy at RCPT: suppressed recipients', () => {
  it('refuses with 550 5.7.1 and the reason for a tenant in mode refuse (the default)', () => {
    assert.deepEqual(policy.onSuppressedRecipient('Gone@example.net', entry, session('app')), {
      code: 550,
      enhanced: '5.7.1',
      text: '<Gone@example.net>: recipient suppressed (userunknown)',
    });
    const trusted = policy.onSuppressedRecipient('gone@example.net', entry, session());
    assert.ok(trusted !== 'drop' && trusted.code === 550, 'mail without a user is tenant default');
  });

  it('drops for a tenant in mode drop', () => {
    assert.equal(
      policy.onSuppressedRecipient('gone@example.net', entry, session('news', 'newsletters')),
      'drop',
    );
  });
});
