/**
 * The test file pool `npm test` runs: every file in its own Node process (what `node --test` does),
 * N at once, longest first by the durations of an earlier run (scripts/test-timings.json, a file
 * not in it counts as NEW_FILE_S), so one slow file does not start last and hold the run alone.
 * Each file's output is printed whole when it ends (never interleaved): every line of a file that
 * failed, a one-line summary of one that passed (all of it with HERALD_TEST_VERBOSE=1). A file that
 * runs past FILE_TIMEOUT_MS is stopped by its process group and fails. Ends with the totals of
 * every file's node:test summary, the slowest files, and (unless `record` is false: a rerun of a
 * few files in another setting) the durations written to test-artifacts/test-timings.json — copy
 * it over scripts/test-timings.json after a full run to reorder. A timings file that knows fewer
 * than MIN_TIMED_SHARE of the files is reported: the order is then mostly a guess.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Seconds a file missing from the timings is assumed to take (started early, not last). */
const NEW_FILE_S = 20;
/** A file still running after this is stopped and counted as failed (a hang, not a slow test). */
const FILE_TIMEOUT_MS = 10 * 60_000;
/** Grace between SIGTERM and SIGKILL of a stopped file's process group. */
const KILL_GRACE_MS = 5_000;
/** Slowest files listed at the end. */
const SLOWEST_SHOWN = 12;
/** Share of the files run that the timings should know before the order is trusted. */
const MIN_TIMED_SHARE = 0.8;
const COUNTERS = ['tests', 'pass', 'fail', 'skipped', 'cancelled', 'todo'];

function readTimings(root) {
  const path = join(root, 'scripts', 'test-timings.json');
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}

/** Counters of node:test's spec summary lines (`ℹ tests 12`) in one file's output. */
function summaryOf(output) {
  const counts = {};
  for (const name of COUNTERS) {
    const match = output.match(new RegExp(`^ℹ ${name} (\\d+)$`, 'm'));
    counts[name] = match ? Number(match[1]) : 0;
  }
  return counts;
}

function runOne(root, file, nodeArgs, env) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [...nodeArgs, file], { cwd: root, env, detached: true });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    let timedOut = false;
    const stopGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group has already exited
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stopGroup('SIGTERM');
      setTimeout(() => stopGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, FILE_TIMEOUT_MS);
    running.add(stopGroup);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(stopGroup);
      // Whatever the file left behind in its group (a fixture's daemon) goes with it.
      stopGroup('SIGKILL');
      let output = Buffer.concat(chunks).toString('utf8');
      if (timedOut) output += `\n✖ ${file}: stopped after ${FILE_TIMEOUT_MS / 60_000} minutes (hang)\n`;
      const ok = code === 0 && !timedOut;
      resolve({ file, ok, code, signal, seconds: (Date.now() - started) / 1000, output });
    });
  });
}

/** Process groups of the files running now, stopped when the pool itself is interrupted. */
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const stop of running) stop('SIGKILL');
    process.exit(130);
  });
}

/**
 * Runs `files` (paths relative to `root`) `concurrency` at a time with `nodeArgs` before each file.
 * Resolves true when every file passed.
 */
export async function runTestFiles({ root, files, concurrency, nodeArgs, env, title, record = true }) {
  const timings = readTimings(root);
  const timed = files.filter((file) => timings[file] !== undefined).length;
  if (files.length >= 20 && timed < files.length * MIN_TIMED_SHARE) {
    process.stdout.write(
      `note: scripts/test-timings.json knows ${timed} of ${files.length} files, so the longest may start last; after this run copy test-artifacts/test-timings.json over it\n`,
    );
  }
  const queue = [...files].sort((a, b) => (timings[b] ?? NEW_FILE_S) - (timings[a] ?? NEW_FILE_S));
  const verbose = process.env.HERALD_TEST_VERBOSE === '1';
  const results = [];
  const started = Date.now();
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const result = await runOne(root, file, nodeArgs, env);
      results.push(result);
      const counts = summaryOf(result.output);
      const line = `${result.ok ? '✔' : '✖'} ${file} (${result.seconds.toFixed(1)} s; ${counts.pass} pass, ${counts.fail} fail, ${counts.skipped} skipped)`;
      if (!result.ok || verbose) process.stdout.write(`\n${'─'.repeat(8)} ${file}\n${result.output}\n`);
      process.stdout.write(`${line}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

  const totals = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  for (const result of results) {
    const counts = summaryOf(result.output);
    for (const name of COUNTERS) totals[name] += counts[name];
  }
  const failed = results.filter((r) => !r.ok);
  const wall = (Date.now() - started) / 1000;
  const fileSeconds = results.reduce((sum, r) => sum + r.seconds, 0);
  process.stdout.write(
    `\n== ${title}: ${results.length} files in ${wall.toFixed(0)} s (${fileSeconds.toFixed(0)} s of file time, ${concurrency} at once)\n`,
  );
  for (const name of COUNTERS) process.stdout.write(`ℹ ${name} ${totals[name]}\n`);
  process.stdout.write('slowest files:\n');
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, SLOWEST_SHOWN)) {
    process.stdout.write(`  ${r.seconds.toFixed(1).padStart(6)} s  ${r.file}\n`);
  }
  if (failed.length > 0) {
    process.stdout.write(`failed files (${failed.length}):\n`);
    for (const r of failed) process.stdout.write(`  ✖ ${r.file} (exit ${r.code ?? r.signal})\n`);
  }
  if (!record) return failed.length === 0;
  const artifacts = join(root, 'test-artifacts');
  mkdirSync(artifacts, { recursive: true });
  const measured = { ...timings };
  for (const r of results) measured[r.file] = Math.round(r.seconds * 10) / 10;
  const sorted = Object.fromEntries(Object.entries(measured).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(join(artifacts, 'test-timings.json'), `${JSON.stringify(sorted, null, 2)}\n`);
  return failed.length === 0;
}
