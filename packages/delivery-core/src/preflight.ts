/**
 * What a relay reads at start beyond the config file itself, checked without Redis: the shaping
 * file (shaping.file, over the shipped provider defaults) and the DKIM keys (dkim[].key_file /
 * private_key). Returns every problem as a ConfigError naming its file and key path (empty when
 * all is well), so `herald config check` refuses exactly what `createHerald` would refuse.
 */

import { loadDkimKeys } from './auth/index.js';
import { ConfigError, type HeraldConfig } from './config/index.js';
import { loadShaping } from './herald-parts.js';

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
