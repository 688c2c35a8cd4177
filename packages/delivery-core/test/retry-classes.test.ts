import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFERRAL_RULES, deferralReason, deferralRuleMatches } from '../src/bounce/index.js';
import { dnsTransient } from '../src/dns/failures.js';
import { type SmtpReply, type SmtpStage, toDeliveryError } from '../src/errors/index.js';
import {
  DEFAULT_RETRY_POLICY,
  RETRY_CLASS_BY_REASON,
  RETRY_CLASSES,
  type RetryClass,
  type RetryPolicy,
  retryClassOf,
  retryDecision,
  retryDecisionForReplies,
  scheduleFor,
} from '../src/retry/index.js';
import { connectError, parseReply, wireError } from '../src/smtp/reply.js';
import { WireFailure } from '../src/smtp/wire.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const middle = () => 0.5;
const lowest = () => 0;
const highest = () => 0.999999;

/** A reply as the SMTP client records it from the raw text a server sent. */
const remote = (raw: string, stage: SmtpStage = 'rcpt'): SmtpReply =>
  parseReply(raw, stage, 'mx.example.org');
/** What our own SMTP client reports for a connection that failed after it was established. */
const ours = (kind: WireFailure['kind'], code: string, message: string, stage: SmtpStage): SmtpReply =>
  wireError(new WireFailure(kind, message, code), stage, 'mx.example.org').reply;

/** One real-world reply per rule of DEFERRAL_RULES (by index); the rule must be the first to match. */
const CASES: { rule: number; who: string; reply: SmtpReply }[] = [
  {
    rule: 0,
    who: 'our resolver: SERVFAIL',
    reply: dnsTransient('DNS lookup of example.org MX failed: SERVFAIL').reply,
  },
  {
    rule: 1,
    who: 'our resolver: unexpected error',
    reply: toDeliveryError(new Error('socket hang up'), 'dns').reply,
  },
  {
    rule: 2,
    who: 'Postgrey',
    reply: remote(
      '450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html',
    ),
  },
  {
    rule: 2,
    who: 'milter-greylist',
    reply: remote('451 4.7.1 Greylisting in action, please come back in 00:05:00'),
  },
  {
    rule: 3,
    who: 'Gmail OverQuotaTemp',
    reply: remote(
      '452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n452-4.2.2 the recipient to\r\n452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp a1si1234567qkb.12 - gsmtp',
    ),
  },
  {
    rule: 4,
    who: 'an older server without enhanced status',
    reply: remote('452 Mailbox full, try again later'),
  },
  {
    rule: 4,
    who: 'Dovecot LMTP quota, relayed with 4.3.1',
    reply: remote('451 4.3.1 <bob@example.org>: Quota exceeded (mailbox for user is full)'),
  },
  {
    rule: 5,
    who: 'Gmail UnsolicitedRateLimitError',
    reply: remote(
      '421-4.7.28 [192.0.2.1      15] Our system has detected an unusual rate of\r\n421-4.7.28 unsolicited mail originating from your IP address. To protect our\r\n421-4.7.28 users from spam, mail sent from your IP address has been temporarily\r\n421-4.7.28 rate limited. Please visit\r\n421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\r\n421 4.7.28 review our Bulk Email Senders Guidelines. a1si1234567qkb.12 - gsmtp',
    ),
  },
  {
    rule: 6,
    who: 'Microsoft IP reputation',
    reply: remote(
      '451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [Name=Protocol Filter Agent][AGT=PFA][MxId=11B9F5E4A8C2D7B1] [BN8NAM12FT064.eop-nam12.prod.protection.outlook.com]',
    ),
  },
  {
    // sisimai set-of-emails rhost-yahooinc-02 (shared/corpus/bounces), BSD-2.
    rule: 7,
    who: 'Yahoo TSS04 at MAIL FROM',
    reply: remote(
      '421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
      'mail',
    ),
  },
  {
    rule: 8,
    who: 'a 4.7.0 deferral without a Yahoo tag',
    reply: remote(
      '451 4.7.0 Messages from 192.0.2.1 temporarily deferred, see https://postmaster.example.net',
    ),
  },
  {
    rule: 9,
    who: 'Gmail at EHLO',
    reply: remote(
      '421-4.7.0 Try again later, closing connection. (EHLO)\r\n421-4.7.0  For more information, go to\r\n421 4.7.0  https://support.google.com/a/answer/3221692 a1-20020a17090a000100b002aa - gsmtp',
      'ehlo',
    ),
  },
  {
    rule: 10,
    who: 'Gmail ReceivingRate',
    reply: remote(
      '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n450-4.2.1 prevents additional messages from being delivered. Please resend your\r\n450-4.2.1 message at a later time. If the user is able to receive mail at that\r\n450-4.2.1 time, your message will be delivered. For more information, go to\r\n450 4.2.1  https://support.google.com/mail/?p=ReceivingRate d2si1234567qkb.12 - gsmtp',
    ),
  },
  {
    rule: 10,
    who: 'Orange at the greeting',
    reply: remote(
      '421 mwinf5c14 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR005_104 [104]',
      'greeting',
    ),
  },
  {
    rule: 10,
    who: 'Microsoft server busy',
    reply: remote(
      '451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714) [DM6NAM12FT018.eop-nam12.prod.protection.outlook.com]',
    ),
  },
  { rule: 11, who: 'rspamd greylisting', reply: remote('451 4.7.1 Try again later') },
  {
    rule: 12,
    who: 'ours: connection refused',
    reply: connectError('connect to 192.0.2.1:25 failed: ECONNREFUSED', 'mx.example.org').reply,
  },
  {
    rule: 12,
    who: 'ours: timeout during DATA',
    reply: ours(
      'timeout',
      'ETIMEDOUT',
      'timed out after 600000 ms while waiting for the reply to the end of data',
      'data',
    ),
  },
  {
    rule: 12,
    who: 'a receiver out of disk',
    reply: remote('452 4.4.5 Insufficient disk space; try again later'),
  },
  {
    rule: 13,
    who: 'ours: TLS handshake failed',
    reply: ours('tls', 'ETLS', 'TLS handshake failed: unable to verify the first certificate', 'starttls'),
  },
  {
    rule: 13,
    who: 'remote TLS trouble',
    reply: remote('454 4.7.0 TLS not available due to local problem', 'starttls'),
  },
  {
    rule: 14,
    who: 'Postfix without reverse DNS for us',
    reply: remote('450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]'),
  },
  { rule: 15, who: 'a remote refusing the session', reply: remote('421 Service not available', 'greeting') },
];

