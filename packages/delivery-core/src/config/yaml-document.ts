/**
 * YAML (and JSON, which is YAML) text → a plain value of mappings, lists, strings, numbers,
 * booleans and nulls, in time and memory linear in the text. Refused, as a DocumentProblem with
 * the line and column: nesting deeper than MAX_DOCUMENT_DEPTH (measured on the parser's tokens,
 * before yaml's recursive composer sees them), syntax errors, more than one document, duplicate
 * keys (found with a set per mapping; yaml's own check is quadratic), keys that are mappings,
 * lists or aliases, more than MAX_YAML_ALIASES aliases, an alias to an anchor not defined before
 * it or to the value that contains it, and aliases expanding past MAX_DOCUMENT_VALUES values.
 * Messages never quote the text: yaml's wording is passed on only when it is one of its fixed
 * sentences. Explicit tags such as !!binary are not resolved (the value stays a string).
 */
import {
  Composer,
  type CST,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  Parser,
  type YAMLError,
} from 'yaml';
import { DocumentProblem, textPlace } from './document-text.js';
import { MAX_DOCUMENT_DEPTH, MAX_DOCUMENT_VALUES, MAX_YAML_ALIASES } from './limits.js';
import { yamlProblem } from './yaml-problems.js';

const COMPOSER_OPTIONS = {
  uniqueKeys: false, // checked below, in linear time
  resolveKnownTags: false,
  logLevel: 'error',
  prettyErrors: false,
} as const;

type Place = (offset: number) => { line: number; column: number };

function problemAt(place: Place, offset: number, message: string): DocumentProblem {
  const { line, column } = place(offset);
  return new DocumentProblem(message, line, column);
}

function isCollectionToken(token: CST.Token): token is CST.BlockMap | CST.BlockSequence | CST.FlowCollection {
  return token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection';
}

/** Lexer tokens of one control character mark token kinds; they are not in the text (see decodeDocumentText). */
const LEXER_MARK = /^[\u0000-\u0008\u000B-\u000C\u000E-\u001F\uFEFF]$/;

/**
 * Refuses flow nesting ([ and {) beyond MAX_DOCUMENT_DEPTH from the lexer's tokens alone: yaml's
 * parser is linear but slow on deep nesting (microseconds per level), its lexer is not.
 */
function checkFlowDepth(text: string, kind: string): void {
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (LEXER_MARK.test(token)) continue;
    if (token === '[' || token === '{') {
      depth++;
      if (depth > MAX_DOCUMENT_DEPTH) {
        const { line, column } = textPlace(text, offset);
        throw new DocumentProblem(
          `cannot parse ${kind}: nested more than ${MAX_DOCUMENT_DEPTH} levels deep`,
          line,
          column,
        );
      }
    } else if ((token === ']' || token === '}') && depth > 0) depth--;
    offset += token.length;
  }
}

