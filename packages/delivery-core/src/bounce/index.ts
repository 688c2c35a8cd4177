/**
 * Bounce classification: why a recipient failed, in sisimai's reason vocabulary, whether the
 * address is dead (`hard`), what to do (`action`: retry, bounce, suppress) and the PowerMTA-style
 * category. Two entries:
 * - `classifyReply(reply)`: one SMTP reply of Herald's own delivery attempt; pure, synchronous,
 *   fast (the delivery path calls it per failed recipient; `retryView` is the reason + hard).
 * - `deferralReason(reply)`: why a deferred reply was deferred, for the retry classes: DEFERRAL_RULES
 *   (greylisting, Herald's own DNS / network stages, provider slow-down codes), else classifyReply.
 * - `classifyMessage(raw)`: a whole bounce message — RFC 3464 DSNs, the plain-text notices of
 *   MTAs without DSNs (qmail, Exim, Exchange, ...), ARF complaints (RFC 5965) and auto-replies
 *   (RFC 3834) — one Classification per recipient. Never throws: malformed input gives reason
 *   'undefined'.
 * Both are linear in their input and read at most what limits.ts allows (message bytes, header
 * fields, MIME parts and depth, recipients, diagnostic length), so foreign input cannot make them
 * slow.
 * Policy is data: the phrase lists (phrases.ts), the status-code table (status-codes.ts), the
 * ordered probes (probes.ts), provider tables, MTA wordings and the category table (vocabulary.ts);
 * operators add their own rules as a YAML file with examples (operator-rules.ts, checked by
 * rules-check.ts), tried first. Every Classification names the rule that decided it (`rule`).
 * No I/O.
 */
export type { Classification, ClassifyOptions } from './classify.js';
export {
  DEFERRAL_ONLY_REASONS,
  DEFERRAL_RULES,
  type DeferralReason,
  type DeferralRule,
  deferralReason,
  deferralRuleMatches,
} from './deferral.js';
export {
  MAX_ADDRESS_CHARS,
  MAX_DIAGNOSTIC_CHARS,
  MAX_FIELD_CHARS,
  MAX_HEADER_FIELDS,
  MAX_HEADER_VALUE_CHARS,
  MAX_HOSTS,
  MAX_MESSAGE_BYTES,
  MAX_MIME_DEPTH,
  MAX_MIME_PARTS,
  MAX_REPORT_RECIPIENTS,
} from './limits.js';
export { type BounceKind, type BounceReport, classifyMessage } from './message.js';
export {
  MAX_RULE_TEXT_CHARS,
  MAX_RULES_FILE_CHARS,
  type OperatorRule,
  type OperatorRules,
  parseOperatorRules,
  RulesFileError,
  unsafeRegexReason,
} from './operator-rules.js';
export { PHRASES, type Phrase } from './phrases.js';
export type { Fact, SmtpCommand } from './probes.js';
export { classifyReply, type RetryView, retryView } from './reply.js';
export { checkOperatorRules, type RuleCheckFailure } from './rules-check.js';
export { reasonOfStatus, STATUS_REASONS } from './status-codes.js';
export {
  type BounceAction,
  type BounceCategory,
  CATEGORY_BY_REASON,
  isReason,
  REASONS,
  type Reason,
} from './vocabulary.js';
