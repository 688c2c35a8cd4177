/**
 * Runs a group of small test files (scripts/test-groups.mjs) in one Node process:
 * `node --conditions=herald-source --import tsx --test-reporter=spec scripts/test-group-entry.mjs
 * FILE…` (paths relative to the working directory). Each file is imported inside a node:test
 * suite named after its path, so its top-level tests and hooks belong to that suite: hooks never
 * reach another file's tests, and a failure is reported under the file (and in the failing tests'
 * list as `test at FILE:LINE`). Suites run one after the other, as files in order would.
 * Guarantees: every suite checks, from its first hook to its last, that its tests left the
 * process as they found it — environment, process listeners, timer globals, global names, cwd,
 * open handles other than timers (process.exitCode is node:test's: a failed test sets it) — and fails naming what changed (the file then belongs alone: mark
 * it `herald-test: own-process`); a final check covers the whole run (module top levels too).
 */
import { after, before, describe } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

/** Event-loop turns given to handles closed by a file's last hook before they count as left open. */
const SETTLE_TURNS = 5;
const TIMER_GLOBALS = [
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'queueMicrotask',
];
/** Handle kinds that are not a file's business to close (timers: --test-force-exit ends the run). */
const IGNORED_HANDLES = new Set(['Timeout', 'Immediate', 'TTYWrap', 'PipeWrap', 'FSReqCallback']);

/** Changes the final check leaves to node:test and module loading (see there). */
const ROOT_OWN = ['new global', "process 'exit' listeners"];

function snapshot() {
  const handles = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (!IGNORED_HANDLES.has(kind)) handles[kind] = (handles[kind] ?? 0) + 1;
  }
  return {
    env: { ...process.env },
    listeners: Object.fromEntries(
      process.eventNames().map((name) => [String(name), process.listenerCount(name)]),
    ),
    timers: Object.fromEntries(TIMER_GLOBALS.map((name) => [name, globalThis[name]])),
    dateNow: Date.now,
    Date: globalThis.Date,
    globals: new Set(Object.getOwnPropertyNames(globalThis)),
    handles,
    cwd: process.cwd(),
  };
}

/** What differs between two snapshots, as short phrases (empty when nothing). */
function changes(was, now) {
  const out = [];
  for (const key of new Set([...Object.keys(was.env), ...Object.keys(now.env)])) {
    if (was.env[key] !== now.env[key]) out.push(`process.env.${key}`);
  }
  for (const name of new Set([...Object.keys(was.listeners), ...Object.keys(now.listeners)])) {
    if ((was.listeners[name] ?? 0) !== (now.listeners[name] ?? 0)) out.push(`process '${name}' listeners`);
  }
  for (const name of TIMER_GLOBALS) if (was.timers[name] !== now.timers[name]) out.push(`globalThis.${name}`);
  if (was.dateNow !== now.dateNow || was.Date !== now.Date) out.push('Date (fake timers?)');
  for (const name of now.globals) if (!was.globals.has(name)) out.push(`new global ${name}`);
  for (const kind of Object.keys(now.handles)) {
    if (now.handles[kind] > (was.handles[kind] ?? 0))
      out.push(`${now.handles[kind] - (was.handles[kind] ?? 0)} open ${kind}`);
  }
  if (was.cwd !== now.cwd) out.push('process.cwd()');
  return out;
}

async function settled() {
  for (let i = 0; i < SETTLE_TURNS; i++) await nextTurn();
  return snapshot();
}

const files = process.argv.slice(2);
const imports = [];
/** A suite has named what its file changed: the final check would only repeat it. */
let flagged = false;
for (const file of files) {
  describe(file, () => {
    let was;
    // Registered before the file's own hooks, so it sees the process before any of them ran.
    before(() => {
      was = snapshot();
    });
    const check = async () => {
      const changed = changes(was, await settled());
      if (changed.length > 0) {
        flagged = true;
        throw new Error(
          `${file} changed process state its group shares (${changed.join(', ')}): restore it, or keep the file alone with a comment "herald-test: own-process"`,
        );
      }
    };
    // The suite is built once every file is imported, so no file's module top level runs while
    // another file's tests do (what it changes is the final check's, not a neighbour's). The
    // check is registered after the file's own after hooks, so it runs once they cleaned up.
    imports.push(import(pathToFileURL(file).href));
    return imports.at(-1).then(() => {
      after(check);
      return allImported;
    });
  });
}
const allImported = Promise.all(imports);
// Taken after node:test set itself up (at the first describe) and before any file is evaluated
// (import() never evaluates synchronously).
const atStart = snapshot();
after(async () => {
  if (flagged) return;
  // node:test itself adds an 'exit' listener when it runs; imported modules may define globals.
  const changed = changes(atStart, await settled()).filter((c) => !ROOT_OWN.some((own) => c.startsWith(own)));
  if (changed.length > 0) {
    throw new Error(
      `a module of this group of ${files.length} files changed process state while loading (${changed.join(', ')}): run them with HERALD_TEST_GROUPS=0 to find it`,
    );
  }
});
