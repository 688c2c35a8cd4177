/**
 * The operator rules of `herald bounce`: `loadBounceRules` reads the file named by `--rules` or
 * by the config's `bounce.rules_file` (`--config`), and `runRulesCheck` is `herald bounce rules
 * check FILE`: it parses the file (errors name the key, e.g. `rules[2].match.regex`) and runs every
 * rule's examples, printing one line per failing example; exit 0 when all pass, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import {
  checkOperatorRules,
  type OperatorRules,
  parseOperatorRules,
  RulesFileError,
} from '@herald/delivery-core/bounce';
import { ConfigError, loadConfigFile } from '@herald/delivery-core/config';
import { CliExit, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';

function readRules(file: string): OperatorRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliExit(EXIT_FAILURE, 'HERALD_FILE_UNREADABLE', `bounce rules: ${(err as Error).message}`);
  }
  try {
    return parseOperatorRules(text, file);
  } catch (err) {
    if (!(err instanceof RulesFileError)) throw err;
    throw new CliExit(EXIT_FAILURE, err.code, err.message);
  }
}

/** The rules in force for `classify`: `--rules FILE`, else the config's `bounce.rules_file`, else none. */
export function loadBounceRules(
  rules: string | undefined,
  config: string | undefined,
  io: CliIo,
): OperatorRules | undefined {
  if (rules) return readRules(rules);
  if (!config) return undefined;
  let file: string | undefined;
  try {
    file = loadConfigFile(config, { env: io.env }).bounce?.rules_file;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CliExit(EXIT_FAILURE, err.code, err.message);
  }
  return file ? readRules(file) : undefined;
}

export function runRulesCheck(file: string, io: CliIo): number {
  const rules = readRules(file);
  const failures = checkOperatorRules(rules);
  for (const f of failures)
    io.stdout.write(
      `FAIL ${f.rule} example ${f.example + 1}: expected ${f.expected}, got ${f.got} (decided by ${f.decidedBy})\n`,
    );
  const examples = rules.rules.reduce((n, rule) => n + rule.examples.length, 0);
  io.stdout.write(`${rules.rules.length} rules, ${examples} examples, ${failures.length} failed\n`);
  if (failures.length === 0) return EXIT_OK;
  printError(io, 'HERALD_BOUNCE_RULES_INVALID', `${file}: ${failures.length} example(s) failed`);
  return EXIT_FAILURE;
}
