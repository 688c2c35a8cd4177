/**
 * A relay in a child process, for crash tests: spawnRelay writes the config to a temp JSON file,
 * starts `node relay-child.mjs FILE` (from the sources under tsx, or the build with
 * HERALD_TEST_CHILDREN=dist: children.ts) and resolves once the child printed its listening
 * addresses. Owns: the child and the temp dir. Guarantees: the child
 * is tracked by the test harness (SIGKILLed by PID if the test process exits first); kill() and
 * stop() resolve only after the child has exited; a start failure rejects with the stderr tail.
 * The child runs the relay's real entry point (`runRelay`: SIGTERM stops it, SIGHUP reloads the
 * config file, which `configPath` names so a test can rewrite it). `output()` is the tail of
 * its stdout (pino's JSON log lines).
 * Needs injected: a config input (as in a config file).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HeraldConfigInput } from '@herald/delivery-core';
import { trackChild, untrackChild } from '@herald/test-harness';
import { scriptArgs } from './children.js';

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const STDERR_TAIL_CHARS = 4_000;
/** The stdout kept for output(): the last log lines. */
const STDOUT_TAIL_CHARS = 200_000;
/** Keep in step with relay-child.mjs. */
const STARTED_KEY = 'heraldRelayStarted';
const LIB_DIR = dirname(fileURLToPath(import.meta.url));
const CHILD_SCRIPT = join(LIB_DIR, 'relay-child.mjs');
/** The e2e workspace: tsx, the herald-source condition and the @herald packages resolve from here. */
const E2E_DIR = dirname(LIB_DIR);

export interface RelayProcess {
  pid: number;
  smtp: { host: string; port: number };
  http?: { host: string; port: number };
  api?: { host: string; port: number };
  /** The config file the child read (JSON): rewrite it, then SIGHUP to reload. */
  configPath: string;
  /** The tail of the child's stdout (its log lines). */
  output(): string;
  /** Send `signal` (default SIGKILL: a crash) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (graceful), SIGKILL if it does not exit in time; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

export async function spawnRelay(config: HeraldConfigInput): Promise<RelayProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-e2e-relay-'));
  const configPath = join(dir, 'herald.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [...scriptArgs(CHILD_SCRIPT), configPath], {
    cwd: E2E_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child, 'herald relay (e2e child)');
  const exited = exitOf(child);
  // Drain stdout beyond the start line so the child can never block on a full pipe; keep its tail.
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString()).slice(-STDOUT_TAIL_CHARS);
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS);
  });

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, signal);
    await exited;
  };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const timer = setTimeout(() => void kill('SIGKILL'), STOP_TIMEOUT_MS);
      try {
        await kill('SIGTERM');
      } finally {
        clearTimeout(timer);
        if (child.pid !== undefined) untrackChild(child.pid);
        await rm(dir, { recursive: true, force: true });
      }
    })());

  try {
    type Started = { smtp?: RelayProcess['smtp']; http?: RelayProcess['http']; api?: RelayProcess['api'] };
    const addresses = await new Promise<Started>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`relay child did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.includes(STARTED_KEY)) return;
        clearTimeout(timer);
        lines.close();
        // readline's close pauses its input: keep draining (and keeping) stdout after it.
        child.stdout?.resume();
        resolve((JSON.parse(line) as Record<string, Started>)[STARTED_KEY]!);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(
          new Error(
            `relay child exited (code ${child.exitCode}, signal ${child.signalCode}) before starting:\n${stderr}`,
          ),
        );
      });
    });
    if (!addresses.smtp) throw new Error('relay child runs without the smtp role');
    return {
      pid: child.pid!,
      smtp: addresses.smtp,
      ...(addresses.http ? { http: addresses.http } : {}),
      ...(addresses.api ? { api: addresses.api } : {}),
      configPath,
      output: () => stdout,
      kill,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
