import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const fixtures = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'packages',
  'delivery-core',
  'test',
  'fixtures',
  'bounce',
);

describe('herald bounce classify', () => {
  test('prints one JSON line per file, in the scorer format, with the file as given', async () => {
    const run = captureIo();
    const files = [join(fixtures, 'postfix-dsn.eml'), join(fixtures, 'arf.eml')];
    assert.equal(await main(['bounce', 'classify', ...files], run.io), 0, run.stderr());
    const lines = run
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(lines[0], {
      file: files[0],
      recipients: [
        { address: 'bob@rcpt.test', reason: 'userunknown', hard: true, status: '5.1.1', action: 'suppress' },
        { address: 'carol@rcpt.test', reason: 'mailboxfull', hard: false, status: '4.2.2', action: 'retry' },
      ],
    });
    assert.deepEqual(lines[1].recipients, [
      {
        address: 'frank@provider.test',
        reason: 'feedback',
        hard: false,
        status: null,
        action: 'suppress',
        feedbackType: 'abuse',
      },
    ]);
  });

  test('--details adds the category, command, remote host and diagnostic text', async () => {
    const run = captureIo();
    assert.equal(await main(['bounce', 'classify', '--details', join(fixtures, 'qmail.eml')], run.io), 0);
    const [recipient] = JSON.parse(run.stdout()).recipients;
    assert.equal(recipient.category, 'spam-related');
    assert.equal(recipient.replyCode, 554);
    assert.match(recipient.diagnostic, /blocked using zen\.spamhaus\.org/);
  });

  test('an unreadable file is reported on stderr and the others are still classified (exit 1)', async () => {
    const run = captureIo();
    const missing = join(fixtures, 'no-such-file.eml');
    assert.equal(await main(['bounce', 'classify', missing, join(fixtures, 'exim.eml')], run.io), 1);
    assert.match(run.stderr(), /no-such-file\.eml/);
    assert.equal(JSON.parse(run.stdout()).recipients[0].reason, 'expired');
  });

  test('- reads the message from stdin, like suppression import -', async () => {
    const run = captureIo({ stdin: readFileSync(join(fixtures, 'exim.eml'), 'utf8') });
    assert.equal(await main(['bounce', 'classify', '-'], run.io), 0, run.stderr());
    const line = JSON.parse(run.stdout()) as { file: string; recipients: { reason: string }[] };
    assert.equal(line.file, '-');
    assert.equal(line.recipients[0]?.reason, 'expired');
  });

  test('reads at most the classifier’s 1 MiB of stdin', async () => {
    const endless = Readable.from(
      (function* () {
        for (;;) yield Buffer.alloc(64 * 1024);
      })(),
    );
    const run = captureIo();
    run.io.stdin = endless;
    assert.equal(await main(['bounce', 'classify', '-'], run.io), 0, run.stderr());
    assert.deepEqual(
      (JSON.parse(run.stdout()) as { recipients: { reason: string }[] }).recipients.map((r) => r.reason),
      ['undefined'],
    );
  });

  test('a missing or unknown subcommand, or no FILE, is a usage error (exit 2)', async () => {
    for (const args of [
      ['bounce'],
      ['bounce', 'explain'],
      ['bounce', 'classify'],
      ['bounce', 'classify', '-', '-'],
    ]) {
      const run = captureIo();
      assert.equal(await main(args, run.io), 2, args.join(' '));
      assert.match(run.stderr(), /HERALD_CLI_USAGE: bounce/);
    }
  });
});

describe('herald bounce classify on endless input', () => {
  test('reads at most the classifier’s 1 MiB of a file that never ends (/dev/zero)', async () => {
    const out = captureIo();
    assert.equal(await main(['bounce', 'classify', '/dev/zero'], out.io), 0, out.stderr());
    const line = JSON.parse(out.stdout()) as { file: string; recipients: { reason: string }[] };
    assert.equal(line.file, '/dev/zero');
    assert.deepEqual(
      line.recipients.map((r) => r.reason),
      ['undefined'],
    );
  });
});
