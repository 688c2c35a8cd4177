/**
 * Telecom, mobile and cable carriers' documented error codes and wordings (their postmaster
 * pages), one entry per carrier: Orange / La Poste (`LPN007_420`), KDDI, NTT DOCOMO, Verizon,
 * Spectrum (`AUP#I-1310`), Cox (`AUP#CXBL`). The labels name the reason by themselves; the rest
 * are the carriers' own sentences. Data only; providers.ts matches them.
 */
import type { Provider, ProviderRule } from './providers.js';

/**
 * Orange / La Poste: the reason is the 3-digit number after the LPN/OFR/OUK label (`LPN007_420`).
 * The label's parts are bounded, so a long run of letters and digits is not tried every way.
 */
function orange(codes: string, reason: ProviderRule['reason']): ProviderRule {
  return { reason, text: new RegExp(`(?:lpn|ofr|ouk)[a-z0-9]{0,16}[_-]?\\d{0,8}?(?:${codes})\\b`) };
}

const SPECTRUM_LABEL = /aup#[a-z]{0,16}-?(\d{4})/;

function spectrum(min: number, max: number, reason: ProviderRule['reason']): ProviderRule {
  return { reason, label: [SPECTRUM_LABEL, min, max] };
}

/** A Cox `AUP#` label (`AUP#CXBL`), standing on its own. */
function cox(labels: string, reason: ProviderRule['reason']): ProviderRule {
  return { reason, text: new RegExp(`aup#(?:${labels})(?![a-z0-9])`) };
}

export const CARRIER_PROVIDERS: readonly Provider[] = [
  {
    name: 'orange',
    hosts: ['laposte.net', 'orange.fr', 'wanadoo.fr'],
    rules: [
      orange('104', 'toomanyconn'),
      orange('305|402', 'securityerror'),
      orange('401|517', 'authfailure'),
      orange('403|405|415|421', 'rejected'),
      orange('416', 'userunknown'),
      orange('417', 'mailboxfull'),
      orange('420|426', 'suspend'),
      orange('505', 'systemerror'),
      orange('506', 'spamdetected'),
      orange('514', 'mesgtoobig'),
      orange('630', 'policyviolation'),
      orange('101|102|103|510|999', 'blocked'),
      { reason: 'authfailure', text: 'spf/dns de votre nom de domaine' },
    ],
  },
  {
    name: 'kddi',
    hosts: ['ezweb.ne.jp', 'msmx.au.com'],
    rules: [
      { reason: 'filtered', text: '550 : user unknown' },
      { reason: 'userunknown', text: '>: user unknown' },
    ],
  },
  {
    name: 'nttdocomo',
    hosts: ['mfsmax.docomo.ne.jp', 'docomo.ne.jp'],
    rules: [
      { reason: 'mailboxfull', text: '552 too much mail data' },
      { reason: 'toomanyconn', text: '552 too many recipients' },
      { reason: 'syntaxerror', text: '503 bad sequence of commands' },
      { reason: 'syntaxerror', text: '504 command parameter not implemented' },
      { reason: 'userunknown', status: '5.1.1' },
      { reason: 'filtered', status: '5.2.0' },
      // DOCOMO answers "550 Unknown user" at RCPT for a missing user, after DATA for a refusal.
      { reason: 'userunknown', status: '5.0.0', commands: ['RCPT'] },
      { reason: 'rejected', status: '5.0.0', commands: ['DATA'] },
    ],
  },
  {
    name: 'verizon',
    hosts: ['vtext.com', 'vzwpix.com'],
    rules: [
      { reason: 'userunknown', text: '550 - requested action not taken: no such user here' },
      { reason: 'userunknown', text: 'no valid recipients for this mm' },
    ],
  },
  {
    name: 'spectrum',
    hosts: ['charter.net', 'spectrum.net'],
    rules: [
      spectrum(1000, 1000, 'blocked'),
      spectrum(1010, 1080, 'rejected'),
      spectrum(1090, 1090, 'systemerror'),
      spectrum(1100, 1150, 'requireptr'),
      spectrum(1160, 1190, 'policyviolation'),
      spectrum(1200, 1250, 'blocked'),
      spectrum(1260, 1260, 'networkerror'),
      spectrum(1300, 1340, 'toomanyconn'),
      spectrum(1350, 1490, 'speeding'),
      spectrum(1500, 1520, 'rejected'),
      spectrum(1530, 1530, 'mesgtoobig'),
      spectrum(1540, 1550, 'speeding'),
      spectrum(1560, 1560, 'policyviolation'),
      spectrum(1580, 1580, 'speeding'),
    ],
  },
  {
    name: 'cox',
    hosts: ['cox.net'],
    rules: [
      cox('cxbl|cdrbl|ipbl[01]{4,5}', 'blocked'),
      cox('cxdns', 'requireptr'),
      cox('cxsndr', 'authfailure'),
      cox('cxsmtp', 'rejected'),
      cox('cxcnct|cxmxrt', 'toomanyconn'),
      cox('cxthrt|cxmj', 'securityerror'),
      cox('urlbl[01]{3,4}', 'spamdetected'),
      { reason: 'blocked', text: 'cox too many bad commands from' },
      { reason: 'blocked', text: 'too many invalid recipients' },
      { reason: 'requireptr', text: 'dns check failure - try again later' },
      { reason: 'requireptr', text: 'rejected - no rdns' },
      { reason: 'policyviolation', text: 'esmtp no data before greeting' },
      { reason: 'policyviolation', text: 'attachment extension is forbidden' },
      { reason: 'systemerror', text: 'esmtp server temporarily not available' },
      { reason: 'toomanyconn', text: 'too many sessions from' },
      { reason: 'toomanyconn', text: 'requested action aborted: try again later' },
      { reason: 'toomanyconn', text: 'message threshold exceeded' },
      { reason: 'userunknown', text: 'recipient rejected' },
      { reason: 'rejected', text: 'sender rejected' },
    ],
  },
];