const firstRule = (reply: SmtpReply) => DEFERRAL_RULES.findIndex((rule) => deferralRuleMatches(rule, reply));

/** The class each case had under the old reply → class rule table (by rule index), kept. */
const CLASS_OF_RULE: readonly RetryClass[] = [
  'dns',
  'dns',
  'greylisted',
  'mailbox_full',
  'mailbox_full',
  'throttled',
  'throttled',
  'throttled',
  'throttled',
  'throttled',
  'throttled',
  'greylisted',
  'network',
  'network',
  'policy',
  'network',
];

describe('retryClassOf: one real-world reply per deferral rule, through the reason table', () => {
  for (const { rule, who, reply } of CASES) {
    const expected = CLASS_OF_RULE[rule]!;
    test(`${who}: ${reply.code} ${reply.enhanced ?? ''} → ${expected} (rule ${rule})`, () => {
      assert.equal(firstRule(reply), rule, `first matching rule for "${reply.text}"`);
      assert.equal(deferralReason(reply), DEFERRAL_RULES[rule]!.reason);
      assert.equal(RETRY_CLASS_BY_REASON[DEFERRAL_RULES[rule]!.reason], expected);
      assert.equal(retryClassOf(reply), expected);
    });
  }

  test('every rule of the table has a case', () => {
    const covered = new Set(CASES.map((c) => c.rule));
    assert.deepEqual(
      DEFERRAL_RULES.map((_, index) => index).filter((index) => !covered.has(index)),
      [],
    );
  });

  test("a transient reply no rule knows takes the classifier's reason", () => {
    const cases: [SmtpReply, RetryClass][] = [
      [remote('451 4.3.0 Error: queue file write error'), 'default'],
      // The sender's domain is the problem: the classifier's `rejected`, a policy backoff.
      [remote('450 4.1.8 <a@origin.test>: Sender address rejected: Domain not found'), 'policy'],
      [
        { code: 451, enhanced: '4.3.0', text: 'no reply recorded for recipient', stage: 'rcpt' as const },
        'default',
      ],
    ];
    for (const [reply, cls] of cases) {
      assert.equal(firstRule(reply), -1, reply.text);
      assert.equal(retryClassOf(reply), cls, reply.text);
    }
  });
});

