/**
 * Webmail and mailbox providers' documented error codes and wordings (their postmaster pages),
 * one entry per provider: Yahoo, AOL, Tencent (QQ), Zoho, i.ua (its numbered error pages). Data
 * only; providers.ts matches them.
 */
import type { Provider, ProviderRule } from './providers.js';

/** One I.UA error page number (`https://mail.i.ua/err/4/`) and its reason. */
function iua(code: number, reason: ProviderRule['reason']): ProviderRule {
  return { reason, text: new RegExp(`\\.i\\.ua/err/${code}(?![0-9])`) };
}

export const WEBMAIL_PROVIDERS: readonly Provider[] = [
  {
    name: 'yahoo',
    hosts: ['yahoodns.net'],
    rules: [
      { reason: 'authfailure', text: 'yahoo requires all senders to authenticate with either spf or dkim' },
      { reason: 'blocked', text: " because the ip is in spamhaus's list;" },
      { reason: 'blocked', text: 'not accepted from ip addresses on spamhaus xbl' },
      { reason: 'norelaying', text: 'relaying denied for ' },
      { reason: 'notcompliantrfc', text: 'headers are not rfc compliant' },
      { reason: 'policyviolation', text: 'not accepted for policy reasons' },
      { reason: 'rejected', text: 'temporarily deferred due to unexpected volume or user complaints' },
      { reason: 'rejected', text: 'due to unresolvable rfc.5321 domain' },
      { reason: 'rejected', text: ' will be permanently deferred' },
      { reason: 'speeding', text: 'user is receiving mail too quickly' },
      { reason: 'suspend', text: ' is no longer valid.' },
      { reason: 'suspend', text: 'this mailbox is disabled' },
      { reason: 'syntaxerror', text: 'syntax error in parameters or arguments' },
      { reason: 'toomanyconn', text: 'max message per connection reached' },
      { reason: 'userunknown', text: "dd this user doesn't have a " },
      { reason: 'userunknown', text: 'mailbox not found' },
    ],
  },
  {
    name: 'aol',
    hosts: ['mail.aol.com', 'mx.aol.com'],
    rules: [
      { reason: 'hostunknown', text: 'host or domain name not found' },
      { reason: 'notaccept', text: 'type=mx: malformed or unexpected name server reply' },
    ],
  },
  {
    name: 'tencent',
    hosts: ['qq.com'],
    rules: [
      { reason: 'authfailure', text: 'spf check failed' },
      { reason: 'authfailure', text: 'dmarc check failed' },
      { reason: 'blocked', text: 'suspected bounce attacks' },
      { reason: 'blocked', text: 'suspected spam ip' },
      { reason: 'blocked', text: 'connection denied' },
      { reason: 'mesgtoobig', text: 'message too large' },
      { reason: 'rejected', text: 'suspected spam' },
      { reason: 'rejected', text: 'mail is rejected by recipients' },
      { reason: 'spamdetected', text: 'spam is embedded in the email' },
      { reason: 'spamdetected', text: 'mail content denied' },
      { reason: 'speeding', text: 'mailbox unavailable or access denined' },
      { reason: 'speeding', text: 'frequency of receiving messages is limited' },
      { reason: 'suspend', text: 'is a deactivated mailbox' },
      { reason: 'syntaxerror', text: 'bad address syntax' },
      { reason: 'toomanyconn', text: /\b(?:ip|domain|sender|connection) frequency limited\b/ },
      { reason: 'userunknown', text: 'mailbox not found' },
    ],
  },
  {
    name: 'zoho',
    hosts: ['zoho.com', 'zohomail.com', 'zoho.eu', 'zoho.in'],
    rules: [
      { reason: 'authfailure', text: 'email rejected per dmarc policy' },
      { reason: 'blocked', text: 'greylisted, try again after some time' },
      { reason: 'rejected', text: 'email cannot be delivered. reason: email flagged as spam' },
      { reason: 'rejected', text: 'mail rejected by destination domain' },
      { reason: 'policyviolation', text: 'email policy violation detected' },
      { reason: 'policyviolation', text: 'mailbox delivery restricted by policy error' },
      { reason: 'systemerror', text: 'temporary system error' },
      { reason: 'userunknown', text: 'user does not exist' },
      { reason: 'virusdetected', text: ' detected by zoho mail' },
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
