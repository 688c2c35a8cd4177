/**
 * `/v1/accounts/{account}` takes every account name a user or tenant can have — a space, a colon,
 * any printable character, percent-encoded in the path — so every account GET /v1/accounts lists
 * can be shown, unflagged and released; control characters and names over 320 characters are a
 * 400. Against a private redis-server, the flags written as the behaviour stage writes them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { behaviourFlagsKey } from '@herald/delivery-core/keys';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi, waitUntil } from './helpers.js';

const ODD_ACCOUNTS = ['sp ace', 'a:b'];

/** A behaviour flag as the flag store keeps it (volume_spike, tenant acme). */
const flagRecord = (account: string): string =>
  JSON.stringify({ account, tenant: 'acme', rule: 'volume_spike', reason: 'test', figures: {}, since: 1 });

describe('/v1/accounts/{account} with any account name', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApi({ behaviour: { rules: { volume_spike: { window: '1m', max_count: 5 } } } });
    const flags = Object.fromEntries(ODD_ACCOUNTS.map((account) => [account, flagRecord(account)]));
    await stack.redis.client().hset(behaviourFlagsKey(PREFIX), flags);
  });
  after(() => stack?.stop());
  const call = (method: string, account: string, rest = '') =>
    stack.call(method, `/v1/accounts/${encodeURIComponent(account)}${rest}`, { key: ADMIN_KEY });

  it('lists, shows, unflags and releases accounts with a space or a colon', async () => {
    const listed = await stack.call('GET', '/v1/accounts', { key: ADMIN_KEY });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      (listed.body.accounts as { account: string }[]).map((a) => a.account).sort(),
      [...ODD_ACCOUNTS].sort(),
    );
    for (const account of ODD_ACCOUNTS) {
      const shown = await call('GET', account);
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.account, account);
      assert.equal(shown.body.flag?.rule, 'volume_spike');
      const unflagged = await call('POST', account, '/unflag');
      assert.equal(unflagged.status, 200, JSON.stringify(unflagged.body));
      assert.deepEqual(unflagged.body, { account, flagged: false, changed: true });
      const released = await call('POST', account, '/release');
      assert.equal(released.status, 200, JSON.stringify(released.body));
      assert.deepEqual(released.body, { account, released: [] });
    }
    assert.deepEqual((await stack.call('GET', '/v1/accounts', { key: ADMIN_KEY })).body, { accounts: [] });
  });

  it('refuses control characters and names over 320 characters', async () => {
    for (const account of ['tab\there', 'nul\u0000', 'x'.repeat(321)]) {
      const answer = await call('GET', account);
      assert.equal(answer.status, 400, `${JSON.stringify(account)}: ${JSON.stringify(answer.body)}`);
    }
    assert.equal((await call('GET', 'x'.repeat(320))).status, 200);
  });
});

const LABELLED_KEY = 'labelled-admin-key-0123456789';
const UNLABELLED_KEY = 'unlabelled-admin-key-0123456789';

describe('operator actions by an admin key name it the same way everywhere', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApi(
      { behaviour: { rules: { volume_spike: { window: '1m', max_count: 5 } } } },
      { admin_keys: [{ key: LABELLED_KEY, label: 'ops-alice' }, { key: UNLABELLED_KEY }] },
    );
  });
  after(() => stack?.stop());

  const flag = (account: string) =>
    stack.redis.client().hset(behaviourFlagsKey(PREFIX), account, flagRecord(account));
  const hold = (id: string, account?: string) =>
    stack.herald.quarantine.store.hold({
      id,
      ...(account ? { account, reason: 'behaviour:volume_spike' } : { reason: 'spam' }),
      tenant: 'acme',
      from: 'app@origin.test',
      recipients: [`rcpt-${id}@example.test`],
      body: Buffer.from(`Subject: ${id}\r\nFrom: app@origin.test\r\n\r\nhello\r\n`),
      heldAt: Date.now(),
      source: 'api',
    });
  /** The `by` of the event of `type` about `subject` (an account or a message id), once written. */
  const byOf = (type: string, subject: string) =>
    waitUntil(`${type} ${subject}`, async () => {
      const answer = await stack.call('GET', `/v1/events?type=${type}&limit=1000`, { key: LABELLED_KEY });
      const found = (
        answer.body.events as { event: { account?: string; messageId?: string; by?: string } }[]
      ).find((e) => e.event.account === subject || e.event.messageId === subject);
      return found?.event.by;
    });

  it("an unflag and releases (one message, an account's) record `api:<label>`, else `api:<key id>`", async () => {
    for (const [key, by] of [
      [LABELLED_KEY, 'api:ops-alice'],
      [UNLABELLED_KEY, 'api:admin-1'],
    ] as const) {
      const account = `acct-${by}`;
      await flag(account);
      const unflagged = await stack.call('POST', `/v1/accounts/${encodeURIComponent(account)}/unflag`, {
        key,
      });
      assert.equal(unflagged.status, 200, JSON.stringify(unflagged.body));
      assert.equal(await byOf('account_unflagged', account), by);

      const id = `held-${by.replace(/\W/g, '-')}`;
      await hold(id);
      const released = await stack.call('POST', `/v1/quarantine/${id}/release`, { key });
      assert.equal(released.status, 200, JSON.stringify(released.body));
      assert.equal(await byOf('released', id), by);

      await hold(`${id}-of-account`, account);
      const bulk = await stack.call('POST', `/v1/accounts/${encodeURIComponent(account)}/release`, { key });
      assert.deepEqual(bulk.body.released, [`${id}-of-account`], JSON.stringify(bulk.body));
      assert.equal(await byOf('released', `${id}-of-account`), by);
    }
  });
});
