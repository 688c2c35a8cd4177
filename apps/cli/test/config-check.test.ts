import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-cli-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const VALID = `
redis:
  url: redis://:hunter2@127.0.0.1:6390/0
smtp:
  listen: 127.0.0.1:2526
  hostname: relay.test
  users:
    - username: app
      password: plain-secret
  trusted_networks: [127.0.0.0/8]
http:
  listen: 127.0.0.1:8026
routes:
  - match: "*"
    via: 127.0.0.1:2600
roles: [smtp, worker]
`;

describe('herald config check', () => {
  test('control characters in what it prints (a file name) are shown escaped', async () => {
    const file = configFile('\x1b]0;PWNED\x07.yaml', VALID);
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 0, run.stderr());
    assert.match(run.stdout(), /\\x1b\]0;PWNED\\x07\.yaml: ok/);
    assert.doesNotMatch(run.stdout() + run.stderr(), /[\x1b\x07]/);
  });

  test('a valid file prints "FILE: ok" and a summary with the redis password masked', async () => {
    const file = configFile('valid.yaml', VALID);
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 0);
    const out = run.stdout();
    assert.ok(out.startsWith(`${file}: ok\n`), out);
    assert.match(out, /smtp listen: +127\.0\.0\.1:2526/);
    assert.match(out, /http listen: +127\.0\.0\.1:8026/);
    assert.match(out, /roles: +smtp, worker/);
    assert.match(out, /routes: +1/);
    assert.match(out, /users: +1/);
    assert.match(out, /redis: +redis:\/\/:\*\*\*@127\.0\.0\.1:6390\/0/);
    assert.match(out, /^ {2}durability: +fast$/m);
    assert.match(out, /^ {2}queue shards: +1$/m);
    assert.doesNotMatch(out, /hunter2|plain-secret/);
    assert.equal(run.stderr(), '');
  });

  test('the summary names the API listener, webhook endpoints and accounting directory when configured', async () => {
    const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const file = configFile(
      'extras.yaml',
      `${VALID}api: { listen: 127.0.0.1:8099 }
webhooks:
  - { tenant: acme, url: "https://h.test/a", events: [bounced], secret: "${secret}" }
  - { tenant: acme, url: "https://h.test/b", events: [delivered], secret: "${secret}" }
accounting: { directory: ${join(dir, 'acct')} }
`,
    );
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 0, run.stderr());
    const out = run.stdout();
    assert.match(out, /^ {2}api listen: +127\.0\.0\.1:8099 \(0 admin keys\)$/m);
    assert.match(out, /^ {2}webhooks: +2 endpoints$/m);
    assert.match(
      out,
      new RegExp(`^ {2}accounting: +${join(dir, 'acct').replaceAll('.', '\\.')} \\(csv\\)$`, 'm'),
    );
    assert.ok(!out.includes(secret.slice(6)));
    const plain = captureIo();
    await main(['config', 'check', configFile('plain.yaml', VALID)], plain.io);
    assert.doesNotMatch(plain.stdout(), /api listen|webhooks:|accounting:/);
  });

  test('the summary names DANE, TLS reports, scanning, quarantine and behaviour when configured', async () => {
    const file = configFile(
      'abuse.yaml',
      `${VALID}scanning: { rspamd: { url: "http://127.0.0.1:11333", password: "rspamd-pw" }, fail: closed }
behaviour:
  rules: { volume_spike: { max_count: 100 }, domain_spread: {} }
  accounts: { app: { bounce_spike: {} } }
  max_held_messages: 50
delivery: { dane: { mode: require, resolver: "127.0.0.1:5353" } }
`,
    );
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 0, run.stderr());
    const out = run.stdout();
    assert.match(out, /^ {2}dane: +require \(resolver 127\.0\.0\.1:5353\)$/m);
    assert.match(out, /^ {2}scanning: +http:\/\/127\.0\.0\.1:11333 \(fail closed, 1 action table\)$/m);
    assert.match(out, /^ {2}quarantine: +retention 30d, notify sender expiry$/m);
    assert.match(
      out,
      /^ {2}behaviour: +volume_spike, domain_spread \(\+1 account with own rules\); at most 50 messages/m,
    );
    assert.ok(!out.includes('rspamd-pw'));
    const plain = captureIo();
    await main(['config', 'check', configFile('plain2.yaml', VALID)], plain.io);
    assert.doesNotMatch(plain.stdout(), /dane:|scanning:|quarantine:|behaviour:|tls reports:/);
  });

  test('the summary names the shaping layers that set dane, also with delivery.dane.mode off', async () => {
    const shaping = configFile(
      'dane-shaping.yaml',
      'sites:\n  "mx:mx.bank.test": { dane: require }\ndomains:\n  "broken.test": { dane: "off" }\n',
    );
    const file = configFile('dane-sites.yaml', `${VALID}shaping: { file: "${shaping}" }\n`);
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 0, run.stderr());
    assert.match(
      run.stdout(),
      /^ {2}dane: +off; per destination: site:mx:mx\.bank\.test require, domain:broken\.test off \(resolver /m,
    );
    const offOnly = configFile('dane-off.yaml', 'domains:\n  "broken.test": { dane: "off" }\n');
    const quiet = captureIo();
    await main(
      ['config', 'check', configFile('dane-off-config.yaml', `${VALID}shaping: { file: "${offOnly}" }\n`)],
      quiet.io,
    );
    assert.doesNotMatch(quiet.stdout(), /dane:/, 'nothing turns DANE on');
  });

  test('--json prints the effective config with passwords masked', async () => {
    const file = configFile('valid-json.yaml', VALID);
    const run = captureIo();
    assert.equal(await main(['config', 'check', file, '--json'], run.io), 0);
    const config = JSON.parse(run.stdout());
    assert.equal(config.smtp.listen, '127.0.0.1:2526');
    assert.equal(config.smtp.users[0].username, 'app');
    assert.equal(config.smtp.users[0].password, '***');
    assert.equal(config.redis.url, 'redis://:***@127.0.0.1:6390/0');
    assert.equal(config.delivery.connect_timeout, 30_000, 'defaults are filled in, durations in ms');
    assert.doesNotMatch(run.stdout(), /hunter2|plain-secret/);
  });

  test('--json masks the VERP secrets (current and previous) and inline DKIM keys', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const file = configFile(
      'secrets.yaml',
      [
        'bounce: { domain: "b.test", verp_secret: "verp-now-0123456789", verp_previous_secrets: ["verp-old-0123456789"] }',
        `dkim: [{ domain: "s.test", selector: "s1", private_key: ${JSON.stringify(pem)} }]`,
        '',
      ].join('\n'),
    );
    const run = captureIo();
    assert.equal(await main(['config', 'check', file, '--json'], run.io), 0, run.stderr());
    const config = JSON.parse(run.stdout());
    assert.equal(config.bounce.verp_secret, '***');
    assert.deepEqual(config.bounce.verp_previous_secrets, ['***']);
    assert.equal(config.dkim[0].private_key, '***');
    assert.doesNotMatch(run.stdout(), /verp-now|verp-old|PRIVATE KEY/);
  });

  test('telemetry: the summary names the endpoint; --json masks every otlp header value', async () => {
    const file = configFile(
      'telemetry.yaml',
      'telemetry: { otlp: { endpoint: "http://127.0.0.1:4318/v1/traces", headers: { x-api-key: "otlp-token-0123456789" } }, sample_ratio: 0.25 }\n',
    );
    const summary = captureIo();
    assert.equal(await main(['config', 'check', file], summary.io), 0, summary.stderr());
    assert.match(
      summary.stdout(),
      /telemetry: {4}http:\/\/127\.0\.0\.1:4318\/v1\/traces \(sample ratio 0\.25, 1 header\)/,
    );
    const run = captureIo();
    assert.equal(await main(['config', 'check', file, '--json'], run.io), 0, run.stderr());
    assert.deepEqual(JSON.parse(run.stdout()).telemetry.otlp.headers, { 'x-api-key': '***' });
    assert.doesNotMatch(run.stdout() + summary.stdout(), /otlp-token/);
  });

  test('a dkim entry needs exactly one of key_file and private_key', async () => {
    const file = configFile('dkim-both.yaml', 'dkim: [{ domain: "s.test", selector: "s1" }]\n');
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 1);
    assert.match(run.stderr(), /dkim\[0\]: expected exactly one of key_file, private_key/);
  });

  test('REDIS_URL from the environment overrides the file and is reported, masked', async () => {
    const file = configFile('env.yaml', VALID);
    const run = captureIo({ env: { REDIS_URL: 'redis://:envpass@127.0.0.1:6391' } });
    assert.equal(await main(['config', 'check', file], run.io), 0);
    assert.match(run.stdout(), /redis: +redis:\/\/:\*\*\*@127\.0\.0\.1:6391 \(from REDIS_URL\)/);
    assert.doesNotMatch(run.stdout(), /envpass/);
  });

  test('an unknown key exits 1 and names its dotted path', async () => {
    const file = configFile(
      'unknown.yaml',
      'smtp:\n  users:\n    - username: a\n      password: b\n      nickname: c\n',
    );
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 1);
    assert.match(
      run.stderr(),
      new RegExp(
        `^herald: HERALD_CONFIG_INVALID: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: smtp\\.users\\[0\\]\\.nickname: unknown key`,
      ),
    );
    assert.equal(run.stdout(), '');
  });

  test('a mistyped key gets a "did you mean" suggestion', async () => {
    const file = configFile('typo.yaml', 'smtp:\n  lisen: 127.0.0.1:2525\n');
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 1);
    assert.match(run.stderr(), /smtp\.lisen: unknown key .*; did you mean listen\?/);
  });

  test('a value of the wrong type exits 1 naming the path and what was given', async () => {
    const file = configFile('type.yaml', 'delivery:\n  concurrency: lots\n');
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 1);
    assert.match(run.stderr(), /delivery\.concurrency: .*"lots"/);
  });

  test('every problem in a file is reported, one line each, and no stack trace', async () => {
    const file = configFile('two.yaml', 'smtp:\n  lisen: x\nhttp:\n  enabled: maybe\n');
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 1);
    const lines = run.stderr().trim().split('\n');
    assert.equal(lines.length, 2, run.stderr());
    assert.ok(lines.some((l) => l.includes('smtp.lisen')));
    assert.ok(lines.some((l) => l.includes('http.enabled')));
    assert.doesNotMatch(run.stderr(), /\n\s+at /);
  });

  test('a missing file exits 1 saying it cannot be read', async () => {
    const run = captureIo();
    assert.equal(await main(['config', 'check', join(dir, 'absent.yaml')], run.io), 1);
    assert.match(
      run.stderr(),
      /^herald: HERALD_CONFIG_UNREADABLE: \S*absent\.yaml: cannot read: ENOENT: no such file or directory$/m,
    );
  });

  test('config check without a file is a usage error (exit 2)', async () => {
    const run = captureIo();
    assert.equal(await main(['config', 'check'], run.io), 2);
    assert.match(run.stderr(), /^herald: HERALD_CLI_USAGE: config check: missing FILE/);
  });
});

