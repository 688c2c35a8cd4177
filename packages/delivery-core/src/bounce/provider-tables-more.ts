/**
 * More providers' documented error codes and wordings (their postmaster pages): Cox (its AUP#
 * labels), Cloudflare Email Routing, i.ua (its numbered error pages). Data only; providers.ts
 * matches them like the tables of provider-tables.ts.
 */
import type { Provider, ProviderRule } from './providers.js';

/** One I.UA error page number (`https://mail.i.ua/err/4/`) and its reason. */
function iua(code: number, reason: ProviderRule['reason']): ProviderRule {
  return { reason, text: new RegExp(`\\.i\\.ua/err/${code}(?![0-9])`) };
}

/** A Cox `AUP#` label (`AUP#CXBL`), standing on its own. */
function cox(labels: string, reason: ProviderRule['reason']): ProviderRule {
  return { reason, text: new RegExp(`aup#(?:${labels})(?![a-z0-9])`) };
}

export const MORE_PROVIDERS: readonly Provider[] = [
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
  {
    name: 'cloudflare',
    hosts: ['mx.cloudflare.net'],
    rules: [
      { reason: 'blocked', text: 'found on one or more dnsbls' },
      { reason: 'systemerror', text: 'upstream error' },
    ],
  },
  {
    name: 'iua',
    hosts: ['email.ua', 'i.ua'],
    rules: [
      iua(1, 'norelaying'),
      iua(2, 'userunknown'),
      iua(3, 'suspend'),
      iua(4, 'mailboxfull'),
      iua(5, 'toomanyconn'),
      iua(6, 'norelaying'),
      iua(7, 'blocked'),
      iua(8, 'rejected'),
      iua(9, 'blocked'),
      iua(10, 'filtered'),
    ],
  },
];
