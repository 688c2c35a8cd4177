/**
 * One Classification from one Fact: the reason from the decision table, then the status code,
 * hard flag, action and category that follow from it. Shared by classifyReply (our own SMTP
 * replies) and classifyMessage (bounce messages).
 */
import { splitAddress } from '../address/index.js';
import { type DecisionTrace, decideReason } from './decide.js';
import { MAX_DIAGNOSTIC_CHARS, MAX_HOSTS } from './limits.js';
import { type OperatorRules, operatorRuleFor } from './operator-rules.js';
import { normaliseText } from './phrases.js';
import { type Fact, RECONSIDERED, type SmtpCommand } from './probes.js';
import { cleanHost, type ProviderInput, providerReason, providersFor } from './providers.js';
import { statusIsPermanent } from './status-codes.js';
import {
  actionFor,
  type BounceAction,
  type BounceCategory,
  CATEGORY_BY_REASON,
  isHard,
  type Reason,
} from './vocabulary.js';

export interface Classification {
  /** The recipient address, lower-cased ('' when a reply is classified without one). */
  address: string;
  reason: Reason;
  /** sisimai's hardbounce: the address will never accept mail. */
  hard: boolean;
  /** Enhanced status code, e.g. "5.1.1"; null when none was given or found. */
  status: string | null;
  action: BounceAction;
  category: BounceCategory;
  replyCode?: number;
  command?: SmtpCommand;
  /** The diagnostic text the reason was read from. */
  diagnostic: string;
  remoteHost?: string;
  /** ARF feedback type (abuse, fraud, opt-out, ...) when reason is 'feedback'. */
  feedbackType?: string;
  /**
   * Which rule or step decided the reason (`herald bounce classify --explain`): `operator:NAME`,
   * `provider:NAME`, `probe:REASON`, `second-pass:REASON`, `mta-phrase`, `format-stated`, ...
   */
  rule: string;
}

/** How classifyMessage / classifyReply read: operator rules first; `generic` turns vendor tables off. */
export interface ClassifyOptions {
  /** Operator rules (parseOperatorRules), tried before the built-in tables. */
  rules?: OperatorRules;
  /**
   * Provider tables and MTA wordings off: what the generic rules alone decide (scripts/bounce-eval.mjs
   * --generic estimates mail of a format the tables were not written for).
   */
  generic?: boolean;
}

/** True for a permanent failure: 5.x.x status, else 5xx reply, else a DSN action of failed. */
export function isPermanent(fact: Fact): boolean {
  const byStatus = statusIsPermanent(fact.status);
  if (byStatus !== undefined) return byStatus;
  if (fact.replyCode !== undefined) return fact.replyCode >= 500;
  return fact.action !== 'delayed';
}

export interface FactContext {
  address: string;
  remoteHost?: string;
  feedbackType?: string;
  /** More hosts that may name a provider: hosts in the diagnostic, the reporting MTA, Received hops. */
  hosts?: readonly string[];
}

function hostsOf(context: FactContext): (string | undefined)[] {
  return [
    splitAddress(context.address)?.domain,
    context.remoteHost,
    ...(context.hosts ?? []).slice(0, MAX_HOSTS),
  ];
}

/** The reason a provider's documented codes give, trying the recipient's domain first. */
function reasonByProvider(fact: Fact, context: FactContext): { reason: Reason; rule: string } | undefined {
  const providers = providersFor(hostsOf(context));
  if (providers.length === 0) return undefined;
  const input: ProviderInput = { text: normaliseText(fact.diagnostic) };
  if (fact.status) input.status = fact.status;
  if (fact.replyCode !== undefined) input.replyCode = fact.replyCode;
  if (fact.command) input.command = fact.command;
  for (const provider of providers) {
    const reason = providerReason(provider, input);
    if (reason) return { reason, rule: `provider:${provider.name}` };
  }
  return undefined;
}

function byOperator(fact: Fact, context: FactContext, rules: OperatorRules) {
  const input = {
    text: normaliseText(fact.diagnostic),
    hosts: hostsOf(context).flatMap((host) => (host ? [cleanHost(host)] : [])),
    ...(fact.status ? { status: fact.status } : {}),
    ...(fact.replyCode !== undefined ? { replyCode: fact.replyCode } : {}),
    ...(fact.command ? { command: fact.command } : {}),
  };
  return operatorRuleFor(rules, input);
}

/** Never throws; reads at most MAX_DIAGNOSTIC_CHARS of the diagnostic. */
export function classifyFact(given: Fact, extra: FactContext, options: ClassifyOptions = {}): Classification {
  const fact =
    given.diagnostic.length > MAX_DIAGNOSTIC_CHARS
      ? { ...given, diagnostic: given.diagnostic.slice(0, MAX_DIAGNOSTIC_CHARS) }
      : given;
  const settled = fact.reason !== undefined && !RECONSIDERED.has(fact.reason);
  const operator = settled || !options.rules ? undefined : byOperator(fact, extra, options.rules);
  const byProvider = settled || operator || options.generic ? undefined : reasonByProvider(fact, extra);
  const trace: DecisionTrace = {};
  const reason = operator?.reason ?? byProvider?.reason ?? decideReason(fact, trace, options.generic);
  const rule = operator ? `operator:${operator.name}` : (byProvider?.rule ?? trace.rule ?? 'none');
  const permanent = isPermanent(fact);
  const hard = operator?.hard ?? isHard(reason, permanent);
  const result: Classification = {
    address: extra.address,
    reason,
    hard,
    status: fact.status ?? null,
    action: actionFor(reason, hard, permanent),
    category: CATEGORY_BY_REASON[reason],
    diagnostic: fact.diagnostic,
    rule,
  };
  if (fact.replyCode !== undefined) result.replyCode = fact.replyCode;
  if (fact.command) result.command = fact.command;
  if (extra.remoteHost) result.remoteHost = extra.remoteHost;
  if (extra.feedbackType) result.feedbackType = extra.feedbackType;
  return result;
}
