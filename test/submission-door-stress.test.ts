/**
 * End to end: the door under pressure, after the attack review. Parallel AUTH guesses from one
 * address are checked one at a time, so they cannot outrun the failure limit and a right guess
 * after the block is refused; a command that never completes (silence, or a byte at a time) is cut
 * at smtp.command_timeout, sooner under stress (stress_command_timeout); the client over
 * smtp.max_clients gets 421 4.7.0 from the door; a STARTTLS whose handshake never starts is cut
 * at the same deadline. Raw TCP clients on 127.0.0.x.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferrer } from './lib/cleanup.js';
import { RawSmtp } from './lib/raw-smtp.js';
import { type Stack, startStack } from './lib/stack.js';

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString('base64');
const APP = { username: 'app', password: 'secret' };

async function from(stack: Stack, localAddress: string): Promise<RawSmtp> {
  const { client, greeting } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port, { localAddress });
  assert.equal(greeting.code, 220, greeting.text);
  return client;
}

describe('the door under pressure', () => {
  it('parallel AUTH guesses from one address cannot pass the failure limit; a right guess after the block is refused', async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({
      config: {
        smtp: {
          users: [APP],
          auth_failures_per_session: 10,
          client_limits: {
            exceptions: [],
            auth_failure_limit: 5,
            auth_failure_window: '1h',
            auth_failure_delay: '10ms',
            auth_failure_max_delay: '20ms',
          },
        },
      },
    });
    defer(() => stack.stop());
    const clients = await Promise.all(Array.from({ length: 12 }, () => from(stack, '127.0.0.41')));
    defer(() => {
      for (const c of clients) c.close();
    });
    for (const c of clients) assert.equal((await c.command('EHLO guesser.test')).code, 250);
    // Every guess on the wire at once; the right password comes last.
    const replies = await Promise.all(
      clients.map((c, i) =>
        c.command(`AUTH PLAIN ${plain(APP.username, i === clients.length - 1 ? APP.password : `guess${i}`)}`),
      ),
    );
    const codes = replies.map((r) => r.code);
    t.diagnostic(`replies: ${codes.join(' ')}`);
    assert.ok(
      codes.filter((c) => c === 535).length <= 5,
      `at most auth_failure_limit guesses answered: ${codes}`,
    );
    assert.equal(codes.at(-1), 421, 'the right password after the block is refused');
    assert.equal(codes.filter((c) => c === 235).length, 0);
  });

  it('a command that never completes (a byte at a time) is cut at smtp.command_timeout', async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({
      config: { smtp: { max_clients: 5, command_timeout: '2s', stress_command_timeout: '1s' } },
    });
    defer(() => stack.stop());
    // A byte every 400 ms never makes a line: cut after about 2 s with 421 4.4.2.
    const dripper = await from(stack, '127.0.0.42');
    defer(() => dripper.close());
    const cut = dripper.read();
    let sent = 0;
    const drip = setInterval(() => dripper.write('EHLO x'.charAt(sent++ % 6)), 400);
    defer(() => clearInterval(drip));
    const reply = await cut;
    clearInterval(drip);
    assert.match(reply.text, /^421 4\.4\.2 /);
    await dripper.ended;

    assert.match(
      (await stack.get('/metrics')).body,
      /herald_smtp_refusals_total\{reason="command_timeout"\} 1/,
    );
  });

  it('a client that answers STARTTLS with no handshake is cut at smtp.command_timeout, not socket_timeout', async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({
      config: {
        smtp: { tls: { self_signed: true }, command_timeout: '2s', stress_command_timeout: '1s' },
      },
    });
    defer(() => stack.stop());
    // After 220 the ClientHello is the client's turn; one that never comes held the connection
    // (and its max_clients slot) for socket_timeout (5 minutes), even under stress.
    const staller = await from(stack, '127.0.0.41');
    defer(() => staller.close());
    await staller.command('EHLO x');
    assert.match((await staller.command('STARTTLS')).text, /^220 /);
    const within = new Promise((_, reject) => {
      const timer = setTimeout(() => reject(new Error('still open 15 s after STARTTLS')), 15_000);
      defer(() => clearTimeout(timer));
    });
    await Promise.race([staller.ended, within]);
    // Cut by the command deadline (not the socket timeout, nor anything else): the door counts it so.
    assert.match(
      (await stack.get('/metrics')).body,
      /herald_smtp_refusals_total\{reason="command_timeout"\} 1/,
    );
  });

  it('under stress (80 % of max_clients held) the deadline is stress_command_timeout', async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({
      config: { smtp: { max_clients: 5, command_timeout: '1h', stress_command_timeout: '1s' } },
    });
    defer(() => stack.stop());
    // Four silent connections put a max_clients 5 listener under stress: 1 s applies to them,
    // far below the one hour of the normal deadline (a read waits 10 s at most).
    const silent = await Promise.all(
      ['127.0.0.43', '127.0.0.44', '127.0.0.45', '127.0.0.46'].map((a) => from(stack, a)),
    );
    defer(() => {
      for (const c of silent) c.close();
    });
    const cuts = await Promise.all(silent.map((c) => c.read()));
    for (const r of cuts) assert.match(r.text, /^421 4\.4\.2 /);
    assert.match(
      (await stack.get('/metrics')).body,
      /herald_smtp_refusals_total\{reason="command_timeout"\} 4/,
    );
  });

  it('the client over smtp.max_clients gets 421 4.7.0 from the door, counted', async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({ config: { smtp: { max_clients: 2 } } });
    defer(() => stack.stop());
    const held = [await from(stack, '127.0.0.47'), await from(stack, '127.0.0.48')];
    defer(() => {
      for (const c of held) c.close();
    });
    const { client, greeting } = await RawSmtp.connect(stack.smtp.host, stack.smtp.port, {
      localAddress: '127.0.0.49',
    });
    defer(() => client.close());
    assert.match(greeting.text, /^421 4\.7\.0 Too many connected clients/);
    await client.ended;
    assert.match((await stack.get('/metrics')).body, /herald_smtp_refusals_total\{reason="max_clients"\} 1/);
  });
});
