/**
 * Operator bounce rules: a YAML file (`bounce.rules_file`, `herald bounce classify --rules`) of
 * rules tried before the built-in tables, each with its own examples that `herald bounce rules
 * check FILE` runs. A rule matches when every condition it gives holds:
 *   status (enhanced codes, exact or a prefix ending in "."), code (basic reply codes),
 *   command (SMTP stage), host (recipient domain, remote MTA or a host the bounce names, with
 *   subdomains), contains (lower-case substrings, all present in that order), regex (a restricted
 *   pattern, see SAFE_REGEX_RULES) on the diagnostic lower-cased with white space collapsed;
 * then it names the reason (sisimai's vocabulary) and optionally `hard`.
 * Linear: substrings are the operator's own (bounded length), a regex sees at most
 * MAX_RULE_TEXT_CHARS of the diagnostic and must pass `unsafeRegexReason` (no backreferences,
 * lookaround, repeated groups, at most one unbounded quantifier, a bounded product of the
 * quantifiers' choices); a file is at most MAX_RULES_FILE_CHARS. Parsing errors carry
 * the path of the offending key (`rules[2].match.regex: ...`).
 */
import { parse } from 'yaml';
import type { HeraldErrorCode } from '../errors/index.js';
import type { SmtpCommand } from './probes.js';
import { isReason, REASONS, type Reason } from './vocabulary.js';

/** A regex sees at most this much of the (normalised) diagnostic. */
export const MAX_RULE_TEXT_CHARS = 2048;
/** Longest pattern or substring a rule may hold. */
export const MAX_RULE_PATTERN_CHARS = 512;
/** A bounded quantifier `{n,m}` may allow at most this many repeats. */
const MAX_BOUNDED_REPEAT = 32;
/** Quantifiers in one pattern (`?`, `*`, `+`, `{n,m}`). */
const MAX_QUANTIFIERS = 4;
/**
 * The product of the quantifiers' choices (`?`: 2, `{n,m}`: m - n + 1, unbounded:
 * MAX_RULE_TEXT_CHARS) bounds how often a match tried at one position can backtrack; at most
 * this many. `a{1,32}a{1,32}a{1,32}a{1,32}x` (32⁴) took 10 s on 2 KiB of "a", and
 * `[\s\S]{0,32}.{0,32}.{0,32}[\s\S]*x` 150 s; at this bound (`.*` with one `?`, or
 * `a{1,8}a{1,16}a{1,32}x`) the worst case is tens of milliseconds.
 */
const MAX_BACKTRACK_CHOICES = 4096;
/** Longest rules file (characters): 1,000 rules of about 1 KiB; the YAML parser is not linear in it. */
export const MAX_RULES_FILE_CHARS = 1_048_576;
/** Rules in one file. */
export const MAX_OPERATOR_RULES = 1000;

const COMMANDS: readonly SmtpCommand[] = ['CONN', 'EHLO', 'HELO', 'STARTTLS', 'AUTH', 'MAIL', 'RCPT', 'DATA'];

/** What a rule (and each of its examples) is tested against. */
export interface RuleInput {
  /** The diagnostic, lower-cased, white space collapsed. */
  text: string;
  status?: string;
  replyCode?: number;
  command?: SmtpCommand;
  /** Recipient domain, remote MTA and other hosts the bounce names (lower case). */
  hosts: readonly string[];
}

export interface RuleExample {
  diagnostic: string;
  status?: string;
  code?: number;
  command?: SmtpCommand;
  host?: string;
  /** The reason this example must get (default: the rule's). */
  reason?: Reason;
}

export interface OperatorRule {
  name: string;
  reason: Reason;
  hard?: boolean;
  status?: readonly string[];
  codes?: readonly number[];
  commands?: readonly SmtpCommand[];
  hosts?: readonly string[];
  contains?: readonly string[];
  regex?: RegExp;
  examples: readonly RuleExample[];
}

export interface OperatorRules {
  source: string;
  rules: readonly OperatorRule[];
}

export class RulesFileError extends Error {
  readonly code: HeraldErrorCode = 'HERALD_BOUNCE_RULES_INVALID';
}

/**
 * Why a pattern could take more than linear-ish time, or undefined when it is acceptable.
 * SAFE_REGEX_RULES: no backreference or lookaround; no repeated group (`(...)?` is fine); at most
 * MAX_QUANTIFIERS quantifiers, of which at most one unbounded (`*`, `+`, `{n,}`); `{n,m}` with
 * m ≤ MAX_BOUNDED_REPEAT; the product of their choices at most MAX_BACKTRACK_CHOICES.
 */
