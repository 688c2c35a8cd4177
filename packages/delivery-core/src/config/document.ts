/**
 * Small helpers for config-like documents (herald.yaml, the shaping file): reading a YAML or JSON
 * file with errors naming it, plain-object test, dropping YAML nulls so an empty section means
 * "defaults", and deep-freezing a parsed result.
 *
 * Every malformed file is a ConfigError (HERALD_CONFIG_UNREADABLE) naming the file, with the line
 * and column when the problem has a place, and never a line of the file: too large, not UTF-8
 * text, YAML syntax, nesting, aliases, duplicate keys (document-text.ts, yaml-document.ts). A
 * value nested deeper than MAX_DOCUMENT_DEPTH or holding more than MAX_DOCUMENT_VALUES values
 * (or a cycle) is refused by withoutNulls with HERALD_CONFIG_INVALID. Nothing here recurses
 * deeper than those limits, and the work is linear in the input.
 */
import { extname } from 'node:path';
import { ConfigError, formatPath } from './config-error.js';
import { DocumentProblem, decodeDocumentText, readCapped } from './document-text.js';
import { MAX_DOCUMENT_DEPTH, MAX_DOCUMENT_VALUES } from './limits.js';
import { parseYamlText, setOwn } from './yaml-document.js';

const DOCUMENT_EXTENSIONS = ['.yaml', '.yml', '.json'];

function unreadable(path: string, message: string, place: { line?: number; column?: number } = {}) {
  const issue = {
    path: '',
    message,
    ...(place.line === undefined ? {} : { line: place.line, column: place.column }),
  };
  return new ConfigError('HERALD_CONFIG_UNREADABLE', [issue], path);
}

/** Reads and parses a .yaml, .yml or .json file (YAML reads JSON too); HERALD_CONFIG_UNREADABLE otherwise. */
export function readDocument(path: string): unknown {
  const extension = extname(path).toLowerCase();
  if (!DOCUMENT_EXTENSIONS.includes(extension)) {
    throw unreadable(path, `unsupported file type; expected one of ${DOCUMENT_EXTENSIONS.join(', ')}`);
  }
  let bytes: Buffer;
  try {
    bytes = readCapped(path);
  } catch (err) {
    if (err instanceof DocumentProblem) throw unreadable(path, err.message);
    // "ENOENT: no such file or directory", without Node's ", open '<path>'" (the line names it).
    const reason = (err instanceof Error ? err.message : String(err)).replace(/, \w+ '.*'$/s, '');
    throw new ConfigError(
      'HERALD_CONFIG_UNREADABLE',
      [{ path: '', message: `cannot read: ${reason}` }],
      path,
      {
        cause: err,
      },
    );
  }
  try {
    return parseYamlText(decodeDocumentText(bytes), extension === '.json' ? 'JSON' : 'YAML') ?? {};
  } catch (err) {
    if (err instanceof DocumentProblem) throw unreadable(path, err.message, err);
    throw err;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Copies the input, dropping keys whose value is null (a YAML section left empty = defaults).
 * Refuses (HERALD_CONFIG_INVALID, naming `source`) nesting deeper than MAX_DOCUMENT_DEPTH, which
 * includes a cycle, and more than MAX_DOCUMENT_VALUES values.
 */
export function withoutNulls(value: unknown, source?: string): unknown {
  let values = 0;
  const path: PropertyKey[] = [];
  const copy = (item: unknown): unknown => {
    values++;
    if (values > MAX_DOCUMENT_VALUES) {
      throw new ConfigError(
        'HERALD_CONFIG_INVALID',
        [{ path: '', message: `more than ${MAX_DOCUMENT_VALUES} values` }],
        source,
      );
    }
    if (typeof item !== 'object' || item === null) return item;
    if (path.length >= MAX_DOCUMENT_DEPTH) {
      const message = `nested more than ${MAX_DOCUMENT_DEPTH} levels deep`;
      throw new ConfigError('HERALD_CONFIG_INVALID', [{ path: formatPath(path), message }], source);
    }
    if (Array.isArray(item)) {
      return item.map((element, index) => {
        path.push(index);
        const out = copy(element);
        path.pop();
        return out;
      });
    }
    const out: Record<string, unknown> = {};
    for (const [key, element] of Object.entries(item)) {
      if (element === null) continue;
      path.push(key);
      setOwn(out, key, copy(element));
      path.pop();
    }
    return out;
  };
  return copy(value);
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
