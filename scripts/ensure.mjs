#!/usr/bin/env node
/**
 * Makes a checkout runnable: installs dependencies when node_modules is missing or older than
 * package-lock.json, and builds every workspace (turbo; cached when nothing changed). Used by
 * `npm start`, `npm test` and `npm run bench`, so a fresh clone needs no other step. Plain Node,
 * no dependencies: it runs before anything is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// The tools' output goes to stderr: a caller's stdout stays its own (bench-relay's JSON line).
function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: ['inherit', process.stderr, 'inherit'],
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    ...options,
  });
  if (result.status !== 0) {
    process.stderr.write(
      `herald: \`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})\n`,
    );
    process.exit(result.status ?? 1);
  }
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

export function ensureInstalled() {
  const marker = join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(marker) || mtime(marker) < mtime(join(ROOT, 'package-lock.json'))) {
    process.stderr.write('herald: installing dependencies (npm install)…\n');
    const ci = process.env.CI === 'true' && existsSync(join(ROOT, 'package-lock.json'));
    run('npm', ci ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
  }
}

export function ensureBuilt() {
  run(join(ROOT, 'node_modules', '.bin', 'turbo'), [
    'run',
    'build',
    '--output-logs=errors-only',
    '--log-prefix=none',
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureInstalled();
  ensureBuilt();
}
