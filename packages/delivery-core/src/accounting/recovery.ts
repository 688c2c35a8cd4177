/**
 * Where the accounting log resumes after a start, a crash or a failed write: the later of the
 * cursor saved in Redis and what the files already hold. Records are appended in stream order
 * and the cursor is saved only after the fsync, so a file's last run of records (one stream
 * entry's) is newer than the cursor when the process died (or a write failed) between the write
 * and the cursor save, or when Redis came back without the cursor (wiped, failed over, or an AOF
 * that lost its last second). Records are cut only when they will be written again: when the
 * run's entry is still in the stream (that run may be partial, so it is cut and the log resumes
 * after the entry before it). When the entry is gone from the stream, the file is the truth: it
 * is kept as written (a partial run stays partial; the log says so) and the log resumes after its
 * last id (stream ids are times, so a new stream's ids are later). Without a cursor, a stream
 * that still holds ids at or before the file's last one is not the stream the file came from:
 * those entries are skipped and reported (`stale`), never written out of order. Bytes after the
 * last complete record (a torn write) are always cut. Nothing is written twice; nothing in the
 * files is lost. On a sharded queue the ids are merged cursors (events/merged.ts), compared id
 * by id; an entry is "still in the stream" when every stream still holds its id of the cursor.
 */
import { mkdir } from 'node:fs/promises';
import { compareCursors } from '../events/index.js';
import { cutFile, type FileTail, newestFiles, scanFile } from './files.js';
import type { AccountingFormat } from './format.js';

/** What recovery asks the stream. */
export interface StreamProbe {
  /** Whether the entry `id` is still in the stream. */
  has(id: string): Promise<boolean>;
  /** The stream's oldest id; undefined when it is empty. */
  oldest(): Promise<string | undefined>;
}

export interface Recovery {
  /** The stream id to resume after ("0": the stream's beginning). */
  resumeAfter: string;
  /** Files cut, with the bytes removed and why. */
  cuts: { path: string; from: number; bytes: number; reason: 'torn' | 'unsaved' }[];
  /** The last run, newer than the cursor, kept as written: its entry is no longer in the stream. */
  kept?: { path: string; id: string; from: number; bytes: number; saved?: string };
  /** No cursor, and the stream holds ids not later than the file's last one: skipped, a gap. */
  stale?: { lastId: string; oldest: string };
}

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareCursors(a, b) >= 0 ? a : b;
}

/** Reconciles the newest files with the saved cursor (see the header) and cuts what must go. */
export async function recover(
  directory: string,
  format: AccountingFormat,
  saved: string | undefined,
  stream: StreamProbe,
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
  const recovery: Omit<Recovery, 'resumeAfter'> = { cuts: [] };
  const lastId = newest?.lastId;
  if (newest && lastId !== undefined && (saved === undefined || compareCursors(lastId, saved) > 0)) {
    if (await stream.has(lastId)) {
      // It will be read again: cut the run (it may be partial) and write it once more.
      cutAt.set(newest, newest.lastRunStart);
      resumeAfter = later(saved, newest.previousId);
      for (const tail of tails) if (tail !== newest) resumeAfter = later(resumeAfter, tail.lastId);
    } else {
      resumeAfter = lastId;
      recovery.kept = {
        path: newest.path,
        id: lastId,
        from: newest.lastRunStart,
        bytes: newest.validEnd - newest.lastRunStart,
        ...(saved === undefined ? {} : { saved }),
      };
      const oldest = await stream.oldest();
      if (saved === undefined && oldest !== undefined && compareCursors(oldest, lastId) <= 0)
        recovery.stale = { lastId, oldest };
    }
  }
  for (const [tail, at] of cutAt) {
    if (at >= tail.size) continue;
    await cutFile(tail.path, at);
    recovery.cuts.push({
      path: tail.path,
      from: at,
      bytes: tail.size - at,
      reason: at < tail.validEnd ? 'unsaved' : 'torn',
    });
  }
  return { resumeAfter: resumeAfter ?? '0', ...recovery };
}
