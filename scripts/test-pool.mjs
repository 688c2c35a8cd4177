/**
 * The test file pool `npm test` runs: every file in its own Node process (what `node --test` does),
 * except small unit-test files, which run in groups, a group in one process
 * (scripts/test-groups.mjs decides which, scripts/test-group-entry.mjs runs them; HERALD_TEST_GROUPS=0
 * runs every file alone). N processes at once, longest first by the durations of an earlier run
 * (scripts/test-timings.json, a file not in it counts as NEW_FILE_S, a group as the sum of its
 * files plus GROUP_START_S), so one slow file does not start last and hold the run alone.
 * Each process's output is printed whole when it ends (never interleaved): every line of one that
 * failed, a one-line summary of one that passed (all of it with HERALD_TEST_VERBOSE=1). A process
 * that runs past FILE_TIMEOUT_MS is stopped by its process group and fails. Ends with the totals of
 * every node:test summary, the slowest processes, the failed files (in a group: the files whose
 * suite failed, or all of them when the process died), and (unless `record` is false: a rerun of a
 * few files in another setting) the durations written to test-artifacts/test-timings.json — a
 * file alone: its process's wall time; a file in a group: its own suite's time, without Node's
 * start and module loading. Copy it over scripts/test-timings.json after a full run to reorder.
 * A timings file that knows fewer than MIN_TIMED_SHARE of the files is reported: the order is
 * then mostly a guess.
 * Besides the files, the same pool takes `commands` (a step such as the type-check: a process that
 * is not a test file, its output printed whole when it fails, its time recorded under its name) and
 * `reruns` (files run once more with other environment variables, e.g. on a Redis Cluster; not
 * recorded, which would write over the main run's times): one pool keeps every slot busy, where a
 * step run before the files would hold one core alone and a rerun after them would wait for the
 * last file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planGroups } from './test-groups.mjs';

/** Seconds a file missing from the timings is assumed to take (started early, not last). */
const NEW_FILE_S = 20;
/** Seconds a command missing from the timings is assumed to take. */
const NEW_COMMAND_S = 60;
/** Seconds a group is assumed to take on top of its files' own: Node, tsx and module loading. */
const GROUP_START_S = 3;
/** A file's recorded time is at least this (test/test-timings.test.ts wants every figure > 0). */
const MIN_RECORDED_S = 0.1;
const GROUP_ENTRY = fileURLToPath(new URL('./test-group-entry.mjs', import.meta.url));
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

/**
 * The files of a group whose suite failed (the entry names each suite after its file), or all of
 * them when none did although the process failed (a crash).
 */
function failedInGroup(unit, output) {
  const failed = unit.files.filter(
    (file) => output.includes(`\n✖ ${file} (`) || output.startsWith(`✖ ${file} (`),
  );
  return failed.length > 0 ? failed : unit.files;
}

/** Seconds of a group file's own suite, from its `✔ FILE (12.3ms)` line (undefined if none). */
function suiteSeconds(file, output) {
  for (const line of output.split('\n')) {
    for (const mark of ['✔', '✖']) {
      const head = `${mark} ${file} (`;
      if (line.startsWith(head) && line.endsWith('ms)')) return Number(line.slice(head.length, -3)) / 1000;
    }
  }
  return undefined;
}