describe('scheduleFor', () => {
  const policy = DEFAULT_RETRY_POLICY;

  test('network, dns and default use the site schedule as it is', () => {
    for (const cls of ['network', 'dns', 'default'] as const)
      assert.equal(scheduleFor(policy, cls), policy.scheduleMs);
  });

  test('greylisted retries soon, then joins the site schedule where it is longer', () => {
    assert.deepEqual(
      scheduleFor(policy, 'greylisted'),
      [1, 6, 10, 20, 40, 80, 120, 240].map((m) => m * MINUTE),
    );
  });

  test('throttled, mailbox_full and policy back off on their own, capped at the longest site delay', () => {
    assert.deepEqual(scheduleFor(policy, 'throttled'), [15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR]);
    assert.deepEqual(scheduleFor(policy, 'mailbox_full'), [HOUR, 2 * HOUR, 4 * HOUR, 4 * HOUR]);
    assert.deepEqual(scheduleFor(policy, 'policy'), [30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR]);
    const patient = { ...policy, scheduleMs: [...policy.scheduleMs, 12 * HOUR] };
    assert.deepEqual(scheduleFor(patient, 'mailbox_full'), [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR]);
  });

  test('a site with a short schedule keeps every class that short', () => {
    const quick: RetryPolicy = { scheduleMs: [300], jitter: 0, maxQueueLifetimeMs: MINUTE };
    for (const cls of RETRY_CLASSES) {
      assert.ok(
        scheduleFor(quick, cls).every((ms) => ms === 300),
        cls,
      );
    }
  });

  test('refuses an empty site schedule', () => {
    assert.throws(() => scheduleFor({ ...policy, scheduleMs: [] }, 'throttled'), RangeError);
  });
});

describe('retryDecision with a retry class', () => {
  const enqueued = 1_000_000;
  const at = (cls: RetryClass | undefined, attemptsMade: number, random = middle) => {
    const decision = retryDecision(DEFAULT_RETRY_POLICY, {
      attemptsMade,
      firstAttemptAt: enqueued,
      now: enqueued,
      random,
      ...(cls ? { retryClass: cls } : {}),
    });
    assert.equal(decision.action, 'retry');
    return decision.action === 'retry' ? decision.at - enqueued : Number.NaN;
  };

  test('the delay for attempt N comes from the class schedule', () => {
    assert.equal(at('greylisted', 1), MINUTE);
    assert.equal(at('greylisted', 2), 6 * MINUTE);
    assert.equal(at('greylisted', 5), 40 * MINUTE);
    assert.equal(at('throttled', 2), 30 * MINUTE);
    assert.equal(at('mailbox_full', 1), HOUR);
    assert.equal(at('policy', 9), 4 * HOUR);
  });

  test('without a class, and with a site-schedule class, the delay is the policy schedule', () => {
    for (const n of [1, 3, 12]) {
      assert.equal(at(undefined, n), at('default', n));
      assert.equal(at('network', n), at('dns', n));
      assert.equal(at(undefined, n), at('network', n));
    }
    assert.equal(at(undefined, 1), 5 * MINUTE);
  });

  test('jitter spreads a class delay by ± the policy fraction', () => {
    assert.equal(at('throttled', 1, lowest), 12 * MINUTE);
    assert.equal(at('throttled', 1, highest), 18 * MINUTE);
    assert.equal(at('greylisted', 1, lowest), 48_000);
    assert.ok(at('greylisted', 1, highest) <= 72_000);
  });

  test('a class retry that would pass the deadline is pulled in to it; at the deadline it expires', () => {
    const deadline = enqueued + DEFAULT_RETRY_POLICY.maxQueueLifetimeMs;
    const args = { attemptsMade: 20, firstAttemptAt: enqueued, retryClass: 'mailbox_full' as const };
    assert.deepEqual(retryDecision(DEFAULT_RETRY_POLICY, { ...args, now: deadline - MINUTE }), {
      action: 'retry',
      at: deadline,
    });
    assert.deepEqual(retryDecision(DEFAULT_RETRY_POLICY, { ...args, now: deadline }), { action: 'expire' });
  });

  test('over the 5-day lifetime a full mailbox is tried less often, and 8-hourly when the site allows', () => {
    const attemptsOver5Days = (policy: RetryPolicy, cls: RetryClass) => {
      let now = 0;
      let attempts = 1;
      for (;;) {
        const decision = retryDecision(policy, {
          attemptsMade: attempts,
          firstAttemptAt: 0,
          now,
          retryClass: cls,
          random: middle,
        });
        if (decision.action === 'expire') return attempts;
        now = decision.at;
        attempts++;
      }
    };
    const patient = { ...DEFAULT_RETRY_POLICY, scheduleMs: [...DEFAULT_RETRY_POLICY.scheduleMs, 8 * HOUR] };
    assert.equal(DEFAULT_RETRY_POLICY.maxQueueLifetimeMs, 5 * DAY);
    assert.deepEqual(
      {
        ordinary: attemptsOver5Days(DEFAULT_RETRY_POLICY, 'default'),
        full: attemptsOver5Days(DEFAULT_RETRY_POLICY, 'mailbox_full'),
        fullAtPatientSite: attemptsOver5Days(patient, 'mailbox_full'),
      },
      { ordinary: 36, full: 33, fullAtPatientSite: 19 },
    );
  });
});

