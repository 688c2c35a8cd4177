/**
 * `herald bounce rules check FILE`: every example of every operator rule is classified with the
 * file's rules in force; an example passes when it gets the reason it names (default: its rule's)
 * and, when that is its rule's reason, its own rule decided it (an earlier rule that catches the
 * example first is reported). Pure.
 */
import { classifyFact } from './classify.js';
import { findCommand, findReplyCode, findStatusInText } from './decide.js';
import type { OperatorRules, RuleExample } from './operator-rules.js';
import type { Fact } from './probes.js';

export interface RuleCheckFailure {
  rule: string;
  example: number;
  expected: string;
  got: string;
  decidedBy: string;
}

/** The Fact of an example as a reply would give it: codes and command read from the text unless given. */
function exampleFact(example: RuleExample): Fact {
  const fact: Fact = { diagnostic: example.diagnostic };
  const replyCode = example.code ?? findReplyCode(example.diagnostic);
  if (replyCode !== undefined) fact.replyCode = replyCode;
  const status =
    example.status ?? findStatusInText(example.diagnostic, replyCode ? String(replyCode)[0] : undefined);
  if (status) fact.status = status;
  const command = example.command ?? findCommand(example.diagnostic);
  if (command) fact.command = command;
  return fact;
}

export function checkOperatorRules(rules: OperatorRules): RuleCheckFailure[] {
  const failures: RuleCheckFailure[] = [];
  for (const rule of rules.rules) {
    rule.examples.forEach((example, index) => {
      const context = example.host ? { address: '', remoteHost: example.host } : { address: '' };
      const got = classifyFact(exampleFact(example), context, { rules });
      const expected = example.reason ?? rule.reason;
      const ownRule = `operator:${rule.name}`;
      const mustDecide = expected === rule.reason;
      if (got.reason !== expected || (mustDecide && got.rule !== ownRule))
        failures.push({ rule: rule.name, example: index, expected, got: got.reason, decidedBy: got.rule });
    });
  }
  return failures;
}
