/**
 * `herald bounce-processor --config FILE`: loads and validates the config (it must have a
 * `bounce` section; a bad key exits 1 naming its path), starts the SMTP listener on
 * `bounce.listen` and the HTTP endpoints (/healthz, /readyz, /metrics: its feedback counters) on
 * `bounce.http_listen`, and stops on SIGTERM/SIGINT (a second signal exits at once) or when
 * `stop` aborts. Errors are printed as `herald: <code>: <message>`.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConfigError,
  createHerald,
  formatCliError,
  type HeraldConfig,
  loadConfigFile,
} from '@herald/delivery-core';
import { inConfigFile, parseListen } from '@herald/delivery-core/config';
import { createHealthEndpoints } from '@herald/delivery-core/metrics';
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
  let herald: Awaited<ReturnType<typeof createHerald>>;
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
    stderr.write(
      formatCliError(
        'HERALD_LISTEN_FAILED',
        `cannot start the bounce-processor: ${key}: ${e.code === 'EADDRINUSE' ? `address ${where} already in use` : e.message}`,
      ),
    );
    await stopAll(processor, httpServer, listening);
    await herald.close();
    return 1;
  }
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
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
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