/** Refuses nesting beyond MAX_DOCUMENT_DEPTH, walking the tokens with an explicit stack. */
function checkDepth(tokens: readonly CST.Token[], place: Place, kind: string): void {
  const stack: { token: CST.Token; depth: number }[] = tokens.map((token) => ({ token, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push({ token: token.value, depth });
    } else if (isCollectionToken(token)) {
      const inner = depth + 1;
      if (inner > MAX_DOCUMENT_DEPTH)
        throw problemAt(
          place,
          token.offset,
          `cannot parse ${kind}: nested more than ${MAX_DOCUMENT_DEPTH} levels deep`,
        );
      for (const item of token.items) {
        if (item.key) stack.push({ token: item.key, depth: inner });
        if (item.value) stack.push({ token: item.value, depth: inner });
      }
    }
  }
}

interface Built {
  value: unknown;
  /** Values in it with aliases expanded (itself included). */
  size: number;
  /** Nesting of mappings and lists in it with aliases expanded (0 for a scalar). */
  depth: number;
}

/** Sets an own property, even one named __proto__ (which `out[key] =` would turn into the prototype). */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** The plain value of a composed document, with the checks of the header. */
class Converter {
  private readonly anchors = new Map<string, Built | 'open'>();
  private aliases = 0;

  constructor(
    private readonly place: Place,
    private readonly kind: string,
  ) {}

  private fail(node: unknown, message: string): never {
    const offset = (node as { range?: [number, number, number] }).range?.[0] ?? 0;
    throw problemAt(this.place, offset, `cannot parse ${this.kind}: ${message}`);
  }

  convert(node: unknown): Built {
    if (node === null || node === undefined) return { value: null, size: 1, depth: 0 };
    if (isAlias(node)) return this.alias(node);
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) this.anchors.set(anchor, 'open');
    const built = isMap(node) ? this.map(node) : isSeq(node) ? this.seq(node) : this.scalar(node);
    if (built.depth > MAX_DOCUMENT_DEPTH)
      this.fail(node, `nested more than ${MAX_DOCUMENT_DEPTH} levels deep once its aliases are expanded`);
    if (built.size > MAX_DOCUMENT_VALUES)
      this.fail(node, `more than ${MAX_DOCUMENT_VALUES} values once its aliases are expanded`);
    if (anchor) this.anchors.set(anchor, built);
    return built;
  }

  private alias(node: { source: string }): Built {
    this.aliases++;
    if (this.aliases > MAX_YAML_ALIASES) this.fail(node, `more than ${MAX_YAML_ALIASES} aliases (*name)`);
    const target = this.anchors.get(node.source);
    if (target === undefined) this.fail(node, 'an alias (*name) to an anchor (&name) not defined before it');
    if (target === 'open') this.fail(node, 'an alias (*name) inside the value its anchor names');
    return target;
  }

  private scalar(node: unknown): Built {
    if (!isScalar(node)) this.fail(node, 'a value of an unknown kind');
    const value = node.value;
    if (
      value !== null &&
      typeof value !== 'string' &&
      typeof value !== 'number' &&
      typeof value !== 'boolean'
    )
      this.fail(node, 'a value of an unsupported type');
    return { value, size: 1, depth: 0 };
  }

  private map(node: { items: unknown[] }): Built {
    const out: Record<string, unknown> = {};
    const keys = new Set<string>();
    let size = 1;
    let depth = 0;
    for (const pair of node.items) {
      if (!isPair(pair)) this.fail(node, 'a mapping entry without a key');
      const key = pair.key;
      if (key !== null && !isScalar(key)) this.fail(key, 'a key that is a mapping, a list or an alias');
      const name = key === null || key.value === null ? '' : String(key.value);
      if (keys.has(name)) this.fail(key ?? node, 'a duplicate key');
      keys.add(name);
      if (key?.anchor) this.anchors.set(key.anchor, this.scalar(key));
      const built = this.convert(pair.value);
      setOwn(out, name, built.value);
      size += built.size;
      depth = Math.max(depth, built.depth);
    }
    return { value: out, size, depth: depth + 1 };
  }

  private seq(node: { items: unknown[] }): Built {
    const out: unknown[] = [];
    let size = 1;
    let depth = 0;
    for (const item of node.items) {
      if (isPair(item)) this.fail(node, 'a key: value pair in a list');
      const built = this.convert(item);
      out.push(built.value);
      size += built.size;
      depth = Math.max(depth, built.depth);
    }
    return { value: out, size, depth: depth + 1 };
  }
}

/**
 * Parses one YAML or JSON document (`kind` names it in messages: "YAML", "JSON"); an empty
 * document is undefined. Throws DocumentProblem.
 */
export function parseYamlText(text: string, kind = 'YAML'): unknown {
  const lines = new LineCounter();
  const place: Place = (offset) => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  checkFlowDepth(text, kind);
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  checkDepth(tokens, place, kind);
  const docs = new Composer(COMPOSER_OPTIONS).compose(tokens, true, text.length);
  const first = docs.next();
  const doc = first.done ? undefined : first.value;
  if (!doc) return undefined;
  const second = docs.next();
  if (!second.done)
    throw problemAt(
      place,
      second.value.range[0],
      `cannot parse ${kind}: ${yamlProblem('MULTIPLE_DOCS', '')}`,
    );
  const error: YAMLError | undefined = doc.errors[0];
  if (error)
    throw problemAt(place, error.pos[0], `cannot parse ${kind}: ${yamlProblem(error.code, error.message)}`);
  if (doc.contents === null) return undefined;
  return new Converter(place, kind).convert(doc.contents).value;
}
