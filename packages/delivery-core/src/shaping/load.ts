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
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, toConfigIssues, unknownKeyIssues } from '../config/config-error.js';
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

interface DefLike {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  out?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
}

const defOf = (schema: z.core.$ZodType) => schema._zod.def as unknown as DefLike;

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in)
      current = defOf(def.in).type === 'transform' && def.out ? def.out : def.in;
    else return current;
  }
}

/** Known keys at `path`, walking through records (any key) as well as objects and lists. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let current: z.core.$ZodType | undefined = unwrap(shapingSchema);
  for (const segment of path) {
    const def = defOf(current);
    if (def.type === 'record') current = def.valueType;
    else if (typeof segment === 'number') current = def.element;
    else current = def.shape?.[String(segment)];
    if (!current) return [];
    current = unwrap(current);
  }
  return Object.keys(defOf(current).shape ?? {});
}

/** toConfigIssues, with "did you mean" for unknown keys inside named maps (domains, providers…). */
function shapingIssues(error: z.core.$ZodError): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code !== 'unrecognized_keys') {
      issues.push(...toConfigIssues({ issues: [issue] } as z.core.$ZodError, shapingSchema));
      continue;
    }
    issues.push(...unknownKeyIssues(issue.path, issue.keys, knownKeysAt(issue.path)));
  }
  return issues;
}

/** Validates one shaping document (no provider defaults merged). `source` prefixes error lines. */
export function parseShaping(input: unknown, opts: { source?: string } = {}): Shaping {
  const result = shapingSchema.safeParse(withoutNulls(input ?? {}), { reportInput: true });
  if (!result.success)
    throw new ConfigError('HERALD_CONFIG_INVALID', shapingIssues(result.error), opts.source);
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