export function unsafeRegexReason(source: string): string | undefined {
  if (source.length > MAX_RULE_PATTERN_CHARS) return `longer than ${MAX_RULE_PATTERN_CHARS} characters`;
  if (/\\[1-9]|\\k</.test(source)) return 'backreferences are not allowed';
  if (/\(\?<?[=!]/.test(source)) return 'lookahead and lookbehind are not allowed';
  let quantifiers = 0;
  let unbounded = 0;
  let choices = 1;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    const quantified = c === '*' || c === '+' || c === '?' || c === '{';
    if (!quantified) continue;
    const previous = source[i - 1];
    // `(?:` and a lazy `*?` are not quantifiers of their own.
    if (c === '?' && (previous === '(' || previous === '*' || previous === '+' || previous === '}')) continue;
    if (previous === ')' && c !== '?') return 'a repeated group is not allowed (an optional one is)';
    quantifiers++;
    if (c === '*' || c === '+') {
      unbounded++;
      choices *= MAX_RULE_TEXT_CHARS;
    } else if (c === '?') choices *= 2;
    if (c === '{') {
      const bound = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!bound) return 'a "{" that is not a quantifier must be escaped';
      if (bound[2] !== undefined && bound[3] === '') {
        unbounded++;
        choices *= MAX_RULE_TEXT_CHARS;
      } else if (Number(bound[3] ?? bound[1]) > MAX_BOUNDED_REPEAT)
        return `a bounded repeat above ${MAX_BOUNDED_REPEAT}`;
      else choices *= Math.max(1, Number(bound[3] ?? bound[1]) - Number(bound[1]) + 1);
      i += bound[0].length - 1;
    }
  }
  if (choices > MAX_BACKTRACK_CHOICES)
    return `its quantifiers allow too many ways to match (${choices} at one position, at most ${MAX_BACKTRACK_CHOICES}); use fewer or narrower repeats, or contains`;
  if (unbounded > 1) return 'at most one unbounded quantifier (* + {n,}); use contains for words in order';
  if (quantifiers > MAX_QUANTIFIERS) return `more than ${MAX_QUANTIFIERS} quantifiers`;
  return undefined;
}

function fail(path: string, message: string): never {
  throw new RulesFileError(`${path}: ${message}`);
}

function listOf<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): T[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail(path, 'expected at least one entry');
  return list.map((v, i) => item(v, Array.isArray(value) ? `${path}[${i}]` : path));
}

function textOf(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') fail(path, 'expected a non-empty string');
  if (value.length > MAX_RULE_PATTERN_CHARS) fail(path, `longer than ${MAX_RULE_PATTERN_CHARS} characters`);
  return value;
}

function statusOf(value: unknown, path: string): string {
  const text = String(value);
  if (!/^[245](?:\.\d{1,3}){0,2}\.?$/.test(text))
    fail(path, 'expected an enhanced status like 5.1.1 or a prefix like 5.7.');
  return text;
}

function codeOf(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 200 || value > 599)
    fail(path, 'expected an SMTP reply code 200..599');
  return value;
}

function commandOf(value: unknown, path: string): SmtpCommand {
  const command = String(value).toUpperCase() as SmtpCommand;
  if (!COMMANDS.includes(command)) fail(path, `expected one of ${COMMANDS.join(', ')}`);
  return command;
}

function reasonOf(value: unknown, path: string): Reason {
  if (typeof value !== 'string' || !isReason(value))
    fail(path, `expected one of the reasons ${REASONS.join(', ')}`);
  return value;
}

function regexOf(value: unknown, path: string): RegExp {
  const source = textOf(value, path);
  const unsafe = unsafeRegexReason(source);
  if (unsafe) fail(path, unsafe);
  try {
    return new RegExp(source, 'i');
  } catch (err) {
    return fail(path, (err as Error).message);
  }
}

function exampleOf(value: unknown, path: string): RuleExample {
  if (typeof value === 'string') return { diagnostic: value };
  if (!value || typeof value !== 'object')
    fail(path, 'expected a diagnostic text or {diagnostic, status, ...}');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v))
    if (!['diagnostic', 'status', 'code', 'command', 'host', 'reason'].includes(key))
      fail(`${path}.${key}`, 'unknown key');
  const example: RuleExample = { diagnostic: textOf(v['diagnostic'], `${path}.diagnostic`) };
  if (v['status'] !== undefined) example.status = statusOf(v['status'], `${path}.status`);
  if (v['code'] !== undefined) example.code = codeOf(v['code'], `${path}.code`);
  if (v['command'] !== undefined) example.command = commandOf(v['command'], `${path}.command`);
  if (v['host'] !== undefined) example.host = textOf(v['host'], `${path}.host`).toLowerCase();
  if (v['reason'] !== undefined) example.reason = reasonOf(v['reason'], `${path}.reason`);
  return example;
}

const RULE_KEYS = ['name', 'match', 'reason', 'hard', 'examples'];
const MATCH_KEYS = ['status', 'code', 'command', 'host', 'contains', 'regex'];

