/**
 * End to end: the bounce-processor faces the Internet behind the relay's door (the `smtp` section's
 * limits). A client guessing return paths is cut off at the hard error limit (every forged token
 * is an error), one address cannot hold more than its connections at once, and a DATA phase that
 * drips slower than the minimum rate is cut with 421 4.4.2 and records nothing. Raw TCP clients on
 * 127.0.0.x; `client_limits.exceptions: []` puts loopback under the limits. The tests share one
 * processor; each comes from a client address of its own, so no test meets another's limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BOUNCE,
  feedbackEvents,
  NO_DELIVERY_THREADS,
  sharedProcessor,
  userUnknown,
  verpFor,
} from './lib/bounce-reports.js';
import { RawSmtp } from './lib/raw-smtp.js';

const LIMITS = {
  smtp: {
    hard_error_limit: 5,
    soft_error_limit: 100,
    data_min_rate: 1000,
    data_rate_grace: '500ms',
    client_limits: { exceptions: [], max_connections: 3, rate_time_unit: '1h' },
  },
};

describe('the door of the bounce-processor', () => {
  const processor = sharedProcessor({ config: { ...LIMITS, ...NO_DELIVERY_THREADS } });

  it('guessing return paths is cut off at the hard error limit with 421 4.7.0', async (t) => {
    const { address } = processor();
    const { client, greeting } = await RawSmtp.connect(address.host, address.port, {
      localAddress: '127.0.0.31',
    });
    t.after(() => client.close());
    assert.equal(greeting.code, 220);
    assert.equal((await client.command('EHLO scanner.test')).code, 250);
    // Every reply in order; a forged token is an error, and the fifth error closes the session.
    const replies: string[] = [];
    for (let i = 0; i < 10 && !replies.at(-1)?.startsWith('421'); i++) {
      for (const line of ['MAIL FROM:<>', `RCPT TO:<bounces+guess${i}@${BOUNCE.domain}>`, 'RSET']) {
        const reply = await client.command(line);
        replies.push(reply.text.slice(0, 9));
        if (reply.code === 421) break;
      }
    }
    assert.equal(
      replies.filter((r) => r === '550 5.1.1').length,
      LIMITS.smtp.hard_error_limit,
      replies.join(', '),
    );
    assert.match(replies.at(-1) ?? '', /^421 4\.7\.0/, replies.join(', '));
    await client.ended;
  });

  it('a fourth connection at once from one address gets 421 4.7.0; another address gets in', async (t) => {
    const { address } = processor();
    const held: RawSmtp[] = [];
    t.after(() => {
      for (const c of held) c.close();
    });
    for (let i = 0; i < 2; i++) {
      // withProcessor's own client (127.0.0.1) holds one connection; these come from .32.
      const { client, greeting } = await RawSmtp.connect(address.host, address.port, {
        localAddress: '127.0.0.32',
      });
      held.push(client);
      assert.equal(greeting.code, 220);
    }
    const third = await RawSmtp.connect(address.host, address.port, { localAddress: '127.0.0.32' });
    held.push(third.client);
    assert.equal(third.greeting.code, 220);
    const fourth = await RawSmtp.connect(address.host, address.port, { localAddress: '127.0.0.32' });
    held.push(fourth.client);
    assert.match(fourth.greeting.text, /^421 4\.7\.0 /);
    await fourth.client.ended;
    const other = await RawSmtp.connect(address.host, address.port, { localAddress: '127.0.0.33' });
    held.push(other.client);
    assert.equal(other.greeting.code, 220);
  });

  it('a report dripped slower than the minimum rate is cut with 421 4.4.2 and records nothing', async (t) => {
    const { stack, address } = processor();
    const { address: rcpt } = verpFor('dripped', 'gone@dest.test');
    const { client } = await RawSmtp.connect(address.host, address.port, { localAddress: '127.0.0.34' });
    t.after(() => client.close());
    assert.equal((await client.command('EHLO mta.dest.test')).code, 250);
    assert.equal((await client.command('MAIL FROM:<>')).code, 250);
    assert.equal((await client.command(`RCPT TO:<${rcpt}>`)).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    const body = `${userUnknown('gone@dest.test')}\r\n.\r\n`;
    let cut: string | undefined;
    const reply = client.read().then((r) => {
      cut = r.text;
    });
    for (let i = 0; i < body.length && cut === undefined; i++) {
      client.write(body[i]!);
      await new Promise((r) => setTimeout(r, 50));
    }
    await reply;
    assert.match(cut ?? '', /^421 4\.4\.2 /);
    await client.ended;
    assert.deepEqual(
      feedbackEvents(await stack.streamEvents()).filter((e) => e.tenant === 'dripped'),
      [],
    );
  });
});
