/**
 * Runs the `herald` CLI from source in a child process, as an operator would:
 * `node --conditions=herald-source --import tsx apps/cli/src/main.ts ARGS`.
 * Owns: the child. Guarantees: resolves with exit code, signal, stdout and stderr; a child still
 * running after `timeoutMs` is SIGKILLed by PID (and reported with timedOut: true).
 * Needs injected: the arguments and optionally the environment.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild, untrackChild } from '@herald/test-harness';

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const CLI_MAIN = join(E2E_DIR, '..', 'apps', 'cli', 'src', 'main.ts');
/** A hang guard, not a speed check: a busy 2-core machine has needed 30 s to start the CLI from source. */
const DEFAULT_CLI_TIMEOUT_MS = 120_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function cliAvailable(): boolean {
  return existsSync(CLI_MAIN);
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env = { ...(opts.env ?? process.env) };
  delete env['REDIS_URL'];
  const child = spawn(
    process.execPath,
    ['--conditions=herald-source', '--import', 'tsx', CLI_MAIN, ...args],
    {
      cwd: E2E_DIR,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  trackChild(child, `herald ${args.join(' ')}`);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_CLI_TIMEOUT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) untrackChild(child.pid);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
