/**
 * The automation rules shipped in shaping/providers.yaml: each one matches the provider's
 * documented reply (as Herald parses it: code, enhanced code, text without them) and nothing
 * generic, and does what its comment says.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProviderDefaults, type ReplyLike, ruleMatches } from '../src/shaping/index.js';
import { parseReply } from '../src/smtp/reply.js';

/** The shipped rules that match `line` (a raw SMTP reply), by index. */
function matching(line: string): number[] {
  const reply = parseReply(line, 'rcpt') as ReplyLike;
  return loadProviderDefaults()
    .automation.map((rule, i) => (ruleMatches(rule, reply) ? i : -1))
    .filter((i) => i >= 0);
}

describe('shipped automation rules', () => {
  const rules = loadProviderDefaults().automation;

  it('Gmail 4.7.28: slow the site after 3 within 5 minutes', () => {
    const hit = matching(
      '421 4.7.28 [192.0.2.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.',
    );
    assert.equal(hit.length, 1);
    assert.deepEqual(rules[hit[0]!]!.action, { slow_to: { count: 60, periodMs: 60_000 }, for: 3_600_000 });
    assert.deepEqual(rules[hit[0]!]!.threshold, { count: 3, within: 300_000 });
  });

  it('Microsoft 4.7.650: suspend the source IP at the site for an hour', () => {
    const hit = matching(
      '451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)',
    );
    assert.equal(hit.length, 1);
    assert.deepEqual(rules[hit[0]!]!.action, { suspend_source: 3_600_000 });
  });

  it('Microsoft consumer "server busy": suspend the site after 5 within 5 minutes', () => {
    const hit = matching(
      '421 4.7.500 Server busy. Please try again later from [192.0.2.10]. (S77719) [x.outlook.com]',
    );
    assert.equal(hit.length, 1);
    assert.deepEqual(rules[hit[0]!]!.action, { suspend: 900_000 });
  });

  it('Yahoo [TSS04]/[TS01]/[TS02]: suspend the site; [TS03]: suspend the source IP for a day', () => {
    for (const code of ['TSS04', 'TS01', 'TS02']) {
      const hit = matching(
        `421 4.7.0 [${code}] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes`,
      );
      assert.equal(hit.length, 1, code);
      assert.deepEqual(rules[hit[0]!]!.action, { suspend: 1_800_000 });
    }
    const hit = matching(
      '421 4.7.0 [TS03] All messages from 192.0.2.10 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes',
    );
    assert.equal(hit.length, 1);
    assert.deepEqual(rules[hit[0]!]!.action, { suspend_source: 86_400_000 });
  });

  it('generic deferrals match none of them', () => {
    for (const line of [
      '421 4.7.0 Try again later, closing connection.',
      '451 4.7.1 Greylisting in action, please come back later',
      '452 4.2.2 The email account that you tried to reach is over quota.',
      '421 4.3.2 Service not available, closing transmission channel',
    ])
      assert.deepEqual(matching(line), [], line);
  });
});
