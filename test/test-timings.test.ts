/**
 * `npm test` starts the longest files first by scripts/test-timings.json (scripts/test-pool.mjs):
 * a timings file that does not know the suite's files makes the order a guess, and a slow file
 * started last holds the whole run alone (CI's time budget). This keeps the committed file true.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Share of today's test files the timings must know (new files since the last copy are fine). */
const MIN_KNOWN_SHARE = 0.8;

function testFiles(): string[] {
  const dirs = ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(ROOT, group), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${group}/${entry.name}/test`),
  );
  return [...dirs, 'test']
    .filter((dir) => existsSync(join(ROOT, dir)))
    .flatMap((dir) =>
      readdirSync(join(ROOT, dir))
        .filter((file) => file.endsWith('.test.ts'))
        .map((file) => `${dir}/${file}`),
    );
}

test('scripts/test-timings.json knows most test files, with a duration in seconds for each', () => {
  const timings = JSON.parse(readFileSync(join(ROOT, 'scripts', 'test-timings.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const files = testFiles();
  const known = files.filter((file) => timings[file] !== undefined);
  assert.ok(
    known.length >= files.length * MIN_KNOWN_SHARE,
    `scripts/test-timings.json knows ${known.length} of ${files.length} test files: copy test-artifacts/test-timings.json of a full npm test run over it`,
  );
  for (const file of known) {
    const seconds = timings[file];
    assert.ok(typeof seconds === 'number' && seconds > 0, `${file}: ${String(seconds)}`);
  }
});
