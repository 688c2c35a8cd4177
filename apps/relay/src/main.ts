/**
 * `herald relay --config FILE [--roles smtp,worker,http]`: loads and validates the config (a bad
 * key exits 1 naming its path), runs createRelay, and shuts down gracefully on SIGTERM/SIGINT
 * (a second signal exits at once). SIGHUP reloads the config file (relay.reload: what can change
 * live is applied, the rest is logged as needing a restart, an invalid file keeps the running
 * config); reloads run one at a time, a SIGHUP during one runs another after it; one that arrives
 * while the relay starts is ignored (Node's default would end the process).
 */
import {
  ConfigError,
  defaultConfig,
  formatCliError,
  type HeraldConfig,
  HeraldError,
  loadConfigFile,
} from '@herald/delivery-core';
import { inConfigFile, ROLES, type Role } from '@herald/delivery-core/config';
import { createRelay, type RelayAddresses } from './relay.js';

export interface RelayCommandOptions {
  config?: string | undefined;
  roles?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Where start-up errors go; default process.stderr. */
  stderr?: { write(text: string): unknown };
  /** Called once listening, e.g. to print a banner. */
  onStarted?: (info: RelayAddresses) => void;
}

export function parseRoles(spec: string | undefined): Role[] | undefined {
  if (!spec) return undefined;
  const roles = spec
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const role of roles) {
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new HeraldError(
        'HERALD_CLI_USAGE',
        `--roles: unknown role "${role}" (expected ${ROLES.join(', ')})`,
      );
    }
  }
  return roles as Role[];
}

export async function runRelay(options: RelayCommandOptions): Promise<number> {
  // Node's default for SIGHUP ends the process: until the relay can reload, one is ignored.
  const early = () =>
    (options.stderr ?? process.stderr).write('herald relay: SIGHUP while starting: ignored\n');
  process.on('SIGHUP', early);
  try {
    return await serve(options, () => process.off('SIGHUP', early));
  } finally {
    process.off('SIGHUP', early);
  }
}

/** runRelay's body; `started` is called once SIGHUP reloads. */
async function serve(options: RelayCommandOptions, started: () => void): Promise<number> {
  const env = options.env ?? process.env;
  const stderr = options.stderr ?? process.stderr;
  let config: HeraldConfig;
  try {
    config = options.config
      ? loadConfigFile(options.config, { env })
      : defaultConfig(env.REDIS_URL ? { redis: { url: env.REDIS_URL } } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      stderr.write(formatCliError(err.code, err.message));
      return 1;
    }
    throw err;
  }
  const roles = parseRoles(options.roles);
  let relay: Awaited<ReturnType<typeof createRelay>>;
  try {
    relay = await createRelay(config, {
      ...(roles ? { roles } : {}),
      ...(options.config ? { configFile: options.config } : {}),
      env,
    });
  } catch (err) {
    // What the relay reads at start (TLS files, shaping file, DKIM keys) names its key path,
    // after the config file that has the key: `herald.yaml: shaping.file: cannot read …`.
    if (err instanceof ConfigError) {
      stderr.write(formatCliError(err.code, inConfigFile(err, options.config)));
      return 1;
    }
    throw err;
  }
  let addresses: Awaited<ReturnType<typeof relay.start>>;
  try {
    addresses = await relay.start();
  } catch (err) {
    stderr.write(formatCliError('HERALD_LISTEN_FAILED', `cannot start the relay: ${(err as Error).message}`));
    await relay.stop();
    return 1;
  }
  options.onStarted?.(addresses);
  // One reload at a time; a SIGHUP during one is remembered and runs once it ends.
  let reloading: Promise<unknown> = Promise.resolve();
  const onReload = () => {
    reloading = reloading
      .then(() => relay.reload())
      .catch((err: unknown) => relay.herald.logger.error({ err }, 'config reload failed'));
  };
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) process.exit(130);
      relay.herald.logger.info({ signal }, 'shutting down');
      void relay.stop().then(resolve, (err) => {
        relay.herald.logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onReload);
    started();
  });
  process.off('SIGHUP', onReload);
  return 0;
}
