/**
 * `herald config reload --pid PID [--http URL] [--timeout DURATION] [--json]`: asks a running
 * relay or bounce-processor to read its config file again, by the same path as an operator's
 * `kill -HUP PID` (its SIGHUP handler). With --http (the relay's http.listen, e.g.
 * http://127.0.0.1:9090, or the bounce-processor's bounce.http_listen) it
 * reads `/readyz` before, sends the signal, and waits for the reload's outcome there (its
 * `config.reloads` count moves on): the new config version and the keys that need a restart, or
 * why the reload was refused. Exit codes: 0 applied (or, without --http, the signal sent), 1
 * refused, not answered in time, or no such process, 2 usage.
 */
import { HeraldError } from '@herald/delivery-core';
import { parseDuration } from '@herald/delivery-core/config';
import { parseCommandArgs, usageError } from '../args.js';
import { EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { printable } from '../terminal-text.js';

/** Default wait for the outcome on /readyz. */
const DEFAULT_TIMEOUT = '15s';
/** Between two reads of /readyz. */
const POLL_INTERVAL_MS = 100;
/** Bound on one GET /readyz. */
const REQUEST_TIMEOUT_MS = 2_000;

export const reloadHelp = `Usage: herald config reload --pid PID [--http URL] [--timeout DURATION] [--json]

Ask a running relay or bounce-processor to reload its config file (the same as
kill -HUP PID): the shaping file, tenants, DKIM keys, SMTP users and routes apply
without dropping a connection or a delivery (a bounce-processor also takes the VERP
secrets, verp_max_age and complaint_address); other changed keys are reported as
needing a restart and keep their running values; an invalid file keeps the running
config.

  --pid PID          the process id
  --http URL         its http.listen (e.g. http://127.0.0.1:9090; a bounce-processor's
                     bounce.http_listen): wait for the outcome on /readyz and print it
  --timeout D        how long to wait for it (default ${DEFAULT_TIMEOUT})
  --json             print /readyz's config object as JSON

Exits 0 when the reload applied (without --http: when the signal was sent), 1 when it
was refused or not answered in time or the process does not exist, 2 on a usage error.`;

const OPTIONS = {
  pid: { type: 'string' },
  http: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

interface ConfigStatus {
  hash: string;
  reloads: number;
  failures: number;
  lastReload?: { ok: boolean; at: string; needsRestart: string[]; error?: string };
}

async function readStatus(base: string): Promise<ConfigStatus> {
  const res = await fetch(new URL('/readyz', base), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = (await res.json()) as { config?: ConfigStatus };
  if (!body.config)
    throw new HeraldError('HERALD_CLI_USAGE', `${base}/readyz does not show a config version`);
  return body.config;
}

export async function runReload(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('config reload', args, OPTIONS, true);
  if (positionals.length > 0) throw usageError('config reload', `unexpected argument "${positionals[0]}"`);
  const pid = Number(values.pid);
  if (values.pid === undefined || !Number.isInteger(pid) || pid <= 0)
    throw usageError('config reload', '--pid needs the relay process id');
  const timeoutMs = parseDuration(values.timeout ?? DEFAULT_TIMEOUT);
  const before = values.http ? await readStatus(values.http) : undefined;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    printError(io, 'HERALD_RELOAD_FAILED', `cannot signal process ${pid}: ${(err as Error).message}`);
    return EXIT_FAILURE;
  }
  if (!values.http || !before) {
    io.stdout.write(`sent SIGHUP to ${pid}\n`);
    return EXIT_OK;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await readStatus(values.http).catch(() => undefined);
    if (now && now.reloads > before.reloads && now.lastReload) {
      if (values.json) io.stdout.write(`${JSON.stringify(now, null, 2)}\n`);
      if (!now.lastReload.ok) {
        printError(
          io,
          'HERALD_RELOAD_FAILED',
          `reload refused, running ${now.hash} kept: ${now.lastReload.error ?? ''}`,
        );
        return EXIT_FAILURE;
      }
      if (!values.json) {
        const restart = now.lastReload.needsRestart;
        // The same version again: every change it found needs a restart (the version covers the
        // applied config only), or, with none found, most often the file edited is not the one the
        // process reads (under npm start the relay runs on the copy .herald/herald.yaml).
        const outcome =
          now.hash !== before.hash
            ? `reloaded: ${before.hash} → ${now.hash}`
            : restart.length > 0
              ? `reloaded: ${now.hash} (unchanged: every change it found needs a restart)`
              : `reloaded: ${now.hash} (unchanged: it read the config it already runs; is the file you edited the one its --config names?)`;
        io.stdout.write(
          printable(
            `${outcome}\n${restart.length > 0 ? `needs restart (kept as running): ${restart.join(', ')}\n` : ''}`,
          ),
        );
      }
      return EXIT_OK;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  printError(io, 'HERALD_RELOAD_FAILED', `no reload outcome on ${values.http}/readyz within ${timeoutMs} ms`);
  return EXIT_FAILURE;
}
