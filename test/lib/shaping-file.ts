/** A shaping file in a fresh temp folder, removed when the test ends. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function writeShapingFile(
  defer: (cleanup: () => Promise<unknown>) => void,
  yaml: string,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-shaping-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'shaping.yaml');
  await writeFile(file, yaml);
  return file;
}
