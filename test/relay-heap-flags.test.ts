/**
 * Every place Herald starts a relay process gives Node the relay's semi-space flag
 * (apps/relay/src/heap.ts `RELAY_NODE_FLAGS`): the constant lives in TypeScript, these launchers
 * carry it as text, so a change to one and not the others fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RELAY_NODE_FLAGS } from '@herald/relay';

const ROOT = new URL('../', import.meta.url);
const LAUNCHERS = [
  'package.json',
  'docker/Dockerfile',
  'scripts/start.mjs',
  'scripts/bench-relay.mjs',
  'deploy/k8s/base/relay-deployment.yaml',
];

describe('the relay launchers', () => {
  it('has one flag, the semi-space size', () => {
    assert.equal(RELAY_NODE_FLAGS.length, 1);
    assert.match(RELAY_NODE_FLAGS[0]!, /^--max-semi-space-size=\d+$/);
  });
  for (const file of LAUNCHERS)
    it(`${file} passes ${RELAY_NODE_FLAGS[0]}`, () => {
      const text = readFileSync(new URL(file, ROOT), 'utf8');
      const flags = text.match(/--max-semi-space-size=\d+/g) ?? [];
      assert.deepEqual(
        [...new Set(flags)],
        [RELAY_NODE_FLAGS[0]],
        `${file}: ${flags.join(', ') || 'no flag'}`,
      );
    });
  it('the bin keeps a portable shebang (BusyBox env has no -S)', () => {
    const first = readFileSync(new URL('apps/cli/bin/herald.mjs', ROOT), 'utf8').split('\n')[0];
    assert.equal(first, '#!/usr/bin/env node');
  });
});
