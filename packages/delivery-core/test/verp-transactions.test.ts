/**
 * One transaction per recipient (VERP return paths, delivery/transactions.ts) against a server
 * that refuses the first recipient's RCPT with 550 and then drops the connection at DATA (a
 * scripted peer on loopback): the first recipient bounces with its own 550, and the recipients
 * after it — never tried on this attempt — wait for the next one with the lost connection's 4xx,
 * never with the first recipient's 550 (which would bounce and suppress addresses no server
 * refused; a chaos run found it). Each transaction after the first is a message to the
 * destination: it takes one of its rate (`messageSlot`), the rest waiting when none is free.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sendTransactions } from '../src/delivery/transactions.js';
import type { DeliveryDeps } from '../src/delivery/types.js';
import type { DeliveryJobData } from '../src/queue/index.js';
import { greet, type ScriptedPeer, startScriptedPeer } from './fixtures/scripted-peer.js';
import { testPool } from './fixtures/test-pool.js';

const TIMEOUTS = { connectMs: 1_000, greetingMs: 1_000, commandMs: 1_000, dataMs: 1_000 };
const HOST = '127.0.0.6';
const peers: ScriptedPeer[] = [];
after(async () => {
  for (const peer of peers) await peer.close();
});

describe('VERP transactions after a lost connection', () => {
  it("the recipients not yet tried get the lost connection's 4xx, not the previous recipient's 550", async () => {
    const peer = await startScriptedPeer(HOST, async (conn) => {
      await greet(conn, ['PIPELINING']);
      await conn.expect('MAIL FROM');
      await conn.expect('RCPT TO');
      await conn.expect('DATA');
      conn.write('250 ok\r\n550 5.1.1 No such user\r\n');
      conn.destroy();
    });
    peers.push(peer);
    const pool = testPool(TIMEOUTS);
    const recipients = ['gone@dest.test', 'second@dest.test', 'third@dest.test'];
    const deps = {
      pool,
      returnPath: (_data: DeliveryJobData, to: string) => `bounces+${to.replace('@', '=')}@origin.test`,
    } as unknown as DeliveryDeps;
    const data = { from: 'app@origin.test' } as DeliveryJobData;
    const report = await sendTransactions(deps, data, recipients, {
      body: Buffer.from('Subject: t\r\n\r\nhello\r\n'),
      hosts: [{ hostname: 'mx.dest.test', addresses: [HOST], port: peer.port }],
      tls: 'none',
      tlsVerify: false,
    });
    await pool.close();
    const outcome = new Map(report.recipients.map((r) => [r.address, r.reply]));
    assert.equal(outcome.get('gone@dest.test')?.code, 550);
    for (const rest of ['second@dest.test', 'third@dest.test']) {
      const reply = outcome.get(rest);
      assert.ok(reply, `${rest} has an outcome`);
      assert.equal(Math.floor(reply.code / 100), 4, `${rest}: ${reply.code} ${reply.text}`);
      assert.match(reply.enhanced ?? '', /^4\./);
    }
    assert.match(report.connectionReply?.text ?? '', /connection|closed/i);
    assert.equal(peer.connections, 1, 'the rest wait for the next attempt: no second connection');
  });
});

describe("VERP transactions and the destination's rate", () => {
  it('each transaction after the first takes a message of the rate; when none is free the rest wait', async () => {
    const sent: string[] = [];
    const peer = await startScriptedPeer('127.0.0.7', async (conn) => {
      await greet(conn, ['PIPELINING']);
      for (;;) {
        const line = await conn.line();
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'DATA') {
          conn.write('354 go ahead\r\n');
          await conn.data();
          conn.write('250 queued\r\n');
        } else if (verb === 'QUIT') {
          conn.write('221 bye\r\n');
          return;
        } else {
          if (verb === 'RCPT') sent.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          conn.write('250 ok\r\n');
        }
      }
    });
    peers.push(peer);
    const pool = testPool(TIMEOUTS);
    const deps = {
      pool,
      returnPath: (_data: DeliveryJobData, to: string) => `bounces+${to.replace('@', '=')}@origin.test`,
    } as unknown as DeliveryDeps;
    let free = 1;
    const report = await sendTransactions(
      deps,
      { from: 'app@origin.test', domain: 'dest.test' } as DeliveryJobData,
      ['a@dest.test', 'b@dest.test', 'c@dest.test'],
      {
        body: Buffer.from('Subject: t\r\n\r\nhello\r\n'),
        hosts: [{ hostname: 'mx.dest.test', addresses: ['127.0.0.7'], port: peer.port }],
        tls: 'none',
        tlsVerify: false,
        messageSlot: async () => free-- > 0,
      },
    );
    await pool.close();
    assert.deepEqual(sent, ['a@dest.test', 'b@dest.test']);
    assert.deepEqual(
      report.recipients.map(
        (r) => `${r.address} ${r.accepted ? 'delivered' : `${r.reply.code} ${r.reply.enhanced}`}`,
      ),
      ['a@dest.test delivered', 'b@dest.test delivered', 'c@dest.test 451 4.4.5'],
    );
    assert.match(report.recipients[2]!.reply.text, /max_message_rate/);
  });
});
