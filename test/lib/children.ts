/**
 * How an end-to-end test starts Herald in a child process: the Node arguments before the child's
 * own. From the TypeScript sources by default (`--conditions=herald-source --import tsx` and the
 * .ts entry), so a developer who edits a source and runs one file with `node --test` tests that
 * source. From the build when HERALD_TEST_CHILDREN=dist, which `npm test` (scripts/test.mjs) sets
 * after it has built every workspace: plain `node` on the dist entry, or on a plain-JS test script
 * whose `@herald/*` imports then resolve to each package's dist (about 0.4 s less per start, and
 * no tsx hooks in the child's delivery threads).
 * Guarantees: a dist entry that is missing throws, naming the build command (never a silent
 * fallback to the sources). Needs injected: the entry's source and dist paths.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable, and the value of it, that make children run the build. */
export const CHILDREN_ENV = 'HERALD_TEST_CHILDREN';
export const CHILDREN_FROM_DIST = 'dist';

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT = join(E2E_DIR, '..');
const SOURCE_ARGS = ['--conditions=herald-source', '--import', 'tsx'];

/** A child's entry: the .ts source, and either its built .js or a plain-JS script run as is. */
export interface ChildEntry {
  source: string;
  dist: string;
}

/** The `herald` command: apps/cli/src/main.ts or apps/cli/dist/main.js (both run main on argv). */
export const CLI_ENTRY: ChildEntry = {
  source: join(ROOT, 'apps', 'cli', 'src', 'main.ts'),
  dist: join(ROOT, 'apps', 'cli', 'dist', 'main.js'),
};

/** The other accepted value: the sources (also when unset). */
export const CHILDREN_FROM_SOURCE = 'source';

/** True for `dist`, false for `source` or unset; any other value throws (a typo is not a choice). */
export function childrenFromDist(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[CHILDREN_ENV];
  if (value === undefined || value === '' || value === CHILDREN_FROM_SOURCE) return false;
  if (value === CHILDREN_FROM_DIST) return true;
  throw new Error(`${CHILDREN_ENV}=${value}: expected ${CHILDREN_FROM_DIST} or ${CHILDREN_FROM_SOURCE}`);
}

/** `[...node flags, entry]` for `spawn(process.execPath, [...childArgs(entry), ...args])`. */
export function childArgs(entry: ChildEntry, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!childrenFromDist(env)) return [...SOURCE_ARGS, entry.source];
  if (!existsSync(entry.dist)) {
    throw new Error(`${CHILDREN_ENV}=dist but ${entry.dist} is missing: run \`npm run build\` first`);
  }
  return [entry.dist];
}

/**
 * A plain-JS test script (.mjs) importing `@herald/*` packages: under tsx with the herald-source
 * condition (the packages' sources), or plain node (their dist) with HERALD_TEST_CHILDREN=dist.
 */
export function scriptArgs(script: string, env: NodeJS.ProcessEnv = process.env): string[] {
  return childArgs({ source: script, dist: script }, env);
}