describe('herald config check: what the relay reads at start', () => {
  test('a missing shaping file, an unreadable DKIM key and TLS files that are no certificate each fail with their path', async () => {
    const junk = configFile('junk.pem', 'not a certificate\n');
    const file = configFile(
      'files.yaml',
      [
        'shaping: { file: "missing-shaping.yaml" }',
        'dkim: [{ domain: "shop.test", selector: "s1", key_file: "missing-key.pem" }]',
        `smtp: { tls: { cert_file: "${junk}", key_file: "${junk}" } }`,
        '',
      ].join('\n'),
    );
    const run = captureIo();
    assert.equal(await main(['config', 'check', file], run.io), 1);
    const err = run.stderr();
    assert.match(
      err,
      /^herald: HERALD_CONFIG_INVALID: \S*files\.yaml: shaping\.file: cannot read \S*missing-shaping\.yaml: ENOENT: no such file or directory$/m,
      'the key that names the file, like key_file and cert_file',
    );
    assert.match(err, /dkim\[0\]\.key_file/);
    assert.match(err, /smtp\.tls\.cert_file: .*junk\.pem .*not a PEM certificate/);
    assert.equal(run.stdout(), '');
  });

  test('`herald relay` and `herald bounce-processor` name the config file and shaping.file of a missing shaping file', async () => {
    const file = configFile(
      'no-shaping.yaml',
      [
        'redis: { url: "redis://127.0.0.1:1" }',
        'shaping: { file: "nope.yaml" }',
        'bounce: { domain: "bounces.test", verp_secret: "0123456789abcdef0123" }',
        '',
      ].join('\n'),
    );
    for (const command of ['relay', 'bounce-processor']) {
      const run = captureIo();
      assert.equal(await main([command, '--config', file], run.io), 1, command);
      assert.equal(
        run.stderr(),
        `herald: HERALD_CONFIG_INVALID: ${file}: shaping.file: cannot read ${join(dir, 'nope.yaml')}: ENOENT: no such file or directory\n`,
        command,
      );
    }
  });

  test('`herald relay` refuses the same TLS files before it connects to Redis, naming the key', async () => {
    const junk = configFile('junk2.pem', 'not a certificate\n');
    // Redis on a port where nothing listens: the start must fail on the certificate first.
    const file = configFile(
      'tls.yaml',
      `redis: { url: "redis://127.0.0.1:1" }\nsmtp: { tls: { cert_file: "${junk}", key_file: "${join(dir, 'absent.pem')}" } }\n`,
    );
    const run = captureIo();
    assert.equal(await main(['relay', '--config', file], run.io), 1);
    assert.match(run.stderr(), /smtp\.tls\.key_file: cannot read .*absent\.pem: ENOENT/);
    assert.doesNotMatch(run.stderr(), /REDIS_UNAVAILABLE/);
  });
});
