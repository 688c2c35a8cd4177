/**
 * Which test files `npm test` runs together in one Node process (scripts/test-group-entry.mjs),
 * and which alone. Most of a small unit-test file's time is Node and tsx starting and loading the
 * modules under test; a group pays that once. A file joins a group only when all of these hold:
 * - scripts/test-timings.json knows it and it took under SMALL_FILE_S (a new file runs alone once);
 * - it does not carry the marker `herald-test: own-process` (a comment anywhere in the file);
 * - neither it nor a test helper it imports by a relative path (fixtures, test/lib; not the code
 *   under test in src/) matches a DENY rule: process handlers, exit or cwd; environment writes;
 *   fake timers or module mocks; child processes or threads; sockets, servers and the harness's
 *   daemons (ports); writes to globalThis.
 * The group entry then checks at run time that each file's tests left the process as they found
 * it (environment, process listeners, timer globals, global names, open handles), so a file the
 * rules let through by mistake fails, named, instead of disturbing its neighbours.
 * Groups are the eligible files in path order (a package's files share their modules), at most
 * GROUP_MAX_FILES each.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** A file that took this long (seconds, scripts/test-timings.json) is not small: it runs alone. */
export const SMALL_FILE_S = 3;
/** Files per group: enough to pay Node's start once for many, few enough to spread over workers. */
export const GROUP_MAX_FILES = 20;
/** The marker that keeps a file in its own process whatever the rules say. */
export const OWN_PROCESS_MARKER = /herald-test:\s*own-process/;

/** Rules that keep a file alone: [reason, pattern over its text and its test helpers' text]. */
export const DENY = [
  [
    'process handlers, exit, cwd or umask',
    /\bprocess\.(on|once|off|addListener|prependListener|removeListener|removeAllListeners|exit|exitCode|chdir|umask|setUncaughtExceptionCaptureCallback)\b/,
  ],
  [
    'environment writes',
    /process\.env(\.\w+|\[[^\]]+\])\s*(=(?!=)|\+=|\?\?=|\|\|=)|delete\s+process\.env|Object\.assign\(\s*process\.env/,
  ],
  ['fake timers or module mocks', /\bmock\.(timers|module)\b|useFakeTimers/],
  ['child processes or threads', /node:(child_process|worker_threads|cluster)\b|\bnew Worker\(/],
  [
    'sockets, servers, ports or daemons',
    /node:(net|dgram|http|https|http2|tls)\b|\.listen\(|createServer\(|\b(startRedis|startRedisCluster|startSmtpSink|startDnsServer|startRspamd|startValidatingResolver|startReceiver|startParts|startStack|closedPort|freePort|createRelay|runRelay|createHerald|createApiServer|connectRedis)\b|\bnew (Redis|Cluster)\(/,
  ],
  ['writes to globalThis', /\bglobalThis(\.\w+|\[[^\]]+\])\s*=(?!=)/],
];

const RELATIVE_IMPORT = /\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The file and the test helpers it imports by relative path (recursively), not src/ modules. */
function helperTexts(path, seen = new Set()) {
  if (seen.has(path) || !existsSync(path)) return [];
  seen.add(path);
  const text = readFileSync(path, 'utf8');
  const texts = [text];
  for (const match of text.matchAll(RELATIVE_IMPORT)) {
    const spec = match[1] ?? match[2];
    const target = resolve(dirname(path), spec.replace(/\.js$/, '.ts'));
    if (target.split('/').includes('src')) continue;
    texts.push(...helperTexts(existsSync(target) ? target : target.replace(/\.ts$/, '.mjs'), seen));
  }
  return texts;
}

/** Why `file` (relative to `root`) runs alone, or null when it may join a group. */
export function aloneReason(root, file, timings) {
  const seconds = timings[file];
  if (seconds === undefined) return 'not in scripts/test-timings.json';
  if (seconds >= SMALL_FILE_S) return `took ${seconds} s`;
  const texts = helperTexts(join(root, file));
  if (texts.length === 0) return 'not found';
  if (OWN_PROCESS_MARKER.test(texts[0])) return 'marked herald-test: own-process';
  for (const [reason, pattern] of DENY) if (texts.some((text) => pattern.test(text))) return reason;
  return null;
}

/**
 * Splits `files` into { groups: [[file, …], …], alone: [file, …] }. A group of one file is run
 * alone (nothing to share).
 */
export function planGroups(root, files, timings) {
  const eligible = files.filter((file) => aloneReason(root, file, timings) === null).sort();
  const groups = [];
  for (let i = 0; i < eligible.length; i += GROUP_MAX_FILES)
    groups.push(eligible.slice(i, i + GROUP_MAX_FILES));
  const grouped = new Set(groups.filter((g) => g.length > 1).flat());
  return {
    groups: groups.filter((g) => g.length > 1),
    alone: files.filter((file) => !grouped.has(file)),
  };
}

/** `node scripts/test-groups.mjs [root]`: prints the plan of every test file (with reasons). */
if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const root = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..'));
  const timings = JSON.parse(readFileSync(join(root, 'scripts', 'test-timings.json'), 'utf8'));
  const files = Object.keys(timings).filter((file) => existsSync(join(root, file)));
  const { groups } = planGroups(root, files, timings);
  groups.forEach((group, i) => {
    process.stdout.write(`group ${i + 1} (${group.length} files)\n`);
    for (const file of group) process.stdout.write(`  ${file}\n`);
  });
  for (const file of files) {
    const reason = aloneReason(root, file, timings);
    if (reason && !reason.startsWith('took'))
      process.stdout.write(`alone: ${relative(root, join(root, file))}: ${reason}\n`);
  }
}
