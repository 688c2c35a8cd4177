/**
 * Where the accounting log resumes after a start, a crash or a failed write: the later of the
 * cursor saved in Redis and what the files already hold. Records are appended in stream order
 * and the cursor is saved only after the fsync, so a file's last run of records (one stream
 * entry's) is newer than the cursor only when the process died (or a write failed) between the
 * write and the cursor save: that run may be partial, so it is cut and written again, and the log
 * resumes after the entry before it. Bytes after the last complete record (a torn write) are cut.
 * Nothing is written twice and nothing is skipped.
 */
import { mkdir } from 'node:fs/promises';
import { compareStreamIds } from '../events/index.js';
import { cutFile, type FileTail, newestFiles, scanFile } from './files.js';
import type { AccountingFormat } from './format.js';

export interface Recovery {
  /** The stream id to resume after ("0": the stream's beginning). */
  resumeAfter: string;
  /** Files cut, with the bytes removed and why. */
  cuts: { path: string; from: number; bytes: number; reason: 'torn' | 'unsaved' }[];
}

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareStreamIds(a, b) >= 0 ? a : b;
}

/** Reconciles the newest files with the saved cursor (see the header) and cuts what must go. */
export async function recover(
  directory: string,
  format: AccountingFormat,
  saved: string | undefined,
): Promise<Recovery> {
  await mkdir(directory, { recursive: true });
  const tails: FileTail[] = [];
  for (const path of await newestFiles(directory, format)) tails.push(await scanFile(path, format));
  let newest: FileTail | undefined;
  for (const tail of tails)
    if (
      tail.lastId !== undefined &&
      (newest?.lastId === undefined || later(tail.lastId, newest.lastId) === tail.lastId)
    )
      newest = tail;
  let resumeAfter = saved;
  const cutAt = new Map(tails.map((t) => [t, t.validEnd]));
  if (newest?.lastId !== undefined && (saved === undefined || compareStreamIds(newest.lastId, saved) > 0)) {
    cutAt.set(newest, newest.lastRunStart);
    resumeAfter = later(saved, newest.previousId);
    for (const tail of tails) if (tail !== newest) resumeAfter = later(resumeAfter, tail.lastId);
  }
  const cuts: Recovery['cuts'] = [];
  for (const [tail, at] of cutAt) {
    if (at >= tail.size) continue;
    await cutFile(tail.path, at);
    cuts.push({
      path: tail.path,
      from: at,
      bytes: tail.size - at,
      reason: at < tail.validEnd ? 'unsaved' : 'torn',
    });
  }
  return { resumeAfter: resumeAfter ?? '0', cuts };
}
