/**
 * Mailbox providers whose replies need their own reading: their hosts (suffixes of the remote
 * MTA's name or of the recipient's domain) and the codes or words they use for each reason, from
 * the providers' published error-code pages. A provider match states the reason outright.
 */
import type { Reason } from './vocabulary.js';

export interface Provider {
  name: string;
  /** Suffixes of the remote host name or of the recipient domain. */
  hosts: readonly string[];
  /** Patterns over the lower-cased diagnostic text, first match wins. */
  patterns: readonly (readonly [Reason, RegExp])[];
}

/** Orange / La Poste: the reason is the 3-digit number after the LPN/OFR/OUK label. */
function orangeCode(codes: string): RegExp {
  return new RegExp(`(?:lpn|ofr|ouk)[a-z0-9]*[_-]?\\d*?(?:${codes})\\b`);
}

export const PROVIDERS: readonly Provider[] = [
  {
    name: 'orange',
    hosts: ['.laposte.net', 'laposte.net', '.orange.fr', 'orange.fr', '.wanadoo.fr', 'wanadoo.fr'],
    patterns: [
      ['toomanyconn', orangeCode('104')],
      ['securityerror', orangeCode('305|402')],
      ['authfailure', orangeCode('401|517')],
      ['rejected', orangeCode('403|405|415|421')],
      ['userunknown', orangeCode('416')],
      ['mailboxfull', orangeCode('417')],
      ['suspend', orangeCode('420|426')],
      ['systemerror', orangeCode('505')],
      ['spamdetected', orangeCode('506')],
      ['mesgtoobig', orangeCode('514')],
      ['policyviolation', orangeCode('630')],
      ['blocked', orangeCode('101|102|103|510|999')],
      ['authfailure', /spf\/dns de votre nom de domaine/],
    ],
  },
  {
    name: 'kddi',
    hosts: ['.ezweb.ne.jp', 'ezweb.ne.jp', 'msmx.au.com'],
    patterns: [
      ['filtered', /550 : user unknown/],
      ['userunknown', />: user unknown/],
    ],
  },
  {
    name: 'microsoft',
    hosts: [
      '.outlook.com',
      '.hotmail.com',
      'hotmail.com',
      'outlook.com',
      '.onmicrosoft.com',
      '.exchangelabs.com',
    ],
    patterns: [
      ['userunknown', /recipientnotfound|requested action not taken: mailbox unavailable/],
      [
        'blocked',
        /access denied, banned sending ip|using customer block list|part of their network is on our block list/,
      ],
      ['expired', /queue expired; message expired|message expired, connection refused/],
    ],
  },
];

/** The provider serving `host` (a remote MTA name) or `domain` (the recipient's domain). */
export function providerFor(host: string | undefined, domain: string | undefined): Provider | undefined {
  const names = [host, domain].filter((n): n is string => !!n).map((n) => n.toLowerCase().replace(/\.$/, ''));
  return PROVIDERS.find((p) =>
    names.some((name) => p.hosts.some((suffix) => name === suffix || name.endsWith(suffix))),
  );
}

export function providerReason(provider: Provider, text: string): Reason | undefined {
  return provider.patterns.find(([, pattern]) => pattern.test(text))?.[0];
}
