import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

describe('herald bounce classify --explain, operator rules and herald bounce rules check', () => {
  const rulesYaml = [
    'rules:',
    '  - name: rcpt-test-unknown',
    '    match: {host: rcpt.test, status: "5.1.1"}',
    '    reason: suspend',
    '    examples:',
    '      - {diagnostic: "550 5.1.1 no such user", host: mx.rcpt.test}',
  ].join('\n');

  test('--explain names the deciding rule; --rules and --config apply an operator rule', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-cli-rules-'));
    try {
      const rules = join(dir, 'rules.yaml');
      await writeFile(rules, rulesYaml);
      const config = join(dir, 'herald.yaml');
      await writeFile(
        config,
        'bounce:\n  domain: bounces.example.com\n  verp_secret: "0123456789abcdef0123456789abcdef"\n  rules_file: rules.yaml\n',
      );
      const file = join(fixtures, 'postfix-dsn.eml');
      const plain = captureIo();
      assert.equal(await main(['bounce', 'classify', '--explain', file], plain.io), 0, plain.stderr());
      const first = JSON.parse(plain.stdout()).recipients[0];
      assert.equal(first.reason, 'userunknown');
      assert.match(first.rule, /^(?:probe|provider|second-pass|format-stated|mta-phrase)/);
      for (const flags of [
        ['--rules', rules],
        ['--config', config],
      ]) {
        const run = captureIo();
        assert.equal(
          await main(['bounce', 'classify', '--explain', ...flags, file], run.io),
          0,
          run.stderr(),
        );
        const ruled = JSON.parse(run.stdout()).recipients[0];
        assert.deepEqual([ruled.reason, ruled.rule], ['suspend', 'operator:rcpt-test-unknown'], flags[0]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('rules check: 0 when every example passes, 1 naming the key or the failing example', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-cli-rules-'));
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, rulesYaml);
      const ok = captureIo();
      assert.equal(await main(['bounce', 'rules', 'check', good], ok.io), 0, ok.stderr());
      assert.match(ok.stdout(), /1 rules, 1 examples, 0 failed/);
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, rulesYaml.replace('status: "5.1.1"', 'regex: "(a+)+b"'));
      const invalid = captureIo();
      assert.equal(await main(['bounce', 'rules', 'check', bad], invalid.io), 1);
      assert.match(invalid.stderr(), /HERALD_BOUNCE_RULES_INVALID: .*rules\[0\]\.match\.regex/);
      const failing = join(dir, 'failing.yaml');
      await writeFile(failing, rulesYaml.replace('550 5.1.1 no such user', '552 5.2.2 mailbox full'));
      const failed = captureIo();
      assert.equal(await main(['bounce', 'rules', 'check', failing], failed.io), 1);
      assert.match(failed.stdout(), /FAIL rcpt-test-unknown example 1: expected suspend, got mailboxfull/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
