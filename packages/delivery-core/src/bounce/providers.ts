/**
 * Mailbox providers and filtering services whose replies need their own reading: their hosts
 * (suffixes of the recipient's domain, the remote MTA, the hosts named in the diagnostic, the
 * reporting MTA or the bounce's Received hops) and the codes or words they document for each
 * reason. A provider rule states the reason outright; the tables are data (provider-microsoft.ts,
 * provider-google.ts, provider-carriers.ts, provider-webmail.ts, provider-services.ts), this
 * file only matches them.
 */

import type { SmtpCommand } from './probes.js';
import { CARRIER_PROVIDERS } from './provider-carriers.js';
import { GOOGLE_RULES } from './provider-google.js';
import { MICROSOFT } from './provider-microsoft.js';
import { SERVICE_PROVIDERS } from './provider-services.js';
import { WEBMAIL_PROVIDERS } from './provider-webmail.js';
import type { Reason } from './vocabulary.js';

/**
 * One documented failure: every condition given must hold. `text` is a lower-case substring of
 * the normalised diagnostic (or a pattern over it); `status` is an enhanced code, exact or
 * `[prefix, min, max]` for a range of the last number ("5.7." 606..649), or "x.7.1" for either class.
 */
export interface ProviderRule {
  reason: Reason;
  text?: string | RegExp;
  status?: string | readonly [string, number, number];
  replyCodes?: readonly number[];
  commands?: readonly SmtpCommand[];
  /** A numbered label in the text (`AUP#In-1310`): the number must lie within [min, max]. */
  label?: readonly [RegExp, number, number];
}

export interface Provider {
  name: string;
  /** Host names or domains: a name matches itself and every name below it. */
  hosts: readonly string[];
  /** Tried in order, first match wins. */
  rules: readonly ProviderRule[];
}

/** What a provider rule is tested against. */
export interface ProviderInput {
  /** The diagnostic, lower-cased with white space collapsed. */
  text: string;
  status?: string;
  replyCode?: number;
  command?: SmtpCommand;
}

const GOOGLE: Provider = {
  name: 'google',
  hosts: ['aspmx.l.google.com', 'gmail-smtp-in.l.google.com'],
  rules: GOOGLE_RULES,
};

export const PROVIDERS: readonly Provider[] = [
  MICROSOFT,
  GOOGLE,
  ...CARRIER_PROVIDERS,
  ...WEBMAIL_PROVIDERS,
  ...SERVICE_PROVIDERS,
];

function hostMatches(name: string, suffix: string): boolean {
  const bare = suffix.startsWith('.') ? suffix.slice(1) : suffix;
  return name === bare || name.endsWith(`.${bare}`);
}

/** Cleans a host name as MTAs print it: `[192.0.2.1]`, `mx.example.jp.`, `dns; mx (1.2.3.4)`. */
export function cleanHost(value: string): string {
  const first = value.trim().split(/[\s(]/)[0] ?? '';
  return first
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Every provider serving one of `hosts`, in the order the hosts are given, once each. */
export function providersFor(hosts: readonly (string | undefined)[]): Provider[] {
  const found: Provider[] = [];
  for (const host of hosts) {
    if (!host) continue;
    const name = cleanHost(host);
    if (!name.includes('.')) continue;
    for (const provider of PROVIDERS) {
      if (found.includes(provider)) continue;
      if (provider.hosts.some((suffix) => hostMatches(name, suffix))) found.push(provider);
    }
  }
  return found;
}

/** The first provider serving `host` (a remote MTA name) or `domain` (the recipient's domain). */
export function providerFor(host: string | undefined, domain: string | undefined): Provider | undefined {
  return providersFor([domain, host])[0];
}

function statusMatches(rule: ProviderRule['status'], status: string | undefined): boolean {
  if (rule === undefined) return true;
  if (!status) return false;
  if (typeof rule === 'string')
    return rule.startsWith('x.') ? status.slice(1) === rule.slice(1) : status === rule;
  const [prefix, min, max] = rule;
  if (!status.startsWith(prefix)) return false;
  const detail = Number(status.slice(prefix.length));
  return Number.isInteger(detail) && detail >= min && detail <= max;
}

function ruleMatches(rule: ProviderRule, input: ProviderInput): boolean {
  if (!statusMatches(rule.status, input.status)) return false;
  if (rule.replyCodes && !rule.replyCodes.includes(input.replyCode ?? 0)) return false;
  if (rule.commands && !(input.command && rule.commands.includes(input.command))) return false;
  if (rule.label) {
    const [re, min, max] = rule.label;
    const number = Number(re.exec(input.text)?.[1] ?? Number.NaN);
    if (!(number >= min && number <= max)) return false;
  }
  if (rule.text === undefined) return true;
  return typeof rule.text === 'string' ? input.text.includes(rule.text) : rule.text.test(input.text);
}

/** The reason a provider's rules give for this failure, if any. */
export function providerReason(provider: Provider, input: ProviderInput | string): Reason | undefined {
  const given = typeof input === 'string' ? { text: input } : input;
  if (!given.text) return undefined;
  return provider.rules.find((rule) => ruleMatches(rule, given))?.reason;
}
