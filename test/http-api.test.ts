/**
 * End to end through the HTTP API: a relay with an `api` section (its own listener), a key made
 * with `herald tenant key create` (printed alone on stdout), a structured message with cc, bcc and
 * an attachment and a raw one sent with it, delivered to the sink by the worker: every envelope
 * recipient gets the message, bcc never appears in it; a revoked key is refused at once; the
 * audit holds (each accepted recipient exactly one terminal event); a malformed RFC 3461 ORCPT or
 * ENVID is refused (400).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './lib/cli.js';
import { type Stack, startStack } from './lib/stack.js';

const ADMIN_KEY = 'e2e-admin-key-0123456789';

describe('HTTP API end to end', () => {
  let stack: Stack;
  let base: string;
  let dir: string;
  let configFile: string;
  before(async () => {
    stack = await startStack({
      config: { api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] } },
    });
    assert.ok(stack.api, 'the relay serves the API when api is configured');
    base = `http://127.0.0.1:${stack.api.port}`;
    dir = await mkdtemp(join(tmpdir(), 'herald-api-e2e-'));
    configFile = join(dir, 'herald.yaml');
    await writeFile(configFile, `redis: { url: "${stack.redis.url}" }\n`);
  });
  after(async () => {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The `herald` command in a child process, as an operator runs it. */
  const cli = async (...argv: string[]) => {
    const result = await runCli([...argv, '--config', configFile]);
    return { status: result.code, stdout: result.stdout, stderr: result.stderr };
  };
  const post = async (key: string, body: unknown) => {
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { id: string; error?: { code: string } } };
  };

  it('a key from `herald tenant key create` sends; the sink receives every envelope recipient', async () => {
    const created = await cli('tenant', 'key', 'create', 'shop', '--label', 'e2e');
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /^hk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/, 'the key alone on stdout');
    const key = created.stdout.trim();

    const structured = await post(key, {
      from: 'shop@origin.test',
      to: 'ann@example.test',
      cc: ['cat@example.test'],
      bcc: ['audit@example.test'],
      subject: 'Your order',
      text: 'Thanks!',
      attachments: [{ filename: 'receipt.txt', content: Buffer.from('receipt 1001').toString('base64') }],
    });
    assert.equal(structured.status, 202, JSON.stringify(structured.body));
    const raw = await post(key, {
      from: 'shop@origin.test',
      to: 'raw@example.test',
      raw: 'From: shop@origin.test\r\nTo: raw@example.test\r\nSubject: raw\r\n\r\nraw body\r\n',
    });
    assert.equal(raw.status, 202, JSON.stringify(raw.body));
    // RFC 3461's ORCPT and ENVID as the API takes them (decoded): malformed ones are refused.
    for (const dsn of [
      { orcpt: { 'bad@example.test': 'no-address-type' } },
      { orcpt: { 'bad@example.test': 'rfc(822);bad@example.test' } },
      { orcpt: { 'bad@example.test': 'rfc822;bad\r\nInjected: x@example.test' } },
      { orcpt: { 'bad@example.test': `rfc822;${'x'.repeat(500)}@example.test` } },
      { envid: 'two\r\nlines' },
      { envid: 'x'.repeat(101) },
    ]) {
      const refused = await post(key, { from: 'shop@origin.test', to: 'bad@example.test', text: 'x', dsn });
      assert.ok([400, 422].includes(refused.status), `${JSON.stringify(dsn)}: ${refused.status}`);
    }

    const received = await stack.sinks[0]!.waitForMessages(2);
    const byRecipients = new Map(received.map((m) => [[...m.to].sort().join(','), m]));
    const first = byRecipients.get('ann@example.test,audit@example.test,cat@example.test');
    assert.ok(first, `one delivery for the three recipients of one domain: ${[...byRecipients.keys()]}`);
    const text = first.raw.toString();
    assert.match(text, /^Subject: Your order\r$/m);
    assert.match(text, /^Cc: cat@example\.test\r$/m);
    assert.doesNotMatch(text, /audit@example\.test/, 'bcc is never in the message');
    assert.match(text, new RegExp(Buffer.from('receipt 1001').toString('base64')));
    assert.match(byRecipients.get('raw@example.test')?.raw.toString() ?? '', /\r\n\r\nraw body\r\n$/);

    const listed = await cli('tenant', 'key', 'list', 'shop');
    assert.match(listed.stdout, /^[0-9a-f]{16} {2}shop {2,}\S+ {2}e2e$/m);
    const [header, row] = listed.stdout.split('\n');
    assert.equal(header?.indexOf('CREATED'), row?.search(/\d{4}-\d\d-\d\dT/), 'columns line up');
    assert.doesNotMatch(listed.stdout, /hk_/, 'never the key');
    const id = key.split('_')[1]!;
    assert.equal((await cli('tenant', 'key', 'revoke', id)).status, 0);
    assert.equal(
      (await post(key, { from: 'shop@origin.test', to: 'x@example.test', text: 'x' })).status,
      401,
    );

    const events = await stack.assertEveryRecipientTerminatedOnce();
    const delivered = events
      .filter((e) => e.type === 'delivered')
      .map((e) => (e as { recipient: string }).recipient);
    assert.deepEqual(delivered.sort(), [
      'ann@example.test',
      'audit@example.test',
      'cat@example.test',
      'raw@example.test',
    ]);
  });
});
