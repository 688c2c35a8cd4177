import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  deepFreeze,
  readDocument,
  secretsIn,
  toConfigIssues,
  withoutNulls,
} from '../config/index.js';
import { completeShaping, type Shaping, shapingSchema } from './schema.js';

/** The provider defaults shipped with the package (package folder, not src/ or dist/). */
export const PROVIDER_DEFAULTS_FILE = fileURLToPath(new URL('../../shaping/providers.yaml', import.meta.url));

export interface LoadShapingOptions {
  /** Merge the shipped provider defaults under the file (default true). */
  providerDefaults?: boolean;
}

/** Validates one shaping document (no provider defaults merged). `source` prefixes error lines. */
export function parseShaping(input: unknown, opts: { source?: string } = {}): Shaping {
  const raw = withoutNulls(input ?? {}, opts.source);
  const result = shapingSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const issues = toConfigIssues(result.error, shapingSchema, secretsIn(raw));
    throw new ConfigError('HERALD_CONFIG_INVALID', issues, opts.source);
  }
  return deepFreeze(completeShaping(result.data));
}

function mergeMaps<T extends object>(base: Record<string, T>, over: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = { ...base[key], ...value } as T;
  return out;
}

/**
 * `over` on top of `base`: per entry, keys of `over` win (a provider keeps the base's mx_suffixes
 * unless `over` sets them); automation rules of both apply, base first.
 */
export function mergeShaping(base: Shaping, over: Shaping): Shaping {
  return deepFreeze({
    defaults: { ...base.defaults, ...over.defaults },
    providers: mergeMaps(base.providers, over.providers),
    sites: mergeMaps(base.sites, over.sites),
    domains: mergeMaps(base.domains, over.domains),
    sources: mergeMaps(base.sources, over.sources),
    pools: mergeMaps(base.pools, over.pools),
    pool_selection: [...over.pool_selection, ...base.pool_selection],
    tenants: mergeMaps(base.tenants, over.tenants),
    automation: [...base.automation, ...over.automation],
  });
}

let providerDefaults: Shaping | undefined;

/** The shipped provider defaults, parsed once. */
export function loadProviderDefaults(): Shaping {
  providerDefaults ??= parseShaping(readDocument(PROVIDER_DEFAULTS_FILE), { source: PROVIDER_DEFAULTS_FILE });
  return providerDefaults;
}

/** Reads a .yaml, .yml or .json shaping file; the shipped provider defaults go under it. */
export function loadShapingFile(path: string, opts: LoadShapingOptions = {}): Shaping {
  const operator = parseShaping(readDocument(path), { source: path });
  return opts.providerDefaults === false ? operator : mergeShaping(loadProviderDefaults(), operator);
}
