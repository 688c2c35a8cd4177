/**
 * ConfigError and the translation of zod issues into operator-facing lines:
 * "<file>: smtp.users[0].pasword: unknown key (not a known key of smtp.users[0]); did you mean password?"
 * or, for a file that cannot be parsed, "<file>:<line>:<column>: cannot parse YAML: <what>".
 * Paths are dotted with [i] for list items. No value under a secret key (secrets.ts) is ever
 * quoted, a value given where a mapping or list belongs is described by its type only, and the
 * secret strings of the input are masked wherever else they turn up (Redactor).
 */
import type { z } from 'zod';
import { HeraldError } from '../errors/index.js';
import {
  MAX_ISSUE_CHARS,
  MAX_REPORTED_ISSUES,
  MAX_SHOWN_KEY_CHARS,
  MAX_SHOWN_VALUE_CHARS,
} from './limits.js';
import { isSecretKey, isSecretPath, isUrlPath, MASK, maskUrl, Redactor } from './secrets.js';

export interface ConfigIssue {
  /** Dotted path with [i] for list items, e.g. "smtp.users[0].password"; "" for the whole document. */
  path: string;
  message: string;
  /** 1-based line and column in the file, when the problem has a place there (parse errors). */
  line?: number;
  column?: number;
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

/**
 * "file: path: message" ("file: message" for the whole document), or "file:line:column: message"
 * for a problem with a place in the file.
 */
export function formatIssue(issue: ConfigIssue, source?: string): string {
  const place = issue.line === undefined ? undefined : `${issue.line}:${issue.column ?? 1}`;
  const file =
    source === undefined
      ? place === undefined
        ? ''
        : `line ${place}: `
      : `${source}${place === undefined ? '' : `:${place}`}: `;
  const where = issue.path !== '' ? `${issue.path}: ` : '';
  return `${file}${where}${issue.message}`;
}

/**
 * A ConfigError's lines as a daemon prints them at start: a problem of a file the config names
 * (shaping.file, dkim[].key_file, smtp.tls.cert_file) carries only its key path, so each line is
 * prefixed by the config file that has the key (`herald.yaml: shaping.file: cannot read …`), as
 * `herald config check` prints it. A ConfigError of a named source is returned as is.
 */
export function inConfigFile(err: ConfigError, file: string | undefined): string {
  if (err.source !== undefined || file === undefined) return err.message;
  return err.message
    .split('\n')
    .map((line) => `${file}: ${line}`)
    .join('\n');
}

/** The line that stands for problems beyond MAX_REPORTED_ISSUES. */
function moreProblems(count: number): ConfigIssue {
  return { path: '', message: `${count} more problem${count === 1 ? '' : 's'} not shown` };
}

/** Longest edit distance at which an unknown key gets a "did you mean" suggestion. */
export const SUGGESTION_MAX_DISTANCE = 2;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const plain = new Redactor();

/** "smtp.users[0].password"; keys below a secret key are shown as ***, long keys are shortened. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  let belowSecret = false;
  for (const segment of path) {
    const key = belowSecret && typeof segment !== 'number' ? MASK : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else if (
      typeof key === 'string' &&
      ((IDENTIFIER.test(key) && key.length <= MAX_SHOWN_KEY_CHARS) || key === MASK)
    )
      out += out === '' ? key : `.${key}`;
    else out += `[${plain.text(JSON.stringify(String(key)), MAX_SHOWN_KEY_CHARS)}]`;
    belowSecret ||= isSecretKey(segment);
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
    // The lengths alone bound the distance from below: skip (a long key would cost length² here).
    if (Math.abs(key.length - candidate.length) > SUGGESTION_MAX_DISTANCE) continue;
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

const CONTAINER_TYPES = new Set(['object', 'array', 'record', 'map', 'set', 'tuple']);

/** "got …" for a value, or undefined when nothing should be said about it. */
function describeValue(
  value: unknown,
  path: readonly PropertyKey[],
  expectsContainer: boolean,
  redactor: Redactor,
): string | undefined {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  // A secret of the right type is not described at all; of the wrong type, by its type.
  if (isSecretPath(path)) return typeof value === 'string' ? undefined : typeof value;
  // "redis: redis://:pw@host" or "auth: user:pw": a scalar where a mapping belongs is not quoted.
  if (expectsContainer) return `a ${typeof value}`;
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(isUrlPath(path) ? maskUrl(value) : value);
  else if (typeof value === 'number' || typeof value === 'boolean') shown = String(value);
  else if (typeof value === 'bigint') shown = `${value}n`;
  else return typeof value;
  return redactor.text(shown, MAX_SHOWN_VALUE_CHARS);
}

/**
 * Turns zod's issues into one ConfigIssue per problem (one per unknown key), at most
 * MAX_REPORTED_ISSUES of them. `secrets` (secretsIn of the input) are masked wherever they appear.
 */
export function toConfigIssues(
  error: z.core.$ZodError,
  root: z.core.$ZodType,
  secrets: readonly string[] = [],
): ConfigIssue[] {
  const redactor = new Redactor(secrets);
  const issues: ConfigIssue[] = [];
  let notShown = 0;
  for (const issue of error.issues) {
    if (issues.length >= MAX_REPORTED_ISSUES) {
      notShown += issue.code === 'unrecognized_keys' ? issue.keys.length : 1;
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.slice(0, MAX_REPORTED_ISSUES - issues.length);
      notShown += issue.keys.length - keys.length;
      issues.push(...unknownKeyIssues(issue.path, keys, knownKeysAt(root, issue.path)));
      continue;
    }
    const input: unknown = issue.input;
    // A refinement over a whole mapping or list already says what is wrong with it.
    const showInput = input !== undefined && (issue.code === 'invalid_type' || typeof input !== 'object');
    const expectsContainer = issue.code === 'invalid_type' && CONTAINER_TYPES.has(issue.expected);
    const got = showInput ? describeValue(input, issue.path, expectsContainer, redactor) : undefined;
    const missing = issue.code === 'invalid_type' && input === undefined;
    const path = formatPath(issue.path);
    const message = missing ? `${issue.message} (missing)` : `${issue.message}${got ? `, got ${got}` : ''}`;
    // Two checks of one value with one wording (redis.url: pattern and URL) make one line.
    if (!issues.some((seen) => seen.path === path && seen.message === message))
      issues.push({ path, message });
  }
  if (notShown > 0) issues.push(moreProblems(notShown));
  return issues.map((issue) => ({
    ...issue,
    path: redactor.text(issue.path, MAX_ISSUE_CHARS),
    message: redactor.text(issue.message, MAX_ISSUE_CHARS),
  }));
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
