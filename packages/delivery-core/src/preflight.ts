/**
 * What a relay reads at start beyond the config file itself, checked without Redis: the shaping
 * file (shaping.file, over the shipped provider defaults) and the DKIM keys (dkim[].key_file /
 * private_key). `preflight` returns every problem as a ConfigError naming its file and key path
 * (empty when all is well), so `herald config check` refuses exactly what `createHerald` would
 * refuse; `loadShaping` and `loadDkim` are the readers createHerald uses.
 */
import type { Logger } from 'pino';
import { createDkimSigner, type DkimKeyStore, type DkimSigner, loadDkimKeys } from './auth/index.js';
import { ConfigError, type HeraldConfig } from './config/index.js';
import { loadProviderDefaults, loadShapingFile, parseShaping, type Shaping } from './shaping/index.js';

export function preflight(config: HeraldConfig): ConfigError[] {
  const problems: ConfigError[] = [];
  const attempt = (check: () => unknown) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err);
    }
  };
  attempt(() => loadShaping(config));
  if (config.dkim.length > 0) attempt(() => loadDkimKeys(config.dkim, { warn: () => {} }));
  return problems;
}

/** The shaping file of `shaping.file` (over the shipped provider defaults unless turned off). */
export function loadShaping(config: HeraldConfig): Shaping {
  const { file, provider_defaults: providerDefaults } = config.shaping;
  if (file) return loadShapingFile(file, { providerDefaults });
  return providerDefaults ? loadProviderDefaults() : parseShaping({});
}

/**
 * The DKIM key store and signer of `config.dkim`, keys read now (a missing or bad key fails the
 * start with its path); undefined without keys, so unsigned setups pay nothing per message.
 */
export function loadDkim(
  config: HeraldConfig,
  logger: Pick<Logger, 'warn'>,
): { store: DkimKeyStore; signer: DkimSigner } | undefined {
  if (config.dkim.length === 0) return undefined;
  const store = loadDkimKeys(config.dkim, { warn: (message) => logger.warn(message) });
  return { store, signer: createDkimSigner(store) };
}
