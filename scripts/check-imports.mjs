#!/usr/bin/env node
/**
 * The import-graph check `npm test` runs next to lint: the module map in ARCHITECTURE.md stays
 * true because the code cannot drift from its shape silently. Plain JS, no build, no
 * dependencies; reads the sources as text (import / export … from / import() specifiers).
 *
 * Rules (folder-based; no file list to keep up to date):
 * 1. A file of `packages/delivery-core/src/<folder>/` (or a file at the top of src/) that imports
 *    another folder imports that folder's `index.ts`, never one of its other files.
 * 2. No file of a folder imports the top-level files of src/ (the composition root).
 * 3. Outside delivery-core (apps, the test harness, end-to-end tests) code imports only
 *    `@herald/delivery-core` or `@herald/delivery-core/<folder>`, never a path into its src/ or
 *    dist/ (its test fixtures may be shared).
 * 4. No import cycles between folders (reported with the files that close each cycle).
 *
 * `node scripts/check-imports.mjs` exits 1 listing every violation;
 * `--graph` prints each folder's dependencies (other folders; packages) for the module map.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const rootArg = process.argv.indexOf('--root');
/** The repository (`--root <dir>` checks another tree: the checker's own test uses one). */
const ROOT =
  rootArg > 0 ? resolve(process.argv[rootArg + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORE_SRC = join(ROOT, 'packages', 'delivery-core', 'src');
/** delivery-core's code as sources and as built (its test fixtures may be shared). */
const CORE_CODE = [CORE_SRC, join(ROOT, 'packages', 'delivery-core', 'dist')];
const CORE_PACKAGE = '@herald/delivery-core';
/** Where code outside delivery-core lives (tests of delivery-core itself may read its internals). */
const OUTSIDE_DIRS = ['apps', 'packages/test-harness', 'test'];
const SOURCE_FILE = /\.(?:ts|mts|cts|js|mjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.turbo', 'coverage']);

const SPECIFIERS = [
  /(?:^|[\n;}])\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[\n;}])\s*import\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (SOURCE_FILE.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Import specifiers of a file, comments removed first (block and line comments). */
export function specifiersOf(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const found = new Set();
  for (const re of SPECIFIERS) for (const m of code.matchAll(re)) found.add(m[1]);
  return [...found];
}

/** The folder of a delivery-core source file: its first directory under src/, or '' at the top. */
function folderOf(file) {
  const parts = relative(CORE_SRC, file).split(sep);
  return parts.length > 1 ? parts[0] : '';
}

function isIndex(file) {
  return (
    /^index\.(?:ts|js)$/.test(file.split(sep).pop() ?? '') && relative(CORE_SRC, file).split(sep).length === 2
  );
}

/** The package name of a bare specifier (`@scope/name/x` → `@scope/name`; `node:fs` stays). */
function packageOf(spec) {
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function checkCore(problems, graph) {
  const edges = new Map(); // "a b" -> example file
  for (const file of sourceFiles(CORE_SRC)) {
    const from = folderOf(file);
    const shown = relative(ROOT, file);
    if (from !== '' && !graph.has(from)) graph.set(from, { folders: new Set(), packages: new Set() });
    for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) {
        if (from !== '') graph.get(from).packages.add(packageOf(spec));
        continue;
      }
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(CORE_SRC + sep)) {
        problems.push(`${shown}: imports ${spec}, outside delivery-core's src/`);
        continue;
      }
      const to = folderOf(target);
      if (to === from) continue;
      if (to === '') {
        problems.push(`${shown}: imports ${spec}, a top-level file of src/ (the composition root)`);
        continue;
      }
      if (!isIndex(target)) {
        const entry = relative(dirname(file), join(CORE_SRC, to, 'index.js'))
          .split(sep)
          .join('/');
        problems.push(
          `${shown}: imports ${spec}; import ${entry.startsWith('.') ? entry : `./${entry}`} instead`,
        );
      }
      if (from !== '') {
        graph.get(from).folders.add(to);
        const key = `${from} ${to}`;
        if (!edges.has(key)) edges.set(key, shown);
      }
    }
  }
  for (const cycle of cyclesOf(graph)) {
    const steps = cycle.map((a, i) => {
      const b = cycle[(i + 1) % cycle.length];
      return `${a} → ${b} (${edges.get(`${a} ${b}`)})`;
    });
    problems.push(`import cycle between folders: ${steps.join(', ')}`);
  }
}

/** One cycle per strongly connected component of more than one folder (Tarjan, then a path). */
function cyclesOf(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.folders ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(new Set(component));
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => {
    const start = [...component].sort()[0];
    // Shortest way back to `start` inside the component (breadth first).
    const previous = new Map([[start, undefined]]);
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift();
      for (const w of [...(graph.get(v)?.folders ?? [])].sort()) {
        if (!component.has(w)) continue;
        if (w === start) {
          const path = [];
          for (let u = v; u !== undefined; u = previous.get(u)) path.unshift(u);
          return path;
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...component];
  });
}

function checkOutside(problems) {
  for (const dir of OUTSIDE_DIRS) {
    for (const file of sourceFiles(join(ROOT, dir))) {
      const shown = relative(ROOT, file);
      for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
        if (spec === CORE_PACKAGE) continue;
        if (spec.startsWith(`${CORE_PACKAGE}/`)) {
          const rest = spec.slice(CORE_PACKAGE.length + 1);
          if (rest.includes('/') || rest === '' || !existsSync(join(CORE_SRC, rest, 'index.ts')))
            problems.push(`${shown}: imports ${spec}; use ${CORE_PACKAGE} or ${CORE_PACKAGE}/<folder>`);
          continue;
        }
        const target = spec.startsWith('.') ? resolve(dirname(file), spec) : '';
        if (CORE_CODE.some((dir) => target.startsWith(dir + sep)))
          problems.push(`${shown}: imports ${spec}, inside delivery-core; use ${CORE_PACKAGE}/<folder>`);
      }
    }
  }
}

function main() {
  const problems = [];
  const graph = new Map();
  checkCore(problems, graph);
  checkOutside(problems);
  if (process.argv.includes('--graph')) {
    for (const [folder, deps] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
      const folders = [...deps.folders].sort().join(', ') || '—';
      const packages = [...deps.packages].sort().join(', ');
      process.stdout.write(`${folder}: ${folders}${packages ? `; ${packages}` : ''}\n`);
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`herald: ${problems.length} import rule violation(s):\n`);
    for (const p of problems) process.stderr.write(`  ${p}\n`);
    process.exit(1);
  }
  if (!process.argv.includes('--graph'))
    process.stderr.write('imports: folders import each other through index.ts; no cycles\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
