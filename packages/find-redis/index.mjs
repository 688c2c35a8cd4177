/**
 * Herald's one redis-server finder: `npm start` (scripts/redis.mjs), `npm test`, the test
 * harness's private servers and the bench all ask here, so they agree on where redis-server is
 * and on what to tell a user who has none. Plain JS with a .d.mts beside it and no dependencies:
 * scripts import it by relative path before anything is installed or built.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where redis-server is looked for after PATH (Debian/Ubuntu, /usr/local, Homebrew on arm64). */
export const REDIS_SEARCH_DIRS = Object.freeze([
  '/usr/bin',
  '/usr/sbin',
  '/usr/local/bin',
  '/opt/homebrew/bin',
]);

/** The redis-server binary on PATH or in REDIS_SEARCH_DIRS, or null. */
export function findRedisServer(env = process.env) {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...REDIS_SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** What to tell a user without redis-server (several lines, no trailing newline). */
export function redisInstallHint() {
  return [
    `redis-server was not found on PATH or in ${REDIS_SEARCH_DIRS.join(', ')}. Install it:`,
    '  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y redis-server',
    '  macOS:          brew install redis',
  ].join('\n');
}
