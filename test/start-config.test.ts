/**
 * scripts/start-config.mjs: `npm start` copies HERALD_CONFIG to .herald/herald.yaml, so the file
 * paths that config names relative to its own folder must be made absolute first, or the relay
 * reads them against .herald/ (it exited with `shaping.file: cannot read .herald/shaping.yaml`).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfigFile } from '@herald/delivery-core/config';
import YAML from 'yaml';
import { captureSinkPlan, readStartConfig } from '../scripts/start-config.mjs';

const root = mkdtempSync(join(tmpdir(), 'herald-start-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('paths relative to HERALD_CONFIG still name the same files in the copy under .herald/', async () => {
  const source = join(root, 'mine');
  mkdirSync(source);
  writeFileSync(join(source, 'shaping.yaml'), 'domains:\n  slow.test: { max_message_rate: "5/s" }\n');
  writeFileSync(
    join(source, 'herald.yaml'),
    [
      'shaping: { file: shaping.yaml }',
      'bounce: { domain: bounces.test, verp_secret: "0123456789abcdef0123", rules_file: rules/b.yaml }',
      'routes: [{ match: "*", via: "127.0.0.1:2526" }]',
      '',
    ].join('\n'),
  );
  const config = await readStartConfig(join(source, 'herald.yaml'));
  assert.equal(config.shaping?.file, join(source, 'shaping.yaml'));
  assert.equal(config.bounce?.rules_file, join(source, 'rules', 'b.yaml'));
  assert.deepEqual(config.routes, [{ match: '*', via: '127.0.0.1:2526' }], 'everything else as written');

  // The copy, written elsewhere as npm start does, loads with the source's shaping file.
  const state = join(root, '.herald');
  mkdirSync(state);
  delete config.bounce?.rules_file;
  writeFileSync(join(state, 'herald.yaml'), YAML.stringify(config));
  const loaded = loadConfigFile(join(state, 'herald.yaml'));
  assert.equal(loaded.shaping?.file, join(source, 'shaping.yaml'));
});

test('an empty config file is an empty config', async () => {
  writeFileSync(join(root, 'empty.yaml'), '');
  assert.deepEqual(await readStartConfig(join(root, 'empty.yaml')), {});
});

test('the capture sink runs only for a * route to 127.0.0.1:2526, and npm start says so otherwise', () => {
  assert.deepEqual(captureSinkPlan({ routes: [{ match: '*', via: '127.0.0.1:2526', tls: 'none' }] }), {
    start: true,
  });
  assert.deepEqual(captureSinkPlan({}), { start: false });
  assert.deepEqual(captureSinkPlan({ routes: [{ match: 'example.com', via: '127.0.0.1:2526' }] }), {
    start: false,
  });
  // A config whose ports were all moved (e.g. to dodge a collision): before, no sink and no word.
  const moved = captureSinkPlan({ routes: [{ match: '*', via: '127.0.0.1:21526' }] });
  assert.equal(moved.start, false);
  assert.match(
    moved.note ?? '',
    /^no capture sink: this config routes \* to 127\.0\.0\.1:21526, not 127\.0\.0\.1:2526/,
  );
});
