/**
 * End to end: abuse at the relay's door. Per-client limits (connections at once, new connections
 * per time unit; loopback exempt by default), AUTH failure throttling (tarpit, disconnect, a
 * temporary block of the address; a user slowed, never locked out), per-session limits (junk
 * commands, error replies) and AUTH only after STARTTLS. Every client is a raw TCP client on a
 * 127.0.0.x address; `client_limits.exceptions: []` puts loopback under the limits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSmtp } from './lib/raw-smtp.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const APP = { user: 'app', pass: 'secret' };
const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');

async function connectFrom(stack: Stack, localAddress: string) {
  return RawSmtp.connect(stack.smtp.host, stack.smtp.port, { localAddress });
}

async function metric(stack: Stack, pattern: RegExp): Promise<number> {
  const body = (await stack.get('/metrics')).body;
  const line = body.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('connections at once per client address', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { smtp: { client_limits: { exceptions: [], max_connections: 3, rate_time_unit: '1h' } } },
    });
  });
  after(() => stack.stop());

  it('the fourth idle connection from one address gets 421 4.7.0 and is closed; other addresses still get in', async () => {
    const held: RawSmtp[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const { client, greeting } = await connectFrom(stack, '127.0.0.11');
        held.push(client);
        assert.equal(greeting.code, 220, greeting.text);
      }
      const { client: extra, greeting } = await connectFrom(stack, '127.0.0.11');
      assert.match(greeting.text, /^421 4\.7\.0 /);
      await extra.ended;
      const other = await connectFrom(stack, '127.0.0.12');
      assert.equal(other.greeting.code, 220, 'another address is not locked out');
      other.client.close();
      const event = await stack.events.waitFor('client_limited', (e) => e.type === 'client_limited');
      assert.deepEqual(
        { ...event, time: 0 },
        {
          type: 'client_limited',
          time: 0,
          client: '127.0.0.11',
          reason: 'connections',
        },
      );
      assert.equal(await metric(stack, /^herald_smtp_refusals_total\{reason="connections"\}/), 1);
      // One of the three leaves: the address may connect again.
      held.pop()?.close();
      await waitUntil('a free connection slot for 127.0.0.11', async () => {
        const again = await connectFrom(stack, '127.0.0.11');
        again.client.close();
        return again.greeting.code === 220;
      });
    } finally {
      for (const client of held) client.close();
    }
  });
});

describe('new connections per client address per time unit', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: { client_limits: { exceptions: [], max_connection_rate: 3, rate_time_unit: '1h' } },
      },
    });
  });
  after(() => stack.stop());

  it('the fourth connection within smtp.client_limits.rate_time_unit gets 421 4.7.0', async () => {
    for (let i = 0; i < 3; i++) {
      const { client, greeting } = await connectFrom(stack, '127.0.0.13');
      assert.equal(greeting.code, 220, greeting.text);
      await client.command('QUIT');
      client.close();
    }
    const { client, greeting } = await connectFrom(stack, '127.0.0.13');
    assert.match(greeting.text, /^421 4\.7\.0 /);
    await client.ended;
    const event = await stack.events.waitFor('client_limited', (e) => e.type === 'client_limited');
    assert.equal('reason' in event && event.reason, 'connection_rate');
    assert.equal(await metric(stack, /^herald_smtp_refusals_total\{reason="connection_rate"\}/), 1);
  });
});

describe('loopback is exempt from the per-client limits by default', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ config: { smtp: { client_limits: { max_connections: 1 } } } });
  });
  after(() => stack.stop());

  it('two connections at once from 127.0.0.1 both get 220', async () => {
    const first = await connectFrom(stack, '127.0.0.1');
    const second = await connectFrom(stack, '127.0.0.1');
    first.client.close();
    second.client.close();
    assert.equal(first.greeting.code, 220);
    assert.equal(second.greeting.code, 220);
  });
});

describe('AUTH failures', () => {
  let stack: Stack;
  const DELAY_MS = 200;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: {
          trusted_networks: [],
          users: [{ username: APP.user, password: APP.pass }],
          auth_failures_per_session: 3,
          client_limits: {
            exceptions: [],
            auth_failure_delay: DELAY_MS,
            auth_failure_max_delay: 2 * DELAY_MS,
            auth_failure_limit: 5,
            auth_failure_window: '1h',
            block_time: '1h',
            user_failure_threshold: 2,
          },
        },
      },
    });
  });
  after(() => stack.stop());

  it('a guessing client is slowed, disconnected after smtp.auth_failures_per_session, then blocked', async () => {
    const first = await connectFrom(stack, '127.0.0.21');
    await first.client.command('EHLO guesser.test');
    assert.match(
      (await first.client.command(`AUTH PLAIN ${plain(APP.user, 'guess1')}`)).text,
      /^535 5\.7\.8 /,
    );
    const started = Date.now();
    assert.match(
      (await first.client.command(`AUTH PLAIN ${plain(APP.user, 'guess2')}`)).text,
      /^535 5\.7\.8 /,
    );
    assert.ok(Date.now() - started >= DELAY_MS, 'the second failure is answered after the tarpit delay');
    assert.match(
      (await first.client.command(`AUTH PLAIN ${plain(APP.user, 'guess3')}`)).text,
      /^421 4\.7\.0 /,
    );
    await first.client.ended;

    const second = await connectFrom(stack, '127.0.0.21');
    assert.equal(second.greeting.code, 220, 'not blocked yet: 3 of 5 failures');
    await second.client.command('EHLO guesser.test');
    assert.match((await second.client.command(`AUTH PLAIN ${plain(APP.user, 'guess4')}`)).text, /^535 /);
    assert.match(
      (await second.client.command(`AUTH PLAIN ${plain(APP.user, 'guess5')}`)).text,
      /^421 4\.7\.0 /,
    );
    await second.client.ended;

    const blocked = await connectFrom(stack, '127.0.0.21');
    assert.match(blocked.greeting.text, /^421 4\.7\.0 /, 'the address is blocked');
    await blocked.client.ended;
    const event = await stack.events.waitFor('client_blocked', (e) => e.type === 'client_blocked');
    assert.ok(event.type === 'client_blocked' && event.client === '127.0.0.21');
    assert.equal(event.reason, 'auth_failures');
    assert.ok((event.until ?? 0) > Date.now());
    assert.equal(JSON.stringify(stack.events.all).includes('guess'), false, 'no password in any event');
    assert.equal(await metric(stack, /^herald_auth_failures_total /), 5);
    assert.equal(await metric(stack, /^herald_client_blocks_total /), 1);
  });

  it('the guessed user is slowed but not locked out: the right password from another address passes', async () => {
    const { client, greeting } = await connectFrom(stack, '127.0.0.22');
    try {
      assert.equal(greeting.code, 220);
      await client.command('EHLO app.test');
      const started = Date.now();
      const auth = await client.command(`AUTH PLAIN ${plain(APP.user, APP.pass)}`);
      assert.match(auth.text, /^235 /);
      assert.ok(Date.now() - started >= DELAY_MS, "every AUTH of the guessed user waits the user's delay");
    } finally {
      client.close();
    }
  });
});

describe('per-session limits', () => {
  let stack: Stack;
  const SLEEP_MS = 300;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: { junk_command_limit: 5, soft_error_limit: 2, hard_error_limit: 3, error_sleep_time: SLEEP_MS },
      },
    });
  });
  after(() => stack.stop());

  it('commands beyond smtp.junk_command_limit before any mail get 421 4.7.0 and the connection is closed', async () => {
    const { client } = await connectFrom(stack, '127.0.0.31');
    assert.equal((await client.command('EHLO junk.test')).code, 250);
    for (let i = 0; i < 4; i++) assert.equal((await client.command('NOOP')).code, 250);
    assert.match((await client.command('NOOP')).text, /^421 4\.7\.0 /);
    await client.ended;
    assert.equal(await metric(stack, /^herald_smtp_refusals_total\{reason="junk_commands"\}/), 1);
  });

  it('errors are slowed after smtp.soft_error_limit and closed with 421 4.7.0 at smtp.hard_error_limit', async () => {
    const { client } = await connectFrom(stack, '127.0.0.32');
    await client.command('EHLO errors.test');
    assert.equal((await client.command('BOGUS1')).code, 500);
    assert.equal((await client.command('BOGUS2')).code, 500);
    const started = Date.now();
    assert.equal((await client.command('BOGUS3')).code, 500);
    assert.ok(Date.now() - started >= SLEEP_MS, 'after soft_error_limit errors every command waits');
    assert.match((await client.read()).text, /^421 4\.7\.0 /);
    await client.ended;
    assert.equal(await metric(stack, /^herald_smtp_refusals_total\{reason="errors"\}/), 1);
  });

  it('refusals of recipients (suppressed, bad syntax, over max_recipients) are not client errors', async () => {
    const suppressed = Array.from({ length: 4 }, (_, i) => `gone${i}@example.test`);
    for (const address of suppressed)
      await stack.relay.herald.suppression.add('default', {
        address,
        reason: 'userunknown',
        source: 'bounce',
      });
    const { client } = await connectFrom(stack, '127.0.0.1'); // trusted: may relay without AUTH
    try {
      await client.command('EHLO bulk.test');
      assert.equal((await client.command('MAIL FROM:<app@origin.test>')).code, 250);
      for (const address of suppressed)
        assert.match((await client.command(`RCPT TO:<${address}>`)).text, /^550 5\.7\.1 /);
      assert.match((await client.command(`RCPT TO:<${'l'.repeat(65)}@example.test>`)).text, /^553 5\.1\.3 /);
      assert.equal((await client.command('RCPT TO:<kept@example.test>')).code, 250);
      assert.equal((await client.command('DATA')).code, 354);
      assert.match((await client.command('Subject: bulk\r\n\r\nbody\r\n.')).text, /^250 /);
      assert.equal(client.isEnded, false);
    } finally {
      client.close();
    }
  });
});

describe('AUTH only after STARTTLS', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: {
          trusted_networks: [],
          users: [{ username: APP.user, password: APP.pass }],
          tls: { self_signed: true },
          // Loopback may AUTH in clear by default; here it stands for a remote client.
          plaintext_auth_networks: [],
        },
      },
    });
  });
  after(() => stack.stop());

  it('AUTH is not offered in clear and is refused with 538 5.7.11; after STARTTLS it works', async () => {
    const { client } = await connectFrom(stack, '127.0.0.41');
    try {
      const ehlo = await client.command('EHLO client.test');
      assert.ok(!ehlo.lines.some((l) => /AUTH/.test(l)), ehlo.text);
      assert.ok(
        ehlo.lines.some((l) => /STARTTLS/.test(l)),
        ehlo.text,
      );
      const auth = await client.command(`AUTH PLAIN ${plain(APP.user, APP.pass)}`);
      assert.match(auth.text, /^538 5\.7\.11 /);
    } finally {
      client.close();
    }
    const tls = await stack.client({ starttls: true, localAddress: '127.0.0.41' });
    try {
      assert.equal((await tls.login(APP)).ok, true);
    } finally {
      tls.close();
    }
  });
});
