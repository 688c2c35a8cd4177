/**
 * Small helpers for config-like documents (herald.yaml, the shaping file): reading a YAML or JSON
 * file with errors naming it, plain-object test, dropping YAML nulls so an empty section means
 * "defaults", and deep-freezing a parsed result.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import { ConfigError } from './config-error.js';

const DOCUMENT_EXTENSIONS = ['.yaml', '.yml', '.json'];
/** YAML aliases allowed per document (guards against alias bombs). */
const MAX_YAML_ALIASES = 100;

function unreadable(path: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError('HERALD_CONFIG_UNREADABLE', [{ path: '', message }], path, { cause });
}

/** Reads and parses a .yaml, .yml or .json file (YAML reads JSON too); HERALD_CONFIG_UNREADABLE otherwise. */
export function readDocument(path: string): unknown {
  if (!DOCUMENT_EXTENSIONS.includes(extname(path).toLowerCase())) {
    throw unreadable(path, `unsupported file type; expected one of ${DOCUMENT_EXTENSIONS.join(', ')}`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadable(path, `cannot read: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    throw unreadable(
      path,
      `cannot parse ${extname(path).slice(1).toUpperCase()}: ${problem.message}`,
      problem,
    );
  }
  return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Copies the input, dropping keys whose value is null (a YAML section left empty = defaults). */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== null) out[key] = withoutNulls(item);
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