describe('retryDecisionForReplies: one job, several deferred recipients', () => {
  const enqueued = 1_000_000;
  const base = { firstAttemptAt: enqueued, now: enqueued, random: middle };
  const throttled = CASES.find((c) => c.rule === 5)!.reply;
  const greylisted = CASES.find((c) => c.rule === 2)!.reply;
  const full = CASES.find((c) => c.rule === 3)!.reply;
  const refused = CASES.find((c) => c.rule === 12)!.reply;

  test('the job retries at the earliest time any recipient asks for, and names that class', () => {
    const decision = retryDecisionForReplies(DEFAULT_RETRY_POLICY, {
      ...base,
      attemptsMade: 1,
      replies: [throttled, greylisted, full],
    });
    assert.deepEqual(decision, {
      action: 'retry',
      at: enqueued + MINUTE,
      retryClass: 'greylisted',
      classes: ['throttled', 'greylisted', 'mailbox_full'],
    });
  });

  test('which class is earliest depends on the attempt', () => {
    const replies = [full, refused];
    const first = retryDecisionForReplies(DEFAULT_RETRY_POLICY, { ...base, attemptsMade: 1, replies });
    assert.equal(first.retryClass, 'network');
    assert.equal(first.action === 'retry' && first.at, enqueued + 5 * MINUTE);
    const later = retryDecisionForReplies(DEFAULT_RETRY_POLICY, { ...base, attemptsMade: 4, replies });
    assert.equal(later.retryClass, 'network');
    assert.equal(later.action === 'retry' && later.at, enqueued + 40 * MINUTE);
  });

  test('equal delays go to the first reply, and jitter applies once', () => {
    const quick: RetryPolicy = { scheduleMs: [1000], jitter: 0.5, maxQueueLifetimeMs: MINUTE };
    const decision = retryDecisionForReplies(quick, {
      ...base,
      random: lowest,
      attemptsMade: 1,
      replies: [full, throttled],
    });
    assert.deepEqual(decision, {
      action: 'retry',
      at: enqueued + 500,
      retryClass: 'mailbox_full',
      classes: ['mailbox_full', 'throttled'],
    });
  });

  test('expiry still comes at the deadline, with the classes for the expired events', () => {
    const decision = retryDecisionForReplies(DEFAULT_RETRY_POLICY, {
      ...base,
      now: enqueued + DEFAULT_RETRY_POLICY.maxQueueLifetimeMs,
      attemptsMade: 30,
      replies: [throttled],
    });
    assert.deepEqual(decision, { action: 'expire', retryClass: 'throttled', classes: ['throttled'] });
  });

  test('a classifier can be injected (default: retryClassOf, rules then the bounce reason)', () => {
    const decision = retryDecisionForReplies(DEFAULT_RETRY_POLICY, {
      ...base,
      attemptsMade: 1,
      replies: [refused],
      classify: () => 'mailbox_full',
    });
    assert.equal(decision.retryClass, 'mailbox_full');
    assert.equal(decision.action === 'retry' && decision.at, enqueued + HOUR);
  });

  test('refuses an empty list of replies', () => {
    assert.throws(
      () => retryDecisionForReplies(DEFAULT_RETRY_POLICY, { ...base, attemptsMade: 1, replies: [] }),
      RangeError,
    );
  });
});
