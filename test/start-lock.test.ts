import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { acquireStartLock, LOCK_FILE } from '../scripts/start-lock.mjs';

const root = mkdtempSync(join(tmpdir(), 'herald-start-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `state-${n++}`);

/** A PID that no process has any more: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('scripts/start-lock.mjs: one npm start per checkout', () => {
  test('the first start takes the lock; a second is refused with the PID of the first', () => {
    const dir = freshDir();
    const first = acquireStartLock(dir);
    assert.equal(first.ok, true);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    const second = acquireStartLock(dir, process.pid + 1);
    assert.deepEqual(second, { ok: false, pid: process.pid });
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`, 'the first keeps it');
  });

  test('release removes the file, once, and only while it names the holder', () => {
    const dir = freshDir();
    const lock = acquireStartLock(dir);
    assert.ok(lock.ok);
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    const next = acquireStartLock(dir);
    assert.ok(next.ok, 'free again');
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), true, "a second release leaves the next start's lock");
    next.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  });

  test('a lock left by a start that died is taken over; so is an unreadable one', () => {
    const dir = freshDir();
    assert.equal(acquireStartLock(dir, deadPid()).ok, true);
    const taken = acquireStartLock(dir);
    assert.equal(taken.ok, true);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    assert.ok(taken.ok);
    taken.release();
    writeFileSync(join(dir, LOCK_FILE), 'garbage');
    const again = acquireStartLock(dir);
    assert.equal(again.ok, true);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    assert.deepEqual(readdirSync(dir), [LOCK_FILE], 'no temporary file is left');
  });
});
