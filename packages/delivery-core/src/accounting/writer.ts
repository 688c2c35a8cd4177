/**
 * Appends records to the day files and makes them durable: `append` writes each run of records
 * to its day's file (opened for append; a new or empty file gets the header first, and its
 * directory entry is fsynced), `sync` fsyncs every file written since the last sync. At most
 * OPEN_FILES_MAX files stay open (today's and yesterday's). A failed write leaves the file as it
 * is: the caller recovers from the file tails (recovery.ts), never by writing again blindly.
 */
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileName } from './files.js';
import { type AccountingFormat, fileHeader } from './format.js';

/** Files kept open: the current day's and the previous one (late events near midnight). */
const OPEN_FILES_MAX = 2;

export class DayFiles {
  private readonly open = new Map<string, FileHandle>();
  private readonly dirty = new Set<FileHandle>();

  constructor(
    private readonly directory: string,
    private readonly format: AccountingFormat,
  ) {}

  /** Appends `text` (whole records) to the file of `day` ("YYYY-MM-DD"). */
  async append(day: string, text: string): Promise<void> {
    const handle = await this.handleFor(join(this.directory, fileName(day, this.format)));
    this.dirty.add(handle);
    await handle.appendFile(text);
  }

  /** fsyncs what was appended since the last call. */
  async sync(): Promise<void> {
    for (const handle of this.dirty) await handle.datasync();
    this.dirty.clear();
  }

  async close(): Promise<void> {
    const handles = [...this.open.values()];
    this.open.clear();
    this.dirty.clear();
    await Promise.allSettled(handles.map((h) => h.close()));
  }

  private async handleFor(path: string): Promise<FileHandle> {
    const known = this.open.get(path);
    if (known) {
      // Most recently used last, so the eviction below closes the oldest.
      this.open.delete(path);
      this.open.set(path, known);
      return known;
    }
    await mkdir(this.directory, { recursive: true });
    const handle = await open(path, 'a');
    try {
      if ((await handle.stat()).size === 0) {
        await handle.appendFile(fileHeader(this.format));
        await syncDirectory(this.directory);
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    this.open.set(path, handle);
    while (this.open.size > OPEN_FILES_MAX) {
      const [oldestPath, oldest] = this.open.entries().next().value as [string, FileHandle];
      this.open.delete(oldestPath);
      if (this.dirty.has(oldest)) {
        await oldest.datasync();
        this.dirty.delete(oldest);
      }
      await oldest.close();
    }
    return handle;
  }
}

/** fsyncs a directory, so a file created in it survives a power cut. */
async function syncDirectory(directory: string): Promise<void> {
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