function ruleOf(value: unknown, path: string): OperatorRule {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    fail(path, 'expected a rule {name, match, reason, examples}');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (!RULE_KEYS.includes(key)) fail(`${path}.${key}`, 'unknown key');
  const match = (v['match'] ?? {}) as Record<string, unknown>;
  if (typeof match !== 'object' || Array.isArray(match))
    fail(`${path}.match`, 'expected a map of conditions');
  for (const key of Object.keys(match))
    if (!MATCH_KEYS.includes(key)) fail(`${path}.match.${key}`, 'unknown key');
  if (Object.keys(match).length === 0)
    fail(`${path}.match`, `expected at least one of ${MATCH_KEYS.join(', ')}`);
  const rule: OperatorRule = {
    name: textOf(v['name'], `${path}.name`),
    reason: reasonOf(v['reason'], `${path}.reason`),
    examples:
      listOf(v['examples'], `${path}.examples`, exampleOf) ??
      fail(`${path}.examples`, 'expected at least one example'),
  };
  if (v['hard'] !== undefined) {
    if (typeof v['hard'] !== 'boolean') fail(`${path}.hard`, 'expected true or false');
    rule.hard = v['hard'];
  }
  const status = listOf(match['status'], `${path}.match.status`, statusOf);
  if (status) rule.status = status;
  const codes = listOf(match['code'], `${path}.match.code`, codeOf);
  if (codes) rule.codes = codes;
  const commands = listOf(match['command'], `${path}.match.command`, commandOf);
  if (commands) rule.commands = commands;
  const hosts = listOf(match['host'], `${path}.match.host`, (h, p) =>
    textOf(h, p).toLowerCase().replace(/^\./, ''),
  );
  if (hosts) rule.hosts = hosts;
  const contains = listOf(match['contains'], `${path}.match.contains`, (t, p) =>
    textOf(t, p).toLowerCase().replace(/\s+/g, ' '),
  );
  if (contains) rule.contains = contains;
  if (match['regex'] !== undefined) rule.regex = regexOf(match['regex'], `${path}.match.regex`);
  return rule;
}

/** Reads a rules file's text (YAML: `rules: [...]`). Throws RulesFileError naming the path. */
export function parseOperatorRules(text: string, source = 'rules'): OperatorRules {
  if (text.length > MAX_RULES_FILE_CHARS)
    throw new RulesFileError(`${source}: longer than ${MAX_RULES_FILE_CHARS} characters`);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new RulesFileError(`${source}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { rules?: unknown }).rules))
    throw new RulesFileError(`${source}: expected a map with a "rules" list`);
  const list = (doc as { rules: unknown[] }).rules;
  if (list.length > MAX_OPERATOR_RULES)
    throw new RulesFileError(`${source}: more than ${MAX_OPERATOR_RULES} rules`);
  try {
    const rules = list.map((rule, i) => ruleOf(rule, `rules[${i}]`));
    const names = new Set<string>();
    rules.forEach((rule, i) => {
      if (names.has(rule.name)) fail(`rules[${i}].name`, `"${rule.name}" is used twice`);
      names.add(rule.name);
    });
    return { source, rules };
  } catch (err) {
    if (err instanceof RulesFileError) throw new RulesFileError(`${source}: ${err.message}`);
    throw err;
  }
}

function hostMatches(hosts: readonly string[], wanted: readonly string[]): boolean {
  return hosts.some((host) => wanted.some((w) => host === w || host.endsWith(`.${w}`)));
}

function inOrder(text: string, words: readonly string[]): boolean {
  let from = 0;
  for (const word of words) {
    const at = text.indexOf(word, from);
    if (at < 0) return false;
    from = at + word.length;
  }
  return true;
}

export function operatorRuleMatches(rule: OperatorRule, input: RuleInput): boolean {
  if (rule.status) {
    const status = input.status;
    if (!status || !rule.status.some((s) => (s.endsWith('.') ? status.startsWith(s) : status === s)))
      return false;
  }
  if (rule.codes && !rule.codes.includes(input.replyCode ?? 0)) return false;
  if (rule.commands && !(input.command && rule.commands.includes(input.command))) return false;
  if (rule.hosts && !hostMatches(input.hosts, rule.hosts)) return false;
  if (rule.contains && !inOrder(input.text, rule.contains)) return false;
  if (rule.regex && !rule.regex.test(input.text.slice(0, MAX_RULE_TEXT_CHARS))) return false;
  return true;
}

/** The first operator rule that matches, if any. */
export function operatorRuleFor(
  rules: OperatorRules | undefined,
  input: RuleInput,
): OperatorRule | undefined {
  return rules?.rules.find((rule) => operatorRuleMatches(rule, input));
}
