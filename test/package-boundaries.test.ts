/**
 * What each app may depend on at run time: the bounce-processor imports nothing from the relay
 * (the listener parts they share are in @herald/smtp-listener), and the CLI's runtime carries no
 * test code (@herald/test-harness is only a dev dependency; `herald bench` starts its private
 * Redis with @herald/local-redis). Read from the package manifests and the source files.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:from|import)\s*\(?\s*'([^']+)'/g;

function manifest(app: string): { dependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(ROOT, app, 'package.json'), 'utf8'));
}

/** Every module specifier imported by a source file under `dir` (recursively), with its file. */
function imports(dir: string): { file: string; specifier: string }[] {
  const found: { file: string; specifier: string }[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT))
      found.push({ file: file.slice(ROOT.length + 1), specifier: match[1]! });
  }
  return found;
}

describe('package boundaries', () => {
  it('the bounce-processor neither depends on nor imports @herald/relay', () => {
    assert.equal(manifest('apps/bounce-processor').dependencies?.['@herald/relay'], undefined);
    assert.deepEqual(
      imports('apps/bounce-processor/src').filter((i) => i.specifier.startsWith('@herald/relay')),
      [],
    );
  });

  it('the CLI carries no test code at run time', () => {
    assert.equal(manifest('apps/cli').dependencies?.['@herald/test-harness'], undefined);
    assert.deepEqual(
      imports('apps/cli/src').filter((i) => i.specifier.startsWith('@herald/test-harness')),
      [],
    );
  });
});
