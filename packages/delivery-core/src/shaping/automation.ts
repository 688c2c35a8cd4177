/**
 * Automation rules as data: does a remote reply match a rule (code, enhanced status, text regex —
 * every given field must match)? Pure; the Redis state that counts matches and holds suspensions
 * lives in site-state.ts.
 */
import type { AutomationRule } from './schema.js';

export interface ReplyLike {
  code: number;
  enhanced?: string | undefined;
  text: string;
}

const compiled = new WeakMap<AutomationRule, RegExp | null>();

function textPattern(rule: AutomationRule): RegExp | null {
  let pattern = compiled.get(rule);
  if (pattern === undefined) {
    pattern = rule.match.text === undefined ? null : new RegExp(rule.match.text, 'i');
    compiled.set(rule, pattern);
  }
  return pattern;
}

export function ruleMatches(rule: AutomationRule, reply: ReplyLike): boolean {
  const { code, enhanced } = rule.match;
  if (code !== undefined && reply.code !== code) return false;
  if (enhanced !== undefined && reply.enhanced !== enhanced) return false;
  const pattern = textPattern(rule);
  if (pattern && !pattern.test(reply.text)) return false;
  return true;
}
