/**
 * What a relay reads at start beyond the config file itself, checked without Redis: the shaping
 * file (shaping.file, over the shipped provider defaults) and the DKIM keys (dkim[].key_file /
 * private_key). `preflight` returns every problem as a ConfigError naming its file and key path
 * (empty when all is well), so `herald config check` refuses exactly what `createHerald` would
 * refuse; `loadShaping` and `loadDkim` are the readers createHerald uses.
 */
import type { Logger } from 'pino';
import { createDkimSigner, type DkimKeyStore, type DkimSigner, loadDkimKeys } from './auth/index.js';
import { ConfigError, formatIssue, type HeraldConfig } from './config/index.js';
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

/**
 * The shaping file of `shaping.file` (over the shipped provider defaults unless turned off). A file
 * that cannot be read or parsed is a problem of the key that names it: HERALD_CONFIG_INVALID,
 * `shaping.file: cannot read <file>: ENOENT: …` (or `shaping.file: <file>:<line>:<column>: …`),
 * like a DKIM key_file or a TLS cert_file; a file that fails validation names its own keys.
 */
export function loadShaping(config: HeraldConfig): Shaping {
  const { file, provider_defaults: providerDefaults } = config.shaping;
  if (!file) return providerDefaults ? loadProviderDefaults() : parseShaping({});
  try {
    return loadShapingFile(file, { providerDefaults });
  } catch (err) {
    if (!(err instanceof ConfigError) || err.code !== 'HERALD_CONFIG_UNREADABLE' || err.source !== file)
      throw err;
    const issues = err.issues.map((issue) => ({
      path: 'shaping.file',
      message: issue.message.startsWith(CANNOT_READ)
        ? `cannot read ${file}: ${issue.message.slice(CANNOT_READ.length)}`
        : formatIssue(issue, file),
    }));
    throw new ConfigError('HERALD_CONFIG_INVALID', issues, undefined, { cause: err });
  }
}

const CANNOT_READ = 'cannot read: ';

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
