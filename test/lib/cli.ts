/**
 * Runs the `herald` CLI in a child process, as an operator would: from the sources
 * (`node --conditions=herald-source --import tsx apps/cli/src/main.ts ARGS`), or from the build
 * (`node apps/cli/dist/main.js ARGS`) with HERALD_TEST_CHILDREN=dist, as `npm test` runs it
 * (children.ts).
 * Owns: the child. Guarantees: resolves with exit code, signal, stdout and stderr; a child still
 * running after `timeoutMs` is SIGKILLed by PID (and reported with timedOut: true).
 * Needs injected: the arguments and optionally the environment.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild, untrackChild } from '@herald/test-harness';
import { CLI_ENTRY, childArgs } from './children.js';

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
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
  return existsSync(CLI_ENTRY.source);
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env = { ...(opts.env ?? process.env) };
  delete env['REDIS_URL'];
  const child = spawn(process.execPath, [...childArgs(CLI_ENTRY), ...args], {
    cwd: E2E_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
