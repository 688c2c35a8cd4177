#!/usr/bin/env node
/**
 * `npm test`: install and build if needed, check that redis-server exists (tests start private
 * ones), then lint (biome), check the import graph (scripts/check-imports.mjs), type-check
 * everything including tests, and run every test file of every workspace with node:test, each in
 * its own process (small unit-test files in groups, a group in one process: scripts/test-groups.mjs),
 * TEST_FILES_AT_ONCE processes at a time, longest first (scripts/test-pool.mjs: each file starts its
 * own Redis, DNS server and sinks on ephemeral ports, and tests wait for events, not for time), then a few end-to-end files again on a Redis Cluster (CLUSTER_RERUN). Extra args are test
 * file filters (substrings), e.g. `npm test -- delivery`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureBuilt, ensureInstalled, ROOT } from './ensure.mjs';
import { findRedisServer, redisInstallHint } from './redis.mjs';
import { runTestFiles } from './test-pool.mjs';

ensureInstalled();
ensureBuilt();
if (!findRedisServer()) {
  process.stderr.write(`herald: the tests need redis-server. ${redisInstallHint()}\n`);
  process.exit(1);
}

function step(title, command, args, env = {}) {
  process.stderr.write(`\n== ${title}\n`);
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR, ...env },
  });
  if (result.status !== 0) {
    process.stderr.write(`herald: ${title} failed\n`);
    process.exit(result.status ?? 1);
  }
}

/** Test files run at once: the suite takes about 25 minutes one at a time on 2 cores, 14 two at a time. */
const TEST_FILES_AT_ONCE = Number(process.env.HERALD_TEST_FILES_AT_ONCE) || 2;
const filters = process.argv.slice(2);
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
if (filters.length === 0) {
  step('lint (biome)', bin('biome'), ['check', '.']);
  step('imports (scripts/check-imports.mjs)', process.execPath, [join(ROOT, 'scripts', 'check-imports.mjs')]);
  step('typecheck (tsc)', bin('tsc'), ['-p', 'tsconfig.json']);
}

// Every workspace's test folder (packages, then apps), then the cross-package suite: a new
// workspace's tests run without being listed here.
const workspaceTests = (group) =>
  readdirSync(join(ROOT, group), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `${group}/${entry.name}/test`)
    .sort();
const testDirs = [...workspaceTests('packages'), ...workspaceTests('apps'), 'test'];
const files = testDirs
  .map((dir) => join(ROOT, dir))
  .filter((dir) => existsSync(dir))
  .flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => relative(ROOT, join(dir, f))),
  )
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
// --test-force-exit: a file whose tests (and their after hooks) all ended exits even if a handle
// outlived them (a client still reconnecting to a killed cluster node held one file 8 minutes);
// what the file started is stopped with its process group by the pool.
const nodeArgs = [
  '--conditions=herald-source',
  '--import',
  'tsx',
  '--test-reporter=spec',
  '--test-force-exit',
];
// The build is fresh (ensureBuilt above), so the Herald children the end-to-end tests start (the
// `herald` CLI, relay and bounce-processor daemons: test/lib/children.ts) run it with plain node
// instead of the sources under tsx; HERALD_TEST_CHILDREN=source keeps them on the sources.
const testEnv = {
  ...process.env,
  FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR,
  HERALD_TEST_CHILDREN: process.env.HERALD_TEST_CHILDREN || 'dist',
};
process.stderr.write(`\n== tests (${files.length} files)\n`);
if (
  !(await runTestFiles({
    root: ROOT,
    files,
    concurrency: TEST_FILES_AT_ONCE,
    nodeArgs,
    env: testEnv,
    title: 'tests',
  }))
) {
  process.stderr.write('herald: tests failed\n');
  process.exit(1);
}

// End-to-end files that run a second time on a private 3-master Redis Cluster (test/lib/stack.ts
// starts one when HERALD_TEST_REDIS=cluster): the shaping limit two relays share, and the domain
// spread counted over queue shards on different masters. The main paths and the failover have
// their own files (test/cluster*.test.ts), on a cluster always.
const CLUSTER_RERUN = ['test/connection-limits.test.ts', 'test/behaviour-shards.test.ts'].filter(
  (file) => filters.length === 0 || filters.some((f) => file.includes(f)),
);
if (CLUSTER_RERUN.length > 0) {
  process.stderr.write(`\n== tests on a Redis Cluster (${CLUSTER_RERUN.length} files)\n`);
  const passed = await runTestFiles({
    root: ROOT,
    files: CLUSTER_RERUN,
    concurrency: TEST_FILES_AT_ONCE,
    nodeArgs,
    env: { ...testEnv, HERALD_TEST_REDIS: 'cluster' },
    title: 'tests on a Redis Cluster',
    // The main run's durations stay the ones recorded (this rerun would write over them).
    record: false,
  });
  if (!passed) {
    process.stderr.write('herald: tests on a Redis Cluster failed\n');
    process.exit(1);
  }
}