function runOne(root, unit, nodeArgs, env) {
  const file = unit.name;
  const args = unit.command
    ? unit.command.slice(1)
    : unit.files
      ? [...nodeArgs, GROUP_ENTRY, ...unit.files]
      : [...nodeArgs, unit.file ?? file];
  const executable = unit.command ? unit.command[0] : process.execPath;
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(executable, args, { cwd: root, env: unit.env ?? env, detached: true });
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
      const failedFiles = ok ? [] : unit.files ? failedInGroup(unit, output) : [file];
      resolve({ file, unit, ok, code, signal, seconds: (Date.now() - started) / 1000, output, failedFiles });
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

/** What ran besides the files, for the totals line: ", tsc and 2 reruns (on a Redis Cluster)". */
function extras(commands, reruns) {
  const parts = commands.map((c) => c.name);
  for (const { files, label } of reruns) {
    if (files.length > 0) parts.push(`${files.length} rerun${files.length === 1 ? '' : 's'} (${label})`);
  }
  return parts.length > 0 ? `, ${parts.join(' and ')}` : '';
}

/**
 * The units to run: every group of small files (unless HERALD_TEST_GROUPS=0), the rest alone, the
 * commands and the reruns; longest first.
 */
function unitsOf(root, files, timings, groups, commands, reruns) {
  const plan = groups ? planGroups(root, files, timings) : { groups: [], alone: files };
  const units = plan.alone.map((file) => ({ name: file, expected: timings[file] ?? NEW_FILE_S }));
  for (const { name, command } of commands) {
    units.push({ name, command, expected: timings[name] ?? NEW_COMMAND_S });
  }
  for (const { files: rerun, env, label } of reruns) {
    for (const file of rerun) {
      units.push({
        name: `${file} (${label})`,
        file,
        env,
        record: false,
        expected: timings[file] ?? NEW_FILE_S,
      });
    }
  }
  plan.groups.forEach((group, i) => {
    units.push({
      name: `group ${i + 1} of ${plan.groups.length} (${group.length} small files in one process)`,
      files: group,
      expected: GROUP_START_S + group.reduce((sum, file) => sum + timings[file], 0),
    });
  });
  return units.sort((a, b) => b.expected - a.expected);
}

/**
 * Runs `files` (paths relative to `root`) `concurrency` processes at a time with `nodeArgs` before
 * each file (or the group entry), and in the same pool `commands` ([{ name, command: [executable,
 * ...args] }]) and `reruns` ([{ files, env, label }]: each file again with `env`). Resolves true
 * when every file, command and rerun passed.
 */
export async function runTestFiles({
  root,
  files,
  concurrency,
  nodeArgs,
  env,
  title,
  record = true,
  commands = [],
  reruns = [],
}) {
  const timings = readTimings(root);
  const timed = files.filter((file) => timings[file] !== undefined).length;
  if (files.length >= 20 && timed < files.length * MIN_TIMED_SHARE) {
    process.stdout.write(
      `note: scripts/test-timings.json knows ${timed} of ${files.length} files, so the longest may start last; after this run copy test-artifacts/test-timings.json over it\n`,
    );
  }
  const queue = unitsOf(root, files, timings, process.env.HERALD_TEST_GROUPS !== '0', commands, reruns);
  const grouped = queue.filter((unit) => unit.files);
  const verbose = process.env.HERALD_TEST_VERBOSE === '1';
  const results = [];
  const started = Date.now();
  const worker = async () => {
    for (let unit = queue.shift(); unit !== undefined; unit = queue.shift()) {
      const result = await runOne(root, unit, nodeArgs, env);
      results.push(result);
      const counts = summaryOf(result.output);
      const tally = unit.command
        ? ''
        : `; ${counts.pass} pass, ${counts.fail} fail, ${counts.skipped} skipped`;
      const line = `${result.ok ? '✔' : '✖'} ${unit.name} (${result.seconds.toFixed(1)} s${tally})`;
      if (!result.ok || verbose) {
        const list = unit.files ? `\n${unit.files.map((file) => `  ${file}`).join('\n')}` : '';
        process.stdout.write(`\n${'─'.repeat(8)} ${unit.name}${list}\n${result.output}\n`);
      }
      process.stdout.write(`${line}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));

  const totals = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  for (const result of results) {
    const counts = summaryOf(result.output);
    for (const name of COUNTERS) totals[name] += counts[name];
  }
  const failed = results.filter((r) => !r.ok);
  const wall = (Date.now() - started) / 1000;
  const processSeconds = results.reduce((sum, r) => sum + r.seconds, 0);
  const inGroups = grouped.reduce((sum, unit) => sum + unit.files.length, 0);
  process.stdout.write(
    `\n== ${title}: ${files.length} files (${inGroups} of them in ${grouped.length} group${grouped.length === 1 ? '' : 's'})${extras(commands, reruns)} in ${wall.toFixed(0)} s (${processSeconds.toFixed(0)} s of process time, ${concurrency} at once)\n`,
  );
  for (const name of COUNTERS) process.stdout.write(`ℹ ${name} ${totals[name]}\n`);
  process.stdout.write('slowest:\n');
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, SLOWEST_SHOWN)) {
    process.stdout.write(`  ${r.seconds.toFixed(1).padStart(6)} s  ${r.file}\n`);
  }
  const failedFiles = failed.flatMap((r) => r.failedFiles.map((file) => ({ file, r })));
  if (failedFiles.length > 0) {
    process.stdout.write(`failed files (${failedFiles.length}):\n`);
    for (const { file, r } of failedFiles) {
      process.stdout.write(
        `  ✖ ${file} (exit ${r.code ?? r.signal}${r.unit.files ? `; ${r.unit.name}` : ''})\n`,
      );
    }
  }
  if (!record) return failed.length === 0;
  const artifacts = join(root, 'test-artifacts');
  mkdirSync(artifacts, { recursive: true });
  const measured = { ...timings };
  const round = (seconds) => Math.max(MIN_RECORDED_S, Math.round(seconds * 10) / 10);
  for (const r of results) {
    if (r.unit.record === false) continue;
    if (!r.unit.files) measured[r.file] = round(r.seconds);
    else
      for (const file of r.unit.files) measured[file] = round(suiteSeconds(file, r.output) ?? timings[file]);
  }
  const sorted = Object.fromEntries(Object.entries(measured).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(join(artifacts, 'test-timings.json'), `${JSON.stringify(sorted, null, 2)}\n`);
  return failed.length === 0;
}
