import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHECKER = join(ROOT, 'scripts', 'check-imports.mjs');

/** Internal modules of a "depends on" cell: the names before `;`, without `(…)` remarks. */
function internalDeps(cell: string): string[] {
  const before = cell.split(';')[0]!.replace(/\([^)]*\)/g, '');
  return before
    .split(',')
    .map((d) => d.trim().replace(/`/g, ''))
    .filter((d) => d && d !== '—' && d !== 'all of the above')
    .sort();
}

function run(root?: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [CHECKER, ...(root ? ['--root', root] : []), ...args], {
    encoding: 'utf8',
  });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

describe('scripts/check-imports.mjs: the module map cannot drift silently', () => {
  let root: string;
  const write = async (path: string, text: string) => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'herald-imports-'));
    const src = 'packages/delivery-core/src';
    await write(`${src}/alpha/index.ts`, "export { a } from './a.js';\n");
    await write(`${src}/alpha/a.ts`, "import { b } from '../beta/index.js';\nexport const a = b;\n");
    await write(`${src}/beta/index.ts`, "export { b } from './b.js';\n");
    // Reaches into alpha's internals and closes a cycle beta → alpha → beta.
    await write(
      `${src}/beta/b.ts`,
      "// import { x } from '../gamma/x.js';\nimport { a } from '../alpha/a.js';\nexport const b = 1; void a;\n",
    );
    await write(`${src}/gamma/index.ts`, "import type { Root } from '../root.js';\nexport type G = Root;\n");
    await write(`${src}/root.ts`, 'export type Root = 1;\n');
    await write(
      'apps/one/src/main.ts',
      "import { a } from '@herald/delivery-core/alpha/a';\nimport { b } from '@herald/delivery-core/beta';\nvoid [a, b];\n",
    );
    await write(
      'test/e2e.test.ts',
      "import { a } from '../packages/delivery-core/src/alpha/index.js';\nvoid a;\n",
    );
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("Herald's own tree passes", () => {
    const { status, err } = run();
    assert.equal(status, 0, err);
  });

  test('names each violation with its file and the import to use instead', () => {
    const { status, err } = run(root);
    assert.equal(status, 1);
    const lines = err.split('\n').filter((l) => l.startsWith('  '));
    assert.ok(
      lines.some((l) => l.includes('beta/b.ts: imports ../alpha/a.js; import ../alpha/index.js instead')),
      err,
    );
    assert.ok(
      lines.some((l) => l.includes('gamma/index.ts: imports ../root.js, a top-level file of src/')),
      err,
    );
    assert.ok(
      lines.some((l) => l.includes('apps/one/src/main.ts: imports @herald/delivery-core/alpha/a;')),
      err,
    );
    assert.ok(
      lines.some((l) => l.includes('test/e2e.test.ts: imports ../packages/delivery-core/src/alpha/index.js')),
      err,
    );
    assert.ok(
      lines.some((l) => /import cycle between folders: alpha → beta .*, beta → alpha/.test(l)),
      err,
    );
    assert.ok(!err.includes('gamma/x.js'), 'an import in a comment is not an import');
    assert.equal(lines.length, 5, err);
  });

  test('--graph prints each folder with the folders and packages it depends on', () => {
    const { out } = run(root, '--graph');
    assert.match(out, /^alpha: beta$/m);
    assert.match(out, /^beta: alpha$/m);
  });

  test("ARCHITECTURE.md's module map has a row per folder whose depends-on is the import graph's", () => {
    const graph = new Map(
      run(undefined, '--graph')
        .out.trim()
        .split('\n')
        .map((line) => {
          const [folder, deps] = line.split(': ') as [string, string];
          return [folder, internalDeps(deps)] as const;
        }),
    );
    const map = new Map<string, string[]>();
    for (const line of readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8').split('\n')) {
      const row = /^\| `([a-z-]+)`\s*\|.*\|([^|]*)\|\s*$/.exec(line);
      if (row && graph.has(row[1]!)) map.set(row[1]!, internalDeps(row[2]!));
    }
    for (const [folder, deps] of graph) {
      assert.ok(map.has(folder), `ARCHITECTURE.md's module map has no row for ${folder}/`);
      assert.deepEqual(
        map.get(folder),
        deps,
        `depends-on of ${folder} (node scripts/check-imports.mjs --graph)`,
      );
    }
  });
});
