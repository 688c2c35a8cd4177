/**
 * `herald bounce-processor --config FILE`: loads and validates the config (it must have a
 * `bounce` section; a bad key exits 1 naming its path), starts the listener on `bounce.listen`,
 * and stops on SIGTERM/SIGINT (a second signal exits at once).
 */
import { ConfigError, createHerald, type HeraldConfig, loadConfigFile } from '@herald/delivery-core';
import { createBounceProcessor } from './processor.js';

export interface BounceProcessorCommandOptions {
  config: string;
  env?: Record<string, string | undefined>;
  onStarted?: (address: { host: string; port: number }) => void;
}

export async function runBounceProcessor(options: BounceProcessorCommandOptions): Promise<number> {
  let config: HeraldConfig;
  try {
    config = loadConfigFile(options.config, { env: options.env ?? process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (!config.bounce) {
    process.stderr.write(
      `${options.config}: bounce: missing (the bounce-processor needs bounce.listen, bounce.domain, bounce.verp_secret)\n`,
    );
    return 1;
  }
  const herald = await createHerald(config);
  const processor = createBounceProcessor(herald);
  try {
    options.onStarted?.(await processor.start());
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(
      `herald: cannot start the bounce-processor: ${e.code === 'EADDRINUSE' ? `${config.bounce.listen} already in use` : e.message}\n`,
    );
    await herald.close();
    return 1;
  }
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) process.exit(130);
      herald.logger.info({ signal }, 'bounce-processor shutting down');
      void processor
        .stop()
        .then(() => herald.close())
        .then(resolve, (err) => {
          herald.logger.error({ err }, 'shutdown failed');
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}
