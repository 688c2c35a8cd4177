import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'herald-config-secrets-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const PASSWORD = 'sup3r-s3cret-pw';
const VERP = 'v3rp-s3cret-value-0123';
const SECRETS = [PASSWORD, VERP, 'hunter2hunter2'];

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

function fileError(
  name: string,
  text: string,
  env: Record<string, string> = {},
): { err: ConfigError; path: string } {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return { err: configError(() => loadConfigFile(path, { env })), path };
}

function assertNoSecret(err: ConfigError): void {
  for (const secret of SECRETS) {
    assert.ok(!err.message.includes(secret), `"${secret}" in: ${err.message}`);
    for (const issue of err.issues) assert.ok(!`${issue.path} ${issue.message}`.includes(secret));
  }
  assert.equal(err.cause, undefined, 'no cause that could carry the text');
}

describe('a file that cannot be parsed names the file, line and column, and quotes none of it', () => {
  const cases: [string, string, number, number, RegExp][] = [
    [
      'bad indentation after a password',
      `smtp:\n  users:\n    - username: app\n      password: ${PASSWORD}\n     tenant: x\n`,
      5,
      1,
      /sequence item without - indicator/,
    ],
    [
      'a tab after the VERP secret',
      `bounce:\n  domain: b.test\n  verp_secret: ${VERP}\n\tcomplaint_address: x\n`,
      4,
      1,
      /tab/,
    ],
    [
      'an unterminated quote after a password',
      `smtp:\n  users:\n    - { username: app, password: ${PASSWORD} }\n    - { username: b, password: "x }\n`,
      5,
      1,
      /missing closing "quote/,
    ],
    [
      'a duplicate key whose value is a secret',
      `bounce:\n  verp_secret: ${VERP}\n  verp_secret: ${VERP}x\n`,
      3,
      3,
      /duplicate key/,
    ],
  ];
  for (const [name, text, line, column, nature] of cases) {
    test(name, () => {
      const { err, path } = fileError('broken.yaml', text);
      assert.equal(err.code, 'HERALD_CONFIG_UNREADABLE');
      assert.equal(err.message, `${path}:${line}:${column}: ${err.issues[0]!.message}`);
      assert.match(err.message, /cannot parse YAML: /);
      assert.match(err.issues[0]!.message, nature);
      assert.deepEqual([err.issues[0]!.line, err.issues[0]!.column], [line, column]);
      assert.doesNotMatch(err.message, /\n/, 'one line, no excerpt of the file');
      assertNoSecret(err);
    });
  }

  test('a mapping used as a key is refused without the warning that printed it to stderr', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const { err } = fileError('key.yaml', `{ password: ${PASSWORD} }: x\n`);
      assert.equal(err.code, 'HERALD_CONFIG_UNREADABLE');
      assert.match(err.message, /:1:1: cannot parse YAML: a key that is a mapping/);
      assertNoSecret(err);
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });
});

