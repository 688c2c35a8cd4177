/**
 * End to end: compromised-account detection (config `behaviour`) on a relay with a private Redis
 * and SMTP sinks. An SMTP user that sends a burst over its volume cap is flagged (an
 * `account_flagged` event, also delivered to the tenant's webhook), and its next message is
 * answered 250 but held in quarantine (reason `behaviour:volume_spike`), never reaching the sink,
 * while another user of the same tenant still delivers; unflagged, its next message is delivered,
 * and the held one is released by account. A user that writes to too many domains in the window
 * is flagged for domain_spread; one whose recipients bounce 550 for bounce_spike.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AccountEvent, QuarantineEvent } from '@herald/delivery-core/events';
import { type Receiver, startReceiver } from '@herald/test-harness';
import { runCli } from './lib/cli.js';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const SENDER = 'app@origin.test';
const PASS = 'secret-password';
const SPREAD_DOMAINS = ['d1.test', 'd2.test', 'd3.test', 'd4.test', 'd5.test', 'd6.test'];
const GONE = { code: 550, enhanced: '5.1.1', text: 'no such user' };
const ADMIN_KEY = 'admin-key-for-the-behaviour-e2e-0123456789';
const user = (name: string) => ({ username: name, password: PASS, tenant: 'acme' });

describe('compromised-account detection', () => {
  let stack: Stack;
  let receiver: Receiver;
  let dir: string | undefined;
  before(async () => {
    receiver = await startReceiver(SECRET);
    const zone = Object.assign(
      mxZone('example.test', [{ preference: 10, address: '127.0.0.2' }]),
      ...SPREAD_DOMAINS.map((d) => mxZone(d, [{ preference: 10, address: '127.0.0.2' }])),
    );
    stack = await startStack({
      zone,
      sinks: [{ host: '127.0.0.2', script: { rcpt: (to) => (to.startsWith('gone') ? GONE : undefined) } }],
      config: {
        smtp: { users: ['mallory', 'alice', 'spreader', 'bouncer'].map(user) },
        tenants: { acme: { dsn: false } },
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        behaviour: {
          evaluate_interval: '1s',
          rules: { volume_spike: { window: '1m', min_count: 5, max_count: 10 } },
          accounts: {
            spreader: { domain_spread: { window: '1m', max_domains: 5 } },
            bouncer: { bounce_spike: { window: '5m', rate: 0.3, min_recipients: 4, min_events: 2 } },
          },
        },
        webhooks: [
          {
            tenant: 'acme',
            url: receiver.url,
            events: ['account_flagged'],
            secret: SECRET,
            batch_wait: '50ms',
          },
        ],
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const send = (account: string, to: string[], subject = 'hello') =>
    stack.submit({
      from: SENDER,
      to,
      body: sampleMessage({ subject }),
      auth: { user: account, pass: PASS },
    });
  const flagged = (account: string) =>
    stack.events.waitFor<AccountEvent>(
      `account_flagged of ${account}`,
      (e) => e.type === 'account_flagged' && e.account === account,
    );
  const delivered = (to: string) => stack.sinks[0]!.messages.filter((m) => m.to.includes(to));

  it('a burst over the cap flags the account, holds its next message, and spares another account', async () => {
    for (let i = 0; i < 10; i++) {
      const sent = await send('mallory', [`burst${i}@example.test`]);
      assert.equal(sent.code, 250, sent.response);
    }
    const flag = await flagged('mallory');
    assert.equal(flag.rule, 'volume_spike');
    assert.equal(flag.tenant, 'acme');
    assert.equal(flag.figures?.recipients, 10);
    assert.match(flag.reason, /10 recipients in 1m: at or over the cap of 10/);
    await receiver.waitFor(() =>
      receiver
        .accepted()
        .some((r) => r.events.some((e) => e.type === 'account_flagged' && e.account === 'mallory')),
    );

    const next = await send('mallory', ['after-flag@example.test'], 'held');
    assert.equal(next.code, 250, 'the client learns nothing: 250 as for any message');
    const held = await stack.events.waitFor<QuarantineEvent>(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === next.queueId,
    );
    assert.equal(held.reason, 'behaviour:volume_spike');
    assert.equal(held.account, 'mallory');

    const other = await send('alice', ['alice-reader@example.test']);
    assert.equal((await stack.events.terminal('alice-reader@example.test', other.queueId)).type, 'delivered');
    assert.equal(delivered('after-flag@example.test').length, 0, 'the held message was not delivered');

    const behaviour = stack.relay.herald.behaviour!;
    assert.deepEqual(
      (await behaviour.flagged()).map((f) => [f.account, f.rule]),
      [['mallory', 'volume_spike']],
    );
    const status = await behaviour.status('Mallory');
    assert.equal(status.flag?.rule, 'volume_spike');
    assert.equal(status.figures.recipients[0]! + (status.figures.recipients[1] ?? 0) >= 10, true);

    const lifted = await behaviour.unflag('mallory');
    assert.equal(lifted?.rule, 'volume_spike');
    await stack.events.waitFor('account_unflagged', (e) => e.type === 'account_unflagged');
    assert.equal(await behaviour.unflag('mallory'), undefined, 'unflagged once');
    const again = await send('mallory', ['after-unflag@example.test']);
    assert.equal((await stack.events.terminal('after-unflag@example.test', again.queueId)).type, 'delivered');
    assert.equal(delivered('after-flag@example.test').length, 0, 'unflagging releases nothing by itself');

    const released = await stack.relay.herald.quarantine.releaseAccount('mallory');
    assert.deepEqual(released, [next.queueId]);
    assert.equal((await stack.events.terminal('after-flag@example.test', next.queueId)).type, 'delivered');
  });

  it('mail to more recipient domains than the window allows flags the account for domain_spread', async () => {
    const sent = await send(
      'spreader',
      SPREAD_DOMAINS.map((d) => `someone@${d}`),
    );
    assert.equal(sent.code, 250, sent.response);
    const flag = await flagged('spreader');
    assert.equal(flag.rule, 'domain_spread');
    assert.equal(flag.figures?.domains, 6);
    const held = await send('spreader', ['later@example.test']);
    const event = await stack.events.waitFor<QuarantineEvent>(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === held.queueId,
    );
    assert.equal(event.reason, 'behaviour:domain_spread');
  });

  it('hard bounces from a 550-ing sink over the rate flag the account for bounce_spike', async () => {
    for (const to of ['gone1@example.test', 'gone2@example.test', 'ok1@example.test', 'ok2@example.test']) {
      const sent = await send('bouncer', [to]);
      assert.equal(sent.code, 250, sent.response);
    }
    const flag = await flagged('bouncer');
    assert.equal(flag.rule, 'bounce_spike');
    assert.equal(flag.figures?.hard, 2);
    assert.equal(flag.figures?.recipients, 4);
    assert.match(flag.reason, /hard bounce rate 50\.00 % over 30\.00 %/);
    const metrics = await stack.relay.herald.metrics.metrics();
    assert.match(metrics, /herald_account_flags_total\{type="account_flagged",rule="bounce_spike"\} 1/);
  });

  it('the HTTP API and `herald account` list flagged accounts, show one, unflag and release', async () => {
    const base = `http://127.0.0.1:${stack.api!.port}`;
    const api = async (method: string, path: string) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const listed = await api('GET', '/v1/accounts');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      (listed.body.accounts as { account: string; rule: string }[]).map((a) => [a.account, a.rule]).sort(),
      [
        ['bouncer', 'bounce_spike'],
        ['spreader', 'domain_spread'],
      ],
    );
    const shown = await api('GET', '/v1/accounts/spreader');
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal((shown.body.flag as { rule: string }).rule, 'domain_spread');
    assert.equal((shown.body.figures as { domains: number }).domains, 6, 'held mail is not counted');
    const shownHeld = shown.body.held as { messages: number; max_messages: number; cap_reached: null };
    assert.deepEqual([shownHeld.messages, shownHeld.max_messages, shownHeld.cap_reached], [1, 1000, null]);

    dir = await mkdtemp(join(tmpdir(), 'herald-behaviour-e2e-'));
    const configFile = join(dir, 'herald.yaml');
    await writeFile(
      configFile,
      `redis: { url: "${stack.redis.url}" }\nbehaviour: { rules: { domain_spread: { max_domains: 5 } } }\n`,
    );
    const cliList = await runCli(['account', 'list', '--config', configFile]);
    assert.equal(cliList.code, 0, cliList.stderr);
    assert.match(
      cliList.stdout,
      /^spreader {2}domain_spread {2}\S+ {2}acme {2}held 1\/1000 msgs \d+\/100000000 bytes {2}6 recipient domains in 1m: over 5$/m,
    );
    const cliUnflag = await runCli(['account', 'unflag', 'bouncer', '--config', configFile]);
    assert.equal(cliUnflag.code, 0, cliUnflag.stderr);
    assert.equal(cliUnflag.stdout, 'bouncer: unflagged (was bounce_spike)\n');

    const unflagged = await api('POST', '/v1/accounts/spreader/unflag');
    assert.deepEqual(unflagged.body, { account: 'spreader', flagged: false, changed: true });
    const released = await api('POST', '/v1/accounts/spreader/release');
    assert.equal((released.body.released as string[]).length, 1);
    assert.equal((await stack.events.terminal('later@example.test')).type, 'delivered');
    assert.deepEqual((await api('GET', '/v1/accounts')).body, { accounts: [] });
  });
});
