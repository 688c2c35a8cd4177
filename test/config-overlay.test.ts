/**
 * deploy/config-overlay.mjs, the Kubernetes pods' init step: merges the ConfigMap's and the
 * Secret's halves of the config into one file the daemon reads, refusing a key set in both.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main as overlayMain } from '../deploy/config-overlay.mjs';
import { repoPath, writeRealSecrets } from './lib/deploy-files.js';

const BASE = repoPath('deploy', 'k8s', 'base');

test('config-overlay writes the merged file 0600 and refuses a key set in both files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'herald-overlay-'));
  const stderr = process.stderr.write;
  const said: string[] = [];
  process.stderr.write = ((text: string) => said.push(text) > 0) as typeof process.stderr.write;
  try {
    const secrets = await writeRealSecrets(dir);
    const out = join(dir, 'herald.json');
    const base = join(BASE, 'config', 'herald.yaml');
    assert.equal(overlayMain(['--out', out, '--node-id', 'pod-1', base, secrets], {}), 0);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const merged = JSON.parse(await readFile(out, 'utf8'));
    assert.equal(merged.node_id, 'pod-1');
    assert.equal(merged.smtp.listen, '0.0.0.0:2525', 'the ConfigMap half');
    assert.equal(merged.bounce.verp_secret.length, 32, 'the Secret half');
    const clash = join(dir, 'clash.yaml');
    await writeFile(clash, 'smtp:\n  listen: "0.0.0.0:25"\n');
    const again = join(dir, 'again.json');
    assert.equal(overlayMain(['--out', again, base, secrets, clash], {}), 1);
    assert.match(
      said.join(''),
      /herald: HERALD_CONFIG_INVALID: smtp\.listen: .*clash\.yaml: set in .*herald\.yaml too/,
    );
    await assert.rejects(stat(again), /ENOENT/);
  } finally {
    process.stderr.write = stderr;
    await rm(dir, { recursive: true, force: true });
  }
});
