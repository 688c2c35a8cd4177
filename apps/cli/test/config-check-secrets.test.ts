import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '@herald/delivery-core';
import { loadConfigFile } from '@herald/delivery-core/config';
import fc from 'fast-check';
import {
  awkwardMarker,
  EXAMPLE_CONFIGS,
  FUZZ_SEED,
  leaked,
  marker,
  mutate,
  mutations,
  secretConfig,
  secretsOfText,
} from '../../../packages/delivery-core/test/fixtures/config-fuzz.js';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-cli-config-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function check(path: string, json = false, env: Record<string, string> = {}) {
  const run = captureIo({ env });
  const code = await main(['config', 'check', path, ...(json ? ['--json'] : [])], run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** A valid config with a secret in every slot (the password hash is a real one, of a marker). */
let validSecrets: (m: readonly string[]) => string;
before(async () => {
  const hash = await hashPassword('hashed-password');
  validSecrets = (m) => secretConfig(m).replace(JSON.stringify(m[2]), JSON.stringify(hash));
});

describe('herald config check shows no secret', () => {
  const M = [
    'Mkredis0000000000',
    'Mkpassword0000000',
    'Mkhash00000000000',
    'Mkroute000000000',
    'Mkverp00000000000',
    'Mkold100000000000',
    'Mkold200000000000',
    'Mkdkim00000000000',
  ];

  test('a YAML syntax error: one line with file, line and column, none of the file', async () => {
    const path = configFile(
      'broken.yaml',
      validSecrets(M).replace('  listen: "127.0.0.1:2525"', '  listen: "127.0.0.1:2525'),
    );
    const out = await check(path);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(
        `^herald: HERALD_CONFIG_UNREADABLE: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: cannot parse YAML: [^\\n]+\\n$`,
      ),
    );
    assert.deepEqual(leaked(out.stderr + out.stdout, M), []);
  });

  test('hostile files exit 1 with a config error, never "unexpected error"', async () => {
    for (const text of [
      `a: ${'['.repeat(100_000)}`,
      'smtp: *nowhere\n',
      `${'- '.repeat(50_000)}x\n`,
      'a: "\u0000"\n',
    ]) {
      const out = await check(configFile('hostile.yaml', text));
      assert.equal(out.code, 1, out.stderr);
      assert.doesNotMatch(out.stderr, /unexpected error|Maximum call stack/);
      assert.match(out.stderr, /hostile\.yaml:\d+:\d+: /);
    }
  });

  test('verp_secret: generate passes config check, which says npm start generates it', async () => {
    const path = configFile('generate.yaml', 'bounce: { domain: b.test, verp_secret: generate }\n');
    const out = await check(path);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /generate\.yaml: bounce\.verp_secret: "generate": npm start replaces it with a random secret/,
    );
    // The daemons still refuse it: they sign with it.
    assert.throws(
      () => loadConfigFile(path),
      /bounce\.verp_secret: "generate" is replaced by a random secret only under npm start/,
    );
  });

  test('a valid config prints no secret, in the summary or as JSON, REDIS_URL included', async () => {
    // config check runs the preflight, which loads the DKIM key: the inline key must be a real one.
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyBody = pem.split('\n')[1]!;
    const path = configFile('valid.yaml', validSecrets(M).replace(JSON.stringify(M[7]), JSON.stringify(pem)));
    for (const json of [false, true]) {
      const out = await check(path, json, { REDIS_URL: 'redis://:Mkenvpassword000@127.0.0.1:6390' });
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(
        leaked(out.stdout + out.stderr, [...M, 'Mkenvpassword000', 'scrypt$', keyBody, 'PRIVATE KEY']),
        [],
      );
    }
  });

  test('fuzz: mutated configs with secrets in every slot never show a secret string', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(marker, awkwardMarker), { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        fc.option(mutations, { nil: undefined }),
        async (markers, json, list) => {
          const text = list ? mutate(validSecrets(markers), list) : validSecrets(markers);
          const path = configFile('fuzz.yaml', text);
          const out = await check(path, json);
          assert.ok(out.code === 0 || out.code === 1, out.stderr);
          if (out.code === 1) {
            for (const line of out.stderr.trimEnd().split('\n'))
              assert.ok(
                /^herald: HERALD_CONFIG_(INVALID|UNREADABLE): /.test(line) && line.includes(` ${path}:`),
                line,
              );
          }
          const unreadable =
            out.code === 1 && /^herald: HERALD_CONFIG_UNREADABLE: [^ ]+:\d+:\d+: /.test(out.stderr);
          const secrets = unreadable ? markers : secretsOfText(text, markers);
          assert.deepEqual(leaked(out.stdout + out.stderr, secrets), [], out.stdout + out.stderr);
        },
      ),
      { seed: FUZZ_SEED, numRuns: 200 },
    );
  });

  test('fuzz: mutated example configs exit 0 or 1 with lines naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...EXAMPLE_CONFIGS), mutations, async (text, list) => {
        const path = configFile('example.yaml', mutate(text, list));
        const out = await check(path);
        assert.ok(out.code === 0 || out.code === 1, out.stderr);
        if (out.code === 1)
          assert.ok(
            /^herald: HERALD_CONFIG_(INVALID|UNREADABLE): /.test(out.stderr) &&
              out.stderr.includes(` ${path}:`),
            out.stderr,
          );
      }),
      { seed: FUZZ_SEED, numRuns: 150 },
    );
  });
});
