/**
 * ConfigError and the translation of zod issues into operator-facing lines:
 * "<file>: smtp.users[0].pasword: unknown key (not a known key of smtp.users[0]); did you mean password?"
 * Paths are dotted with [i] for list items. Secret values are never echoed.
 */
import type { z } from 'zod';
import { HeraldError } from '../errors/index.js';

export interface ConfigIssue {
  /** Dotted path with [i] for list items, e.g. "smtp.users[0].password"; "" for the whole document. */
  path: string;
  message: string;
}

type ConfigErrorCode = 'HERALD_CONFIG_INVALID' | 'HERALD_CONFIG_UNREADABLE';

export class ConfigError extends HeraldError {
  readonly issues: ConfigIssue[];
  /** The file (or other source) the configuration came from, when known. */
  readonly source: string | undefined;
  constructor(code: ConfigErrorCode, issues: ConfigIssue[], source?: string, options?: { cause?: unknown }) {
    super(code, issues.map((issue) => formatIssue(issue, source)).join('\n'), options);
    this.name = 'ConfigError';
    this.issues = issues;
    this.source = source;
  }
}

export function formatIssue(issue: ConfigIssue, source?: string): string {
  const where = issue.path === '' ? '(top level)' : issue.path;
  return `${source === undefined ? '' : `${source}: `}${where}: ${issue.message}`;
}

/** Longest edit distance at which an unknown key gets a "did you mean" suggestion. */
export const SUGGESTION_MAX_DISTANCE = 2;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_KEY = /password|secret/i;
const MAX_SHOWN_VALUE_CHARS = 60;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key` within SUGGESTION_MAX_DISTANCE, if any. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = SUGGESTION_MAX_DISTANCE + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

interface ZodDefLike {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  out?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
}

function defOf(schema: z.core.$ZodType): ZodDefLike {
  return schema._zod.def as unknown as ZodDefLike;
}

/** Peels defaults, optionals and pipes until an object or array schema (or anything else) remains. */
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

/** The keys the schema allows at `path` (through objects, lists and named maps), for suggestions. */
export function knownKeysAt(root: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.core.$ZodType | undefined = unwrap(root);
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

function describeValue(value: unknown, path: readonly PropertyKey[]): string {
  const last = path[path.length - 1];
  if (typeof last === 'string' && SECRET_KEY.test(last)) return value === null ? 'null' : typeof value;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > MAX_SHOWN_VALUE_CHARS ? `${shown.slice(0, MAX_SHOWN_VALUE_CHARS)}…` : shown;
}

/** Turns zod's issues into one ConfigIssue per problem (one per unknown key). */
export function toConfigIssues(error: z.core.$ZodError, root: z.core.$ZodType): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      issues.push(...unknownKeyIssues(issue.path, issue.keys, knownKeysAt(root, issue.path)));
      continue;
    }
    const input: unknown = issue.input;
    // A refinement over a whole mapping or list already says what is wrong with it.
    const showInput = input !== undefined && (issue.code === 'invalid_type' || typeof input !== 'object');
    const got = showInput ? `, got ${describeValue(input, issue.path)}` : '';
    const missing = issue.code === 'invalid_type' && input === undefined;
    issues.push({
      path: formatPath(issue.path),
      message: missing ? `${issue.message} (missing)` : `${issue.message}${got}`,
    });
  }
  return issues;
}

/** One issue per unknown key at `path`, suggesting the closest known key or listing them. */
export function unknownKeyIssues(
  path: readonly PropertyKey[],
  keys: readonly string[],
  known: readonly string[],
): ConfigIssue[] {
  const owner = path.length === 0 ? 'the top level' : formatPath(path);
  return keys.map((key) => {
    const suggestion = suggestKey(key, known);
    const hint = suggestion
      ? `; did you mean ${suggestion}?`
      : known.length
        ? `; known keys: ${known.join(', ')}`
        : '';
    return { path: formatPath([...path, key]), message: `unknown key (not a known key of ${owner})${hint}` };
  });
}
