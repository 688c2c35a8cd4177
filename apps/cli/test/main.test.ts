import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ERROR_CODES } from '@herald/delivery-core';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';
import { npmStartCheckout } from './npm-start-checkout.js';

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'herald-cli-main-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], env: Record<string, string> = {}) {
  const captured = captureIo({ env });
  const code = await main(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe('herald command dispatch', () => {
  test('--version and version print the package version', async () => {
    for (const argv of [['--version'], ['version']]) {
      const result = await run(argv);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, `${PACKAGE_VERSION}\n`);
    }
  });

  test('--help lists every command on stdout with exit 0', async () => {
    const result = await run(['--help']);
    assert.equal(result.code, 0);
    for (const name of ['relay', 'config', 'hash-password', 'send', 'bench', 'version']) {
      assert.match(result.stdout, new RegExp(`^  ${name} `, 'm'));
    }
  });

  test("<command> --help and help <command> print that command's usage", async () => {
    for (const argv of [
      ['send', '--help'],
      ['help', 'send'],
      ['send', '--to', 'a@b.c', '-h'],
    ]) {
      const result = await run(argv);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /^Usage: herald send/);
      assert.match(result.stdout, /WITHOUT verifying the server's\s+certificate/);
    }
  });

  test('an unknown command prints the usage on stderr and exits 2', async () => {
    const result = await run(['frobnicate']);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(
      result.stderr,
      /^herald: HERALD_CLI_USAGE: unknown command "frobnicate"\n\nUsage: herald <command>/,
    );
  });

  test('no command at all prints the usage on stderr and exits 2', async () => {
    const result = await run([]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^Usage: herald <command>/);
  });

  test('an unknown flag is a usage error naming the command, exit 2', async () => {
    const result = await run(['config', 'check', 'x.yaml', '--jsno']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^herald: HERALD_CLI_USAGE: config: Unknown option '--jsno'\n/);
  });

  test('a HeraldError prints "herald: <code>: <message>" without a stack trace', async () => {
    const result = await run(['relay', '--roles', 'smtp,mailman']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^herald: HERALD_CLI_USAGE: --roles: unknown role "mailman"/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  test('every error line is herald: <code>: <message>, with a code from the catalogue', async () => {
    const bad = join(dir, 'typo.yaml');
    writeFileSync(bad, 'smtp:\n  lisen: x\nhttp:\n  enabled: maybe\n');
    const cases: [string[], string, string][] = [
      [['frobnicate'], 'HERALD_CLI_USAGE', 'unknown command'],
      [['config', 'check', join(dir, 'absent.yaml')], 'HERALD_CONFIG_UNREADABLE', 'cannot read'],
      [['config', 'check', bad], 'HERALD_CONFIG_INVALID', 'smtp.lisen'],
      [['queue', 'stats', '--config', bad], 'HERALD_CONFIG_INVALID', 'smtp.lisen'],
      [['bounce', 'classify', join(dir, 'absent.eml')], 'HERALD_FILE_UNREADABLE', 'absent.eml'],
      [['hash-password', '--password-stdin'], 'HERALD_INPUT_INVALID', 'no password'],
      [
        ['send', '--server', '127.0.0.1:1', '--file', join(dir, 'absent.eml')],
        'HERALD_FILE_UNREADABLE',
        'cannot read',
      ],
    ];
    for (const [argv, code, text] of cases) {
      const result = await run(argv);
      assert.notEqual(result.code, 0, argv.join(' '));
      const lines = result.stderr.split('\n').filter((l) => l.startsWith('herald'));
      assert.ok(lines.length > 0, `${argv.join(' ')}: ${result.stderr}`);
      for (const line of lines) {
        const [, found] = /^herald: (HERALD_[A-Z_]+): /.exec(line) ?? [];
        assert.ok(found && Object.hasOwn(ERROR_CODES, found), `${argv.join(' ')}: ${line}`);
      }
      assert.match(lines[0]!, new RegExp(`^herald: ${code}: .*${text.replace('.', '\\.')}`), argv.join(' '));
    }
  });

  test('HERALD_DEBUG=1 adds the stack trace', async () => {
    const result = await run(['relay', '--roles', 'mailman'], { HERALD_DEBUG: '1' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /\n\s+at /);
  });

  test("run directly, main.ts exits with the command's code and prints no stack", async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'smtp:\n  lisen: 127.0.0.1:2525\n');
    const args = ['--conditions=herald-source', '--import', 'tsx', MAIN, 'config', 'check', file];
    const child = promisify(execFile)(process.execPath, args, { env: { ...process.env, HERALD_DEBUG: '' } });
    await assert.rejects(child, (err: { code?: number; stdout?: string; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.equal(
        err.stderr,
        `herald: HERALD_CONFIG_INVALID: ${file}: smtp.lisen: unknown key (not a known key of smtp); did you mean listen?\n`,
      );
      return true;
    });
  });
});

describe('a Redis that cannot be reached', () => {
  test('the error names the URL with its password masked', async () => {
    const { closedPort } = await import('@herald/test-harness');
    const port = await closedPort();
    const result = await run(['queue', 'stats'], { REDIS_URL: `redis://user:pw-Hunter2@127.0.0.1:${port}` });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /HERALD_REDIS_UNAVAILABLE: cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1/,
    );
    assert.match(
      result.stderr,
      new RegExp(`^redis: redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)$`, 'm'),
    );
    assert.doesNotMatch(result.stderr + result.stdout, /Hunter2/);
    assert.doesNotMatch(result.stderr, /hint:/, 'the user chose this Redis: no guess about npm start');
  });

  test("npm start's Redis that is down: the error asks whether npm start is running", async () => {
    const { closedPort } = await import('@herald/test-harness');
    const made = await npmStartCheckout(`redis://127.0.0.1:${await closedPort()}`);
    const checkout = made.dir;
    try {
      const out = captureIo({ env: {}, cwd: checkout, checkout });
      assert.equal(await main(['queue', 'stats'], out.io), 1);
      assert.match(out.stderr(), /HERALD_REDIS_UNAVAILABLE: cannot connect to Redis at /);
      assert.match(
        out.stderr(),
        /\nhint: that is the Redis npm start runs for this checkout: is `npm start` running\?/,
      );
    } finally {
      await made.remove();
    }
  });

  test('a wrong password is reported as the authentication failure, not "Connection is closed."', async () => {
    const { startRedis } = await import('@herald/test-harness');
    const redis = await startRedis();
    try {
      await redis.client().config('SET', 'requirepass', 'right-password');
      const port = new URL(redis.url).port;
      const result = await run(['queue', 'stats'], { REDIS_URL: `redis://:wrong-Hunter2@127.0.0.1:${port}` });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /HERALD_REDIS_UNAVAILABLE: cannot connect to Redis at .*: WRONGPASS/);
      assert.doesNotMatch(result.stderr, /Connection is closed/);
      assert.doesNotMatch(result.stderr + result.stdout, /Hunter2/);
      const none = await run(['queue', 'stats'], { REDIS_URL: `redis://127.0.0.1:${port}` });
      assert.match(none.stderr, /HERALD_REDIS_UNAVAILABLE: cannot connect to Redis at .*: NOAUTH/);
    } finally {
      await redis.stop();
    }
  });
});
