/**
 * `herald bounce-processor --config FILE`: loads and validates the config (it must have a
 * `bounce` section; a bad key exits 1 naming its path), starts the SMTP listener on
 * `bounce.listen` and the HTTP endpoints (/healthz, /readyz, /metrics: its feedback counters) on
 * `bounce.http_listen`, and stops on SIGTERM/SIGINT (a second signal exits at once) or when
 * `stop` aborts. SIGHUP (`herald config reload --pid`) reads the file again, as the relay does:
 * the live sections (reload's BOUNCE_PROCESSOR_LIVE_PATHS: tenants, the VERP keys, the token age
 * limit, the complaint address, and the relay's live sections) apply to the next RCPT and report,
 * every other changed key is logged as needing a restart, an invalid file (or one without a
 * `bounce` section) keeps the running config; `/readyz` and `herald_config_info` show the version.
 * A SIGHUP while it starts is ignored (Node's default would end the process).
 * Errors are printed as `herald: <code>: <message>`.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConfigError,
  createHerald,
  formatCliError,
  type Herald,
  type HeraldConfig,
  loadConfigFile,
} from '@herald/delivery-core';
import { inConfigFile, parseListen } from '@herald/delivery-core/config';
import { createHealthEndpoints } from '@herald/delivery-core/metrics';
import { BOUNCE_PROCESSOR_LIVE_PATHS } from '@herald/delivery-core/reload';
import { createBounceProcessor } from './processor.js';

/** 128 + SIGINT: a second signal exits at once. */
const EXIT_INTERRUPTED = 130;

export interface BounceProcessorCommandOptions {
  config: string;
  env?: Record<string, string | undefined>;
  /** Where start-up errors go; default process.stderr. */
  stderr?: { write(text: string): unknown };
  /** Called once listening: the SMTP address, with the HTTP endpoints' address as `http`. */
  onStarted?: (address: { host: string; port: number; http: { host: string; port: number } }) => void;
  /** Stops the daemon as SIGTERM does (embedders, tests). */
  stop?: AbortSignal;
}

export async function runBounceProcessor(options: BounceProcessorCommandOptions): Promise<number> {
  // Node's default for SIGHUP ends the process: until the processor can reload, one is ignored.
  const early = () =>
    (options.stderr ?? process.stderr).write('herald bounce-processor: SIGHUP while starting: ignored\n');
  process.on('SIGHUP', early);
  try {
    return await serve(options, () => process.off('SIGHUP', early));
  } finally {
    process.off('SIGHUP', early);
  }
}

/** Reads the config file again into the running processor (its live paths only). */
function reloader(herald: Herald, file: string, env: Record<string, string | undefined>) {
  return () =>
    herald.reloadConfig(
      () => {
        const next = loadConfigFile(file, { env });
        if (!next.bounce)
          throw new ConfigError('HERALD_CONFIG_INVALID', [
            {
              path: 'bounce',
              message: 'missing (the bounce-processor needs it; the running config is kept)',
            },
          ]);
        return next;
      },
      { livePaths: BOUNCE_PROCESSOR_LIVE_PATHS },
    );
}

/** runBounceProcessor's body; `started` is called once SIGHUP reloads. */
async function serve(options: BounceProcessorCommandOptions, started: () => void): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  let config: HeraldConfig;
  try {
    config = loadConfigFile(options.config, { env: options.env ?? process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      stderr.write(formatCliError(err.code, err.message));
      return 1;
    }
    throw err;
  }
  if (!config.bounce) {
    stderr.write(
      formatCliError(
        'HERALD_CONFIG_INVALID',
        `${options.config}: bounce: missing (the bounce-processor needs bounce.domain and bounce.verp_secret; bounce.listen defaults to 127.0.0.1:2600)`,
      ),
    );
    return 1;
  }
  let herald: Herald;
  try {
    herald = await createHerald(config, { telemetryProcess: 'bounce-processor' });
  } catch (err) {
    // What is read at start (shaping file, DKIM keys) names its key path after the config file.
    if (err instanceof ConfigError) {
      stderr.write(formatCliError(err.code, inConfigFile(err, options.config)));
      return 1;
    }
    throw err;
  }
  const processor = createBounceProcessor(herald);
  let listening = false;
  const httpServer = createHealthEndpoints({
    ping: () => herald.ping(),
    isListening: () => listening,
    metrics: herald.metrics,
    config: () => herald.metrics.config.status(),
  });
  let key = 'bounce.listen';
  let where = config.bounce.listen;
  try {
    const smtp = await processor.start();
    listening = true;
    key = 'bounce.http_listen';
    where = config.bounce.http_listen;
    const httpAddress = await listen(httpServer, config.bounce.http_listen);
    options.onStarted?.({ ...smtp, http: httpAddress });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Only a socket's failure names the listen key; anything else at start (the classifier's
    // threads, say) is not the address's fault and says so.
    stderr.write(
      e.syscall === 'listen' || e.code === 'EADDRINUSE'
        ? formatCliError(
            'HERALD_LISTEN_FAILED',
            `cannot start the bounce-processor: ${key}: ${e.code === 'EADDRINUSE' ? `address ${where} already in use` : e.message}`,
          )
        : formatCliError('HERALD_INTERNAL', `cannot start the bounce-processor: ${e.message ?? String(err)}`),
    );
    await stopAll(processor, httpServer, listening);
    await herald.close();
    return 1;
  }
  let stopHup = () => {};
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: string) => {
      signals++;
      if (signals > 1) process.exit(EXIT_INTERRUPTED);
      herald.logger.info({ signal }, 'bounce-processor shutting down');
      listening = false;
      void stopAll(processor, httpServer, true)
        .then(() => herald.close())
        .then(resolve, (err) => {
          herald.logger.error({ err }, 'shutdown failed');
          resolve();
        })
        .finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          stopHup();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // reloadConfig is synchronous: one reload at a time by construction.
    const reload = reloader(herald, options.config, options.env ?? process.env);
    const onReload = () => {
      try {
        reload();
      } catch (err) {
        herald.logger.error({ err }, 'config reload failed');
      }
    };
    process.on('SIGHUP', onReload);
    stopHup = () => process.off('SIGHUP', onReload);
    started();
    if (options.stop?.aborted) onSignal('abort');
    else options.stop?.addEventListener('abort', () => onSignal('abort'), { once: true });
  });
  return 0;
}

function listen(server: http.Server, spec: string): Promise<{ host: string; port: number }> {
  const { host, port } = parseListen(spec);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}

async function stopAll(
  processor: { stop(): Promise<void> },
  httpServer: http.Server,
  smtpStarted: boolean,
): Promise<void> {
  if (httpServer.listening) {
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  }
  if (smtpStarted) await processor.stop();
}
