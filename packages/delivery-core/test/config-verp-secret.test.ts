import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import {
  ConfigError,
  GENERATED_SECRET_PLACEHOLDER,
  loadConfigFile,
  MIN_VERP_SECRET_CHARS,
  parseConfig,
} from '../src/config/index.js';

const DEV_CONFIG = fileURLToPath(new URL('../../../config/herald.dev.yaml', import.meta.url));
const GOOD = 'k7Qx2R9vLmN4pT8w';

function issues(bounce: Record<string, unknown>): ConfigError['issues'] {
  try {
    parseConfig({ bounce: { domain: 'bounces.test', ...bounce } });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'HERALD_CONFIG_INVALID');
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

describe('bounce.verp_secret', () => {
  test('"generate" is refused outside npm start, at the exact path, saying what to do', () => {
    for (const word of [GENERATED_SECRET_PLACEHOLDER, 'Generate', ' generate ']) {
      const [issue, ...rest] = issues({ verp_secret: word });
      assert.deepEqual(rest, []);
      assert.equal(issue!.path, 'bounce.verp_secret');
      assert.match(issue!.message, /only under npm start/);
      assert.match(issue!.message, /openssl rand -base64 32/);
    }
    const [previous] = issues({ verp_secret: GOOD, verp_previous_secrets: [GOOD, 'generate'] });
    assert.equal(previous!.path, 'bounce.verp_previous_secrets[1]');
  });

  test(`a secret shorter than ${MIN_VERP_SECRET_CHARS} characters is refused without being echoed`, () => {
    const short = 'a'.repeat(MIN_VERP_SECRET_CHARS - 1);
    for (const bounce of [{ verp_secret: short }, { verp_secret: GOOD, verp_previous_secrets: [short] }]) {
      const [issue, ...rest] = issues(bounce);
      assert.deepEqual(rest, []);
      assert.match(
        issue!.message,
        new RegExp(`^expected a secret of at least ${MIN_VERP_SECRET_CHARS} random characters`),
      );
      assert.ok(!issue!.message.includes(short));
    }
    assert.match(issues({ verp_secret: 'é'.repeat(MIN_VERP_SECRET_CHARS - 1) })[0]!.message, /at least/);
  });

  test(`${MIN_VERP_SECRET_CHARS} characters and more are accepted, current and previous`, () => {
    const config = parseConfig({
      bounce: { domain: 'b.test', verp_secret: GOOD, verp_previous_secrets: [`${GOOD}x`] },
    });
    assert.equal(config.bounce?.verp_secret, GOOD);
  });

  test('config/herald.dev.yaml is refused as it stands, and accepted once npm start fills in a secret', () => {
    assert.throws(
      () => loadConfigFile(DEV_CONFIG),
      (err: ConfigError) =>
        err.issues.length === 1 &&
        err.issues[0]!.path === 'bounce.verp_secret' &&
        /npm start/.test(err.issues[0]!.message),
    );
    // What scripts/start.mjs writes to .herald/herald.yaml.
    const dev = YAML.parse(readFileSync(DEV_CONFIG, 'utf8'));
    dev.bounce.verp_secret = randomBytes(32).toString('base64url');
    assert.equal(parseConfig(dev).bounce?.domain, 'bounces.herald.test');
  });
});
