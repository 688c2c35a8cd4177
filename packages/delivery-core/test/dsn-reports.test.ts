/**
 * The per-message DSN report collector on a real redis-server: lines recorded by several jobs of
 * one message are sent as one report per kind when the last job finishes (the finish script keeps
 * the body for them); a crash between the finish and the send loses nothing — the sweep sends the
 * reports of a message left due, once, then body and collector are gone; a message without report
 * lines has its body deleted by the finish script as before; a delay pass claims each address once;
 * failures recorded while another job of the message still waits go out after the sweep's grace
 * (a partial flush), the rest at the end.
 * Two crash windows are closed: an operator's bounce saves its lines in the finish script itself
 * (only when it claims the job), and a delay notice's claim records its lines for the sweep, so a
 * crash after the finish or after the claim still sends the DSN — each simulated by running the
 * lower-level steps in order and stopping between them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { DsnReports } from '../src/delivery/dsn-reports.js';
import type { DsnRecipient } from '../src/dsn/index.js';
import { type DeliveryJobData, newMessageId, Spool } from '../src/queue/index.js';

const BODY = Buffer.from('From: app@origin.test\r\nSubject: order 7\r\n\r\nhello\r\n');

function failed(address: string): DsnRecipient {
  return { address, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' };
}

describe('DSN reports, one per message and kind', () => {
  let redis: RedisHandle;
  let client: Redis;
  let spool: Spool;
  let sent: { id: string; tenant: string; to: string; body: Buffer }[];
  let reports: DsnReports;
  /** Set: the next DSN enqueue fails (the process "dies" while spooling it). */
  let failNextEnqueue = false;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    spool = new Spool(client, 'herald');
    sent = [];
    let n = 0;
    reports = new DsnReports({
      redis: client,
      spool,
      hostname: 'mx.herald.test',
      enqueueDsn: async (dsn) => {
        if (failNextEnqueue) {
          failNextEnqueue = false;
          throw new Error('crashed while spooling the DSN');
        }
        sent.push(dsn);
      },
      newId: () => `dsn${n++}`,
      now: Date.now,
    });
  });
  after(async () => {
    await spool.close();
    client.disconnect();
    await redis.stop();
  });

  /** A spooled message to one recipient in each of `domains`; its jobs' data as the worker sees it. */
  async function spoolMessage(
    domains: string[],
  ): Promise<{ id: string; jobs: DeliveryJobData[]; jobIds: string[] }> {
    const id = newMessageId();
    const recipients = domains.map((d) => `user@${d}`);
    const result = await spool.enqueue({
      id,
      tenant: 't',
      from: 'app@origin.test',
      recipients,
      body: BODY,
      acceptedAt: Date.now(),
    });
    const jobs = result.jobs.map((job) => ({
      messageId: id,
      tenant: 't',
      from: 'app@origin.test',
      domain: job.domain,
      recipients: job.recipients.map((address) => ({ address, state: 'pending' as const })),
      attempts: 1,
      acceptedAt: Date.now(),
      size: BODY.length,
      envid: 'env-7',
    }));
    return { id, jobs, jobIds: result.jobs.map((j) => j.id) };
  }

  it('three jobs that record failures make one failure report, sent when the last job finishes', async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['a.test', 'b.test', 'c.test']);
    for (const [i, job] of jobs.entries()) {
      await reports.record(job, 'failure', [failed(job.recipients[0]!.address)]);
      const finish = await spool.claimFinish(id, jobIds[i]!);
      assert.equal(finish.reportsDue, i === jobs.length - 1, `job ${i}: due only at the last`);
      if (finish.reportsDue) await reports.flush(id);
    }
    assert.equal(sent.length, 1, 'one report');
    const text = sent[0]!.body.toString('utf8');
    assert.equal(sent[0]!.to, 'app@origin.test');
    assert.deepEqual(
      [...text.matchAll(/Final-Recipient: rfc822; (\S+)/g)].map((m) => m[1]),
      ['user@a.test', 'user@b.test', 'user@c.test'],
    );
    assert.match(text, /Original-Envelope-Id: env-7/);
    assert.match(text, /Subject: order 7/, 'the headers were kept for the report');
    const keys = spool.keysFor(id);
    assert.equal(await client.exists(keys.body(id), keys.dsnReports(id)), 0, 'body and collector are gone');
    assert.equal(await client.zcard(keys.dsnDue), 0);
  });

  it('a crash after the last finish loses nothing: the sweep sends the report once, then cleans up', async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['d.test', 'e.test']);
    await reports.record(jobs[0]!, 'failure', [failed('user@d.test')]);
    await reports.record(jobs[1]!, 'success', [
      { address: 'user@e.test', action: 'relayed', status: '2.0.0', diagnostic: '250 ok' },
    ]);
    await spool.claimFinish(id, jobIds[0]!);
    assert.equal((await spool.claimFinish(id, jobIds[1]!)).reportsDue, true);
    // The finisher "crashed" here. Within the grace the sweep leaves the message alone.
    assert.equal(await reports.sweep(60_000), 0);
    assert.equal(sent.length, 0);
    assert.equal(await reports.sweep(0), 1, 'past the grace: swept');
    assert.deepEqual(
      sent.map((s) => /Subject: (.*)/.exec(s.body.toString('utf8'))?.[1]),
      ['Undelivered Mail Returned to Sender', 'Successful Mail Delivery Report'],
    );
    assert.equal(await reports.sweep(0), 0, 'nothing left due');
    assert.equal(sent.length, 2);
    assert.equal(await client.exists(spool.keysFor(id).body(id)), 0);
  });

  it('a flush that failed half-way sends only the reports whose lines are left when repeated', async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['f.test']);
    await reports.record(jobs[0]!, 'failure', [failed('user@f.test')]);
    await reports.record(jobs[0]!, 'success', [
      { address: 'other@f.test', action: 'relayed', status: '2.0.0', diagnostic: '250 ok' },
    ]);
    assert.equal((await spool.claimFinish(id, jobIds[0]!)).reportsDue, true);
    // The failure report went (its lines left the collector), then the process died before the success report.
    await client.hdel(spool.keysFor(id).dsnReports(id), 'failure:user@f.test');
    assert.equal(await reports.flush(id), 1);
    assert.deepEqual(
      sent.map((s) => /Subject: (.*)/.exec(s.body.toString('utf8'))?.[1]),
      ['Successful Mail Delivery Report'],
    );
  });

  it('failures do not wait for a job that defers for days: the sweep sends them after the grace, the rest at the end', async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['h.test', 'i.test', 'j.test']);
    await reports.record(jobs[0]!, 'failure', [failed('user@h.test')]);
    await spool.claimFinish(id, jobIds[0]!);
    await reports.record(jobs[1]!, 'failure', [failed('user@i.test')]);
    await spool.claimFinish(id, jobIds[1]!);
    // j.test's job still waits (deferred). Within the grace nothing goes; past it, one report.
    assert.equal(await reports.sweep(60_000), 0);
    assert.equal(await reports.sweep(0), 1);
    assert.equal(sent.length, 1);
    const first = sent[0]!.body.toString('utf8');
    assert.deepEqual(
      [...first.matchAll(/Final-Recipient: rfc822; (\S+)/g)].map((m) => m[1]),
      ['user@h.test', 'user@i.test'],
    );
    const keys = spool.keysFor(id);
    assert.equal(await client.exists(keys.body(id)), 1, 'the body stays for the job left');
    assert.equal(await reports.sweep(0), 0, 'nothing due until a new line');
    // The last job fails days later: its own report, listing only its recipient.
    await reports.record(jobs[2]!, 'failure', [failed('user@j.test')]);
    assert.equal((await spool.claimFinish(id, jobIds[2]!)).reportsDue, true);
    await reports.flush(id);
    assert.equal(sent.length, 2);
    assert.deepEqual(
      [...sent[1]!.body.toString('utf8').matchAll(/Final-Recipient: rfc822; (\S+)/g)].map((m) => m[1]),
      ['user@j.test'],
    );
    assert.equal(await client.exists(keys.body(id), keys.dsnReports(id)), 0, 'body and collector are gone');
    assert.equal(await client.zscore(keys.dsnDue, id), null);
  });

  it('a message without report lines: its last finish deletes the body at once, nothing is due', async () => {
    const { id, jobIds } = await spoolMessage(['g.test']);
    const finish = await spool.claimFinish(id, jobIds[0]!);
    assert.deepEqual(finish, { claimed: true, left: 0, reportsDue: false });
    assert.equal(await client.exists(spool.keysFor(id).body(id)), 0);
  });

  it('a delay pass reports each address once per message, however many jobs cross the warning', async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['h.test', 'i.test']);
    const delayed = (address: string): DsnRecipient => ({ address, action: 'delayed', status: '4.2.0' });
    assert.deepEqual(
      await reports.sendDelayed(jobs[0]!, [delayed('user@h.test')], [delayed('user@i.test')]),
      ['user@h.test', 'user@i.test'],
    );
    assert.deepEqual(await reports.sendDelayed(jobs[1]!, [delayed('user@i.test')]), [], 'already warned');
    assert.equal(sent.length, 1);
    // The collector holds only delay claims: the last finish still cleans up, sending nothing.
    await spool.claimFinish(id, jobIds[0]!);
    assert.equal((await spool.claimFinish(id, jobIds[1]!)).reportsDue, true);
    assert.equal(await reports.flush(id), 0);
    assert.equal(sent.length, 1);
    assert.equal(await client.exists(spool.keysFor(id).body(id), spool.keysFor(id).dsnReports(id)), 0);
  });

  const recipientsOf = (dsn: { body: Buffer }) =>
    [...dsn.body.toString('utf8').matchAll(/Final-Recipient: rfc822; (\S+)/g)].map((m) => m[1]);

  it("an operator's bounce saves its lines with the finish: a crash right after it still sends the DSN (sweep)", async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['j.test', 'k.test']);
    // Job 0 ends normally with nothing to report; job 1 is bounced by an operator.
    assert.equal((await spool.claimFinish(id, jobIds[0]!)).reportsDue, false);
    const lines = DsnReports.fieldsOf(jobs[1]!, 'failure', [failed('user@k.test')]);
    const finish = await spool.claimFinish(id, jobIds[1]!, lines);
    assert.deepEqual(finish, { claimed: true, left: 0, reportsDue: true });
    // The process "died" here: no events, no flush. The lines are in the collector all the same.
    assert.equal(await client.exists(spool.keysFor(id).body(id)), 1, 'the body is kept for the report');
    assert.equal(await reports.sweep(0), 1);
    assert.equal(sent.length, 1);
    assert.deepEqual(recipientsOf(sent[0]!), ['user@k.test']);
    assert.match(sent[0]!.body.toString('utf8'), /Subject: order 7/);
  });

  it("an operator's bounce that loses the race for the job (a worker finished it) writes no lines", async () => {
    const { id, jobs, jobIds } = await spoolMessage(['l.test', 'm.test']);
    await spool.claimFinish(id, jobIds[1]!);
    const lines = DsnReports.fieldsOf(jobs[1]!, 'failure', [failed('user@m.test')]);
    const late = await spool.claimFinish(id, jobIds[1]!, lines);
    assert.equal(late.claimed, false);
    assert.equal(await client.exists(spool.keysFor(id).dsnReports(id)), 0, 'no collector was made');
  });

  it("an operator's bounce of a job with many recipients saves every line (written in pieces)", async () => {
    const { id, jobs, jobIds } = await spoolMessage(['q.test']);
    const many = Array.from({ length: 1_500 }, (_, i) => failed(`user${i}@q.test`));
    const finish = await spool.claimFinish(id, jobIds[0]!, DsnReports.fieldsOf(jobs[0]!, 'failure', many));
    assert.equal(finish.reportsDue, true);
    assert.equal(await client.hlen(spool.keysFor(id).dsnReports(id)), 1 + many.length, 'meta and every line');
    await reports.flush(id);
  });

  it('a crash between a delay notice claim and its sending loses nothing: the sweep sends it once', async () => {
    sent.length = 0;
    const { id, jobs } = await spoolMessage(['n.test', 'o.test']);
    const delayed = (address: string): DsnRecipient => ({ address, action: 'delayed', status: '4.2.0' });
    // Step 1 only: the claim; the process "died" before the notice was spooled.
    const claimed = await reports.claimDelayed(jobs[0]!, [delayed('user@n.test'), delayed('user@o.test')]);
    assert.equal(claimed.length, 2);
    assert.deepEqual(await reports.sendDelayed(jobs[1]!, [delayed('user@o.test')]), [], 'claimed once');
    assert.equal(sent.length, 0);
    assert.equal(await reports.sweep(60_000), 0, 'within the grace the sweep leaves it alone');
    assert.equal(await reports.sweep(0), 1, 'past the grace: sent');
    assert.equal(sent.length, 1);
    assert.deepEqual(recipientsOf(sent[0]!), ['user@n.test', 'user@o.test']);
    assert.match(sent[0]!.body.toString('utf8'), /Action: delayed/);
    assert.equal(await reports.sweep(0), 0, 'nothing left');
    assert.equal(await client.zcard(spool.keysFor(id).dsnDelayDue), 0);
    assert.equal(await client.exists(spool.keysFor(id).body(id)), 1, 'the message is still queued');
  });

  it('a delay notice whose spooling failed is sent by the message end when that comes first', async () => {
    sent.length = 0;
    const { id, jobs, jobIds } = await spoolMessage(['p.test']);
    const delayed: DsnRecipient = { address: 'user@p.test', action: 'delayed', status: '4.2.0' };
    failNextEnqueue = true;
    await assert.rejects(reports.sendDelayed(jobs[0]!, [delayed]), /crashed while spooling/);
    await reports.record(jobs[0]!, 'failure', [failed('user@p.test')]);
    assert.equal((await spool.claimFinish(id, jobIds[0]!)).reportsDue, true);
    assert.equal(await reports.flush(id), 2, 'the delay notice, then the failure report');
    assert.deepEqual(
      sent.map((s) => /Subject: (.*)/.exec(s.body.toString('utf8'))?.[1]),
      ['Delayed Mail (still being retried)', 'Undelivered Mail Returned to Sender'],
    );
    assert.equal(await client.zcard(spool.keysFor(id).dsnDelayDue), 0);
    assert.equal(await reports.sweep(0), 0);
  });
});
