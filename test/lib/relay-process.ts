/**
 * A relay in a child process, for crash tests: spawnRelay writes the config to a temp JSON file,
 * starts `node --conditions=herald-source --import tsx relay-child.ts FILE` and resolves once the
 * child printed its listening addresses. Owns: the child and the temp dir. Guarantees: the child
 * is tracked by the test harness (SIGKILLed by PID if the test process exits first); kill() and
 * stop() resolve only after the child has exited; a start failure rejects with the stderr tail.
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

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const STDERR_TAIL_CHARS = 4_000;
/** Keep in step with relay-child.ts. */
const STARTED_KEY = 'heraldRelayStarted';
const LIB_DIR = dirname(fileURLToPath(import.meta.url));
const CHILD_SCRIPT = join(LIB_DIR, 'relay-child.ts');
/** The e2e workspace: tsx and the herald-source condition resolve from here. */
const E2E_DIR = dirname(LIB_DIR);

export interface RelayProcess {
  pid: number;
  smtp: { host: string; port: number };
  http?: { host: string; port: number };
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
  const child = spawn(
    process.execPath,
    ['--conditions=herald-source', '--import', 'tsx', CHILD_SCRIPT, configPath],
    {
      cwd: E2E_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  trackChild(child, 'herald relay (e2e child)');
  const exited = exitOf(child);
  // Drain stdout beyond the start line so the child can never block on a full pipe.
  child.stdout?.on('data', () => {});
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
    const addresses = await new Promise<{ smtp?: RelayProcess['smtp']; http?: RelayProcess['http'] }>(
      (resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`relay child did not start within ${START_TIMEOUT_MS} ms`)),
          START_TIMEOUT_MS,
        );
        const lines = createInterface({ input: child.stdout! });
        lines.on('line', (line) => {
          if (!line.includes(STARTED_KEY)) return;
          clearTimeout(timer);
          lines.close();
          resolve(
            (
              JSON.parse(line) as Record<string, { smtp?: RelayProcess['smtp']; http?: RelayProcess['http'] }>
            )[STARTED_KEY]!,
          );
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(
            new Error(
              `relay child exited (code ${child.exitCode}, signal ${child.signalCode}) before starting:\n${stderr}`,
            ),
          );
        });
      },
    );
    if (!addresses.smtp) throw new Error('relay child runs without the smtp role');
    return {
      pid: child.pid!,
      smtp: addresses.smtp,
      ...(addresses.http ? { http: addresses.http } : {}),
      kill,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
