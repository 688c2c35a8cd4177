#!/usr/bin/env node
/**
 * `npm test`: install and build if needed, check that redis-server exists (tests start private
 * ones), then lint (biome) and check the import graph (scripts/check-imports.mjs), then one pool
 * of TEST_FILES_AT_ONCE processes at a time, longest first (scripts/test-pool.mjs): the type-check
 * of everything including tests (tsc, one core: it fills a slot instead of holding the run alone;
 * the tests run the sources under tsx and do not need it), every test file of every workspace with
 * node:test, each in its own process (small unit-test files in groups, a group in one process:
 * scripts/test-groups.mjs; each file starts its own Redis, DNS server and sinks on ephemeral ports,
 * and tests wait for events, not for time), and a few end-to-end files again on a Redis Cluster
 * (CLUSTER_RERUN). The run fails if any of them does. Extra args are test file filters
 * (substrings), e.g. `npm test -- delivery` (then no lint, imports check or type-check).
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
}
/** The type-check, a unit of the test pool (its time is recorded under this name). */
const TYPECHECK = { name: 'typecheck (tsc -p tsconfig.json)', command: [bin('tsc'), '-p', 'tsconfig.json'] };

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
// End-to-end files that run a second time on a private 3-master Redis Cluster (test/lib/stack.ts
// starts one when HERALD_TEST_REDIS=cluster): the shaping limit two relays share, and the domain
// spread counted over queue shards on different masters. The main paths and the failover have
// their own files (test/cluster*.test.ts), on a cluster always. They run in the same pool as the
// rest, their times not recorded (they would write over the main run's).
const CLUSTER_RERUN = ['test/connection-limits.test.ts', 'test/behaviour-shards.test.ts'].filter(
  (file) => filters.length === 0 || filters.some((f) => file.includes(f)),
);
const commands = filters.length === 0 ? [TYPECHECK] : [];
process.stderr.write(
  `\n== tests (${files.length} files${commands.map((c) => `, ${c.name}`).join('')}, ${CLUSTER_RERUN.length} again on a Redis Cluster)\n`,
);
if (
  !(await runTestFiles({
    root: ROOT,
    files,
    concurrency: TEST_FILES_AT_ONCE,
    nodeArgs,
    env: testEnv,
    title: 'tests',
    commands,
    reruns: [
      {
        files: CLUSTER_RERUN,
        env: { ...testEnv, HERALD_TEST_REDIS: 'cluster' },
        label: 'on a Redis Cluster',
      },
    ],
  }))
) {
  process.stderr.write('herald: tests failed\n');
  process.exit(1);
}
