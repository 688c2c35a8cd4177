/**
 * The one-`npm start`-per-checkout lock: a PID file in `.herald/`, so two starts cannot both run a
 * redis-server on `.herald/redis` or rewrite `.herald/herald.yaml`. The file appears atomically with
 * its content (written beside it, then hard-linked into place, which fails like O_EXCL when the
 * file exists), so a reader never sees it empty. A lock whose PID is no longer alive (a start
 * killed with SIGKILL) is taken over. Plain Node, no dependencies: `npm start` takes it before
 * installing or starting anything.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'start.pid';
/** Rounds of create / take over stale before giving up (another start may race us each round). */
const MAX_ATTEMPTS = 5;

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return err.code === 'EPERM';
  }
}

/** The PID in the file; null when there is no file; undefined when it holds no PID. */
function readPid(path) {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
}

function tryLink(from, to) {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if (err.code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Takes the lock in `dir` for `pid` (default: this process). Returns `{ ok: true, release() }`, or
 * `{ ok: false, pid }` when a live process holds it. `release()` removes the file only while it
 * still names `pid`, and is safe to call more than once.
 */
export function acquireStartLock(dir, pid = process.pid) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine = `${path}.${pid}.tmp`;
  writeFileSync(mine, `${pid}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (tryLink(mine, path)) return held(path, pid);
      const holder = readPid(path);
      if (holder === null) continue; // released between our link and our read
      if (holder !== pid && holder !== undefined && isAlive(holder)) return { ok: false, pid: holder };
      // Stale: move it aside under our own name (atomic, so only one start moves a given file) and
      // look at what we moved: if another start had already replaced it with a live lock, put
      // that back (unless a third took the place meanwhile) and report it.
      const aside = `${path}.${pid}.stale`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if (err.code === 'ENOENT') continue;
        throw err;
      }
      const moved = readPid(aside);
      if (moved !== holder && moved !== pid && moved && isAlive(moved)) {
        tryLink(aside, path);
        rmSync(aside, { force: true });
        return { ok: false, pid: moved };
      }
      rmSync(aside, { force: true });
    }
    return { ok: false, pid: readPid(path) ?? 0 };
  } finally {
    rmSync(mine, { force: true });
  }
}

function held(path, pid) {
  let released = false;
  return {
    ok: true,
    release() {
      if (released) return;
      released = true;
      if (readPid(path) === pid) rmSync(path, { force: true });
    },
  };
}
