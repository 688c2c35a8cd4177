/**
 * Reading shaping files: parseShaping (any value → frozen Shaping or ConfigError naming the exact
 * key path), loadShapingFile (YAML or JSON; the shipped provider defaults are merged UNDER the
 * operator's file unless `providerDefaults: false`) and loadProviderDefaults, which reads
 * packages/delivery-core/shaping/providers.yaml next to src/ and dist/ (found via import.meta.url).
 * Errors reuse ConfigError (HERALD_CONFIG_INVALID / HERALD_CONFIG_UNREADABLE) and its line format.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { ConfigError, toConfigIssues } from '../config/config-error.js';
import { deepFreeze, withoutNulls } from '../config/document.js';
import { completeShaping, type Shaping, shapingSchema } from './schema.js';

/** The provider defaults shipped with the package (package folder, not src/ or dist/). */
export const PROVIDER_DEFAULTS_FILE = fileURLToPath(new URL('../../shaping/providers.yaml', import.meta.url));
const SHAPING_EXTENSIONS = ['.yaml', '.yml', '.json'];
/** YAML aliases allowed per document (guards against alias bombs). */
const MAX_YAML_ALIASES = 100;

export interface LoadShapingOptions {
  /** Merge the shipped provider defaults under the file (default true). */
  providerDefaults?: boolean;
}

/** Validates one shaping document (no provider defaults merged). `source` prefixes error lines. */
export function parseShaping(input: unknown, opts: { source?: string } = {}): Shaping {
  const result = shapingSchema.safeParse(withoutNulls(input ?? {}), { reportInput: true });
  if (!result.success)
    throw new ConfigError('HERALD_CONFIG_INVALID', toConfigIssues(result.error, shapingSchema), opts.source);
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
    automation: [...base.automation, ...over.automation],
  });
}

function unreadable(path: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError('HERALD_CONFIG_UNREADABLE', [{ path: '', message }], path, { cause });
}

function readDocument(path: string): unknown {
  if (!SHAPING_EXTENSIONS.includes(extname(path).toLowerCase()))
    throw unreadable(path, `unsupported file type; expected one of ${SHAPING_EXTENSIONS.join(', ')}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadable(path, `cannot read: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem)
    throw unreadable(
      path,
      `cannot parse ${extname(path).slice(1).toUpperCase()}: ${problem.message}`,
      problem,
    );
  return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
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
