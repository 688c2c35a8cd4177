/**
 * A scratch Herald checkout where `npm start` ran, for the CLI tests: a package.json with
 * workspaces and the effective config scripts/start.mjs writes (`.herald/herald.yaml`, mode
 * 0600) naming `redisUrl`. Removed by the returned `remove`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function npmStartCheckout(
  redisUrl: string,
  extraConfig = '',
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-checkout-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'herald', workspaces: ['apps/*'] }));
  await mkdir(join(dir, '.herald'));
  await writeFile(join(dir, '.herald', 'herald.yaml'), `redis: { url: "${redisUrl}" }\n${extraConfig}`, {
    mode: 0o600,
  });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