describe('validation errors never quote a value of a secret key', () => {
  test('a VERP secret of the wrong type in a list is described by its type', () => {
    const err = configError(() =>
      parseConfig({ bounce: { domain: 'b.test', verp_secret: VERP, verp_previous_secrets: [123456789012] } }),
    );
    assert.match(err.message, /bounce\.verp_previous_secrets\[0\]: expected a secret string, got number/);
    assert.doesNotMatch(err.message, /123456789012/);
  });

  test('a DKIM private_key of the wrong type is described by its type', () => {
    const err = configError(() =>
      parseConfig({ dkim: [{ domain: 's.test', selector: 's1', private_key: 12345678901 }] }),
    );
    assert.match(err.message, /dkim\[0\]\.private_key: .*got number/);
    assert.doesNotMatch(err.message, /12345678901/);
  });

  test('a malformed redis.url is shown with its password masked, from the file and from REDIS_URL', () => {
    const { err } = fileError('redis.yaml', 'redis: { url: "redis://:hunter2hunter2@host x" }\n');
    assert.match(
      err.message,
      /redis\.url: expected a redis:\/\/ or rediss:\/\/ URL, got "redis:\/\/:\*\*\*@host x"/,
    );
    assert.equal(err.issues.length, 1, 'one line for one problem');
    assertNoSecret(err);
    const env = configError(() => parseConfig({}, { env: { REDIS_URL: 'redis://u:hunter2hunter2@h ost' } }));
    assert.match(env.message, /redis\.url: .*"redis:\/\/u:\*\*\*@h ost" \(from REDIS_URL\)/);
    assertNoSecret(env);
  });

  test('a redis.url or cluster seed whose password is not percent-encoded is a config error at its key, not a crash', () => {
    // decodeURIComponent (redis-connect.ts, ioredis) throws "URI malformed" at start otherwise.
    for (const password of ['hunter2%zzhunter2', 'hunter2hunter2%', 'hunter2%C3%28hunter2']) {
      const { err } = fileError('pct.yaml', `redis: { url: "redis://u:${password}@127.0.0.1:6379" }\n`);
      assert.match(
        err.message,
        /redis\.url: expected the user name and password percent-encoded .*got "redis:\/\/u:\*\*\*@127\.0\.0\.1:6379"/,
      );
      assertNoSecret(err);
      const env = configError(() => parseConfig({}, { env: { REDIS_URL: `redis://:${password}@h:1` } }));
      assert.match(
        env.message,
        /redis\.url: expected the user name and password percent-encoded.*\(from REDIS_URL\)/,
      );
      assertNoSecret(env);
      const seed = configError(() => parseConfig({ redis: { cluster: [`redis://:${password}@h:1`] } }));
      assert.match(seed.message, /redis\.cluster\[0\]: expected the user name and password percent-encoded/);
      assertNoSecret(seed);
    }
    assert.equal(
      parseConfig({ redis: { url: 'redis://u:hunter2%25hunter2@h:1' } }).redis.url,
      'redis://u:hunter2%25hunter2@h:1',
      'an escaped % is fine',
    );
  });

  test("a password before an '@' in a route's via or an OTLP endpoint is masked in the error", () => {
    const via = fileError(
      'via.yaml',
      'routes:\n  - { match: "*", via: "u:hunter2hunter2@127.0.0.1:99999" }\n',
    );
    assert.match(via.err.message, /routes\[0\]\.via: .*"[^"]*\*\*\*@127\.0\.0\.1:99999"/);
    assert.match(via.err.message, /no user or password \(a smarthost's AUTH goes in routes\[\]\.auth\)/);
    assert.doesNotMatch(via.err.message, /IPv6/, 'the colon of user:password is not taken for IPv6');
    assertNoSecret(via.err);
    const otlp = fileError(
      'otlp.yaml',
      'telemetry: { otlp: { endpoint: "ftp://u:hunter2hunter2@collector" } }\n',
    );
    assert.match(otlp.err.message, /endpoint/);
    assertNoSecret(otlp.err);
  });

  test('a scalar where a section belongs (redis: URL, auth: "user:pw", users: "...") is described by type', () => {
    const { err } = fileError(
      'scalars.yaml',
      [
        'redis: "redis://:hunter2hunter2@127.0.0.1:6379"',
        'smtp: { users: "app:hunter2hunter2" }',
        'routes: [{ match: "*", via: "h", auth: "u:hunter2hunter2" }]',
        '',
      ].join('\n'),
    );
    assert.match(err.message, /: redis: expected a mapping, got a string/);
    assert.match(err.message, /: smtp\.users: expected a list of users, got a string/);
    assert.match(err.message, /: routes\[0\]\.auth: expected a mapping, got a string/);
    assertNoSecret(err);
  });

  test('a secret pasted into another key as well is masked there', () => {
    const err = configError(() =>
      parseConfig({ smtp: { listen: `${PASSWORD}`, users: [{ username: 'app', password: PASSWORD }] } }),
    );
    assert.match(err.message, /smtp\.listen: /);
    assertNoSecret(err);
  });

  test('a secret at the cut of a long quoted value is masked, not left half shown', () => {
    const listen = `${'x'.repeat(50)}${PASSWORD}`;
    const err = configError(() =>
      parseConfig({ delivery: { tls: listen }, smtp: { users: [{ username: 'a', password: PASSWORD }] } }),
    );
    assert.match(err.message, /delivery\.tls: .*got "x{50}\*\*\*…/);
    assert.ok(!err.message.includes(PASSWORD.slice(0, 9)), err.message);
  });

  test('an unknown key next to a secret is named, with a suggestion, and the secret is not', () => {
    const err = configError(() => parseConfig({ smtp: { users: [{ username: 'a', pasword: PASSWORD }] } }));
    assert.match(err.message, /smtp\.users\[0\]\.pasword: unknown key .*did you mean password\?/);
    assertNoSecret(err);
  });

  test('a very long unknown key is shortened and gets no suggestion, in linear time', () => {
    const key = `lisen${'x'.repeat(200_000)}`;
    const err = configError(() => parseConfig({ smtp: { [key]: 1 } }));
    assert.ok(err.message.length < 1000, `${err.message.length} characters`);
    assert.match(err.message, /smtp\["lisenx+…\]: unknown key/);
  });

  test('a value of a kind JSON cannot show (bigint) is reported, not thrown', () => {
    const err = configError(() => parseConfig({ delivery: { port: 10n } }));
    assert.match(err.message, /delivery\.port: expected integer between 1 and 65535, got 10n/);
  });
});
