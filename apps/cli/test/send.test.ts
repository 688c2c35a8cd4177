import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { closedPort, type SmtpSinkHandle, startSmtpSink } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const QUEUED = { code: 250, enhanced: '2.0.0', text: 'Ok: queued as CLI1' };
const dir = mkdtempSync(join(tmpdir(), 'herald-cli-send-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let sink: SmtpSinkHandle | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

async function send(args: string[], env = {}) {
  const run = captureIo({ env });
  const code = await main(['send', ...args], run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe('herald send', () => {
  test('delivers a composed message and prints the server reply', async () => {
    sink = await startSmtpSink({ script: { data: QUEUED } });
    const args = ['--server', sink.address, '--from', 'app@sender.test', '--subject', 'CLI check'];
    const result = await send([...args, '--to', 'a@example.org,b@example.org', '--body', 'Body text.']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '250 2.0.0 Ok: queued as CLI1\n');
    assert.equal(result.stderr, '');
    const [message] = await sink.waitForMessages(1);
    assert.equal(message?.from, 'app@sender.test');
    assert.deepEqual(message?.to, ['a@example.org', 'b@example.org']);
    const raw = message!.raw.toString('utf8');
    assert.match(raw, /^Subject: CLI check\r$/m);
    assert.match(raw, /^From: app@sender\.test\r$/m);
    assert.match(raw, /Body text\./);
  });

  test('uses the documented defaults for sender, recipient, subject and body', async () => {
    sink = await startSmtpSink();
    const result = await send(['--server', sink.address]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^250 /);
    const [message] = await sink.waitForMessages(1);
    assert.equal(message?.from, 'herald@localhost');
    assert.deepEqual(message?.to, ['test@example.com']);
    assert.match(message!.raw.toString('utf8'), /Subject: Herald test message[\s\S]*Hello from Herald\./);
  });

  test('--to may be repeated', async () => {
    sink = await startSmtpSink();
    const result = await send(['--server', sink.address, '--to', 'a@example.org', '--to', 'b@example.org']);
    assert.equal(result.code, 0, result.stderr);
    const [message] = await sink.waitForMessages(1);
    assert.deepEqual(message?.to, ['a@example.org', 'b@example.org']);
  });

  test('exits 1 and prints the 550 reply when the server refuses the recipient', async () => {
    const refusal = { code: 550, enhanced: '5.1.1', text: 'no such user' };
    sink = await startSmtpSink({ script: { rcpt: { 'nobody@example.org': refusal } } });
    const result = await send(['--server', sink.address, '--to', 'nobody@example.org']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '', 'a refusal goes to stderr');
    assert.equal(
      result.stderr,
      'herald: HERALD_SMTP_FAILED: send: nobody@example.org: 550 5.1.1 no such user\n',
      'once, as a coded line',
    );
    assert.equal(sink.messages.length, 0);
  });

  test('a refusal of the whole message (at MAIL or at DATA) is a HERALD_SMTP_FAILED line too', async () => {
    const cases = [
      { mail: { code: 553, enhanced: '5.7.1', text: 'sender not allowed' } },
      { data: { code: 554, enhanced: '5.7.1', text: 'message refused' } },
      { data: { code: 552, enhanced: '5.3.4', text: 'message too big' } },
    ];
    for (const script of cases) {
      sink = await startSmtpSink({ script });
      const result = await send(['--server', sink.address, '--to', 'a@example.org']);
      const reply = script.mail ?? script.data;
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.equal(
        result.stderr,
        `herald: HERALD_SMTP_FAILED: send: message 1: ${reply?.code} ${reply?.enhanced} ${reply?.text}\n`,
      );
      await sink.close();
      sink = undefined;
    }
  });

  test('exits 1 when one of several recipients is refused, though the message is accepted', async () => {
    const refusal = { code: 550, enhanced: '5.1.1', text: 'no such user' };
    sink = await startSmtpSink({ script: { rcpt: { 'nobody@example.org': refusal }, data: QUEUED } });
    const result = await send(['--server', sink.address, '--to', 'ok@example.org,nobody@example.org']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '250 2.0.0 Ok: queued as CLI1\n');
    assert.match(result.stderr, /nobody@example\.org: 550 5\.1\.1 no such user/);
    const [message] = await sink.waitForMessages(1);
    assert.deepEqual(message?.to, ['ok@example.org']);
  });

  test('--count sends N messages over one connection, one reply line each', async () => {
    sink = await startSmtpSink({ script: { data: QUEUED } });
    const result = await send(['--server', sink.address, '--count', '3']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '250 2.0.0 Ok: queued as CLI1\n'.repeat(3));
    const messages = await sink.waitForMessages(3);
    assert.equal(sink.stats().connections, 1);
    const ids = new Set(messages.map((m) => /^Message-ID: (.*)$/im.exec(m.raw.toString('utf8'))?.[1]));
    assert.equal(ids.size, 3, 'each message has its own Message-ID');
  });

  test('--file sends the given message as is', async () => {
    sink = await startSmtpSink();
    const eml = 'From: file@sender.test\r\nTo: x@example.org\r\nSubject: From a file\r\n\r\nFile body.\r\n';
    const file = join(dir, 'message.eml');
    writeFileSync(file, eml);
    const result = await send(['--server', sink.address, '--file', file, '--to', 'x@example.org']);
    assert.equal(result.code, 0, result.stderr);
    const [message] = await sink.waitForMessages(1);
    assert.equal(message?.raw.toString('utf8'), eml);
  });

  test('uses STARTTLS with a self-signed certificate when the server offers it (--starttls)', async () => {
    sink = await startSmtpSink({ starttls: true, script: { data: QUEUED } });
    const result = await send(['--server', sink.address, '--starttls']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '250 2.0.0 Ok: queued as CLI1\n');
  });

  test('--starttls fails, sending nothing, when the server does not offer STARTTLS', async () => {
    sink = await startSmtpSink();
    const result = await send(['--server', sink.address, '--starttls']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^herald: HERALD_SMTP_FAILED: send: 127\.0\.0\.1:\d+: .*STARTTLS/);
    assert.equal(sink.messages.length, 0);
  });

  test('a refused connection exits 1 with one line naming the server', async () => {
    const port = await closedPort();
    const result = await send(['--server', `127.0.0.1:${port}`]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `herald: HERALD_SMTP_FAILED: send: 127.0.0.1:${port}: connect to 127.0.0.1:${port} failed: ECONNREFUSED\n`,
    );
  });

  test('conflicting or incomplete flags are usage errors (exit 2)', async () => {
    for (const args of [
      ['--body', 'x', '--file', 'y.eml'],
      ['--starttls', '--no-tls'],
      ['--user', 'app'],
      ['--count', '0'],
      ['--server', 'host:99999'],
    ]) {
      const result = await send(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^herald: HERALD_CLI_USAGE: send: /);
    }
  });
});
