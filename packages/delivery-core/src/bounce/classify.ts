/**
 * One Classification from one Fact: the reason from the decision table, then the status code,
 * hard flag, action and category that follow from it. Shared by classifyReply (our own SMTP
 * replies) and classifyMessage (bounce messages).
 */
import { splitAddress } from '../address/index.js';
import { decideReason } from './decide.js';
import { MAX_DIAGNOSTIC_CHARS, MAX_HOSTS } from './limits.js';
import { normaliseText } from './phrases.js';
import { type Fact, RECONSIDERED, type SmtpCommand } from './probes.js';
import { type ProviderInput, providerReason, providersFor } from './providers.js';
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

/** The reason a provider's documented codes give, trying the recipient's domain first. */
function reasonByProvider(fact: Fact, context: FactContext): Reason | undefined {
  const providers = providersFor([
    splitAddress(context.address)?.domain,
    context.remoteHost,
    ...(context.hosts ?? []).slice(0, MAX_HOSTS),
  ]);
  if (providers.length === 0) return undefined;
  const input: ProviderInput = { text: normaliseText(fact.diagnostic) };
  if (fact.status) input.status = fact.status;
  if (fact.replyCode !== undefined) input.replyCode = fact.replyCode;
  if (fact.command) input.command = fact.command;
  for (const provider of providers) {
    const reason = providerReason(provider, input);
    if (reason) return reason;
  }
  return undefined;
}

/** Never throws; reads at most MAX_DIAGNOSTIC_CHARS of the diagnostic. */
export function classifyFact(given: Fact, extra: FactContext): Classification {
  const fact =
    given.diagnostic.length > MAX_DIAGNOSTIC_CHARS
      ? { ...given, diagnostic: given.diagnostic.slice(0, MAX_DIAGNOSTIC_CHARS) }
      : given;
  const settled = fact.reason !== undefined && !RECONSIDERED.has(fact.reason);
  const byProvider = settled ? undefined : reasonByProvider(fact, extra);
  const reason = byProvider ?? decideReason(fact);
  const permanent = isPermanent(fact);
  const hard = isHard(reason, permanent);
  const result: Classification = {
    address: extra.address,
    reason,
    hard,
    status: fact.status ?? null,
    action: actionFor(reason, hard, permanent),
    category: CATEGORY_BY_REASON[reason],
    diagnostic: fact.diagnostic,
  };
  if (fact.replyCode !== undefined) result.replyCode = fact.replyCode;
  if (fact.command) result.command = fact.command;
  if (extra.remoteHost) result.remoteHost = extra.remoteHost;
  if (extra.feedbackType) result.feedbackType = extra.feedbackType;
  return result;
}
