/**
 * test/lib/children.ts: how the end-to-end tests choose between the sources and the build for the
 * Herald processes they start — HERALD_TEST_CHILDREN unset or `source` runs the sources under tsx,
 * `dist` the build, anything else is refused (a typo must not quietly test the other thing).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHILDREN_ENV, CLI_ENTRY, childArgs, childrenFromDist } from './lib/children.js';

test('HERALD_TEST_CHILDREN: unset or source runs the sources, dist the build, any other value throws', () => {
  assert.equal(childrenFromDist({}), false);
  assert.equal(childrenFromDist({ [CHILDREN_ENV]: 'source' }), false);
  assert.equal(childrenFromDist({ [CHILDREN_ENV]: 'dist' }), true);
  assert.deepEqual(childArgs(CLI_ENTRY, {}), [
    '--conditions=herald-source',
    '--import',
    'tsx',
    CLI_ENTRY.source,
  ]);
  assert.throws(
    () => childrenFromDist({ [CHILDREN_ENV]: 'bogus' }),
    /HERALD_TEST_CHILDREN=bogus: expected dist or source/,
  );
});
