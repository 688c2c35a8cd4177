import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyMessage } from '../src/bounce/index.js';
import { normaliseText } from '../src/bounce/phrases.js';
import {
  PROVIDERS,
  type ProviderInput,
  type ProviderRule,
  providerReason,
  providersFor,
} from '../src/bounce/providers.js';

/** The smallest input a rule describes: its own words, code, reply code and command. */
function exampleOf(rule: ProviderRule): ProviderInput | undefined {
  const input: ProviderInput = { text: '' };
  if (typeof rule.text === 'string') input.text = rule.text;
  else if (rule.text) return undefined;
  if (typeof rule.status === 'string') input.status = rule.status;
  else if (rule.status) input.status = `${rule.status[0]}${rule.status[1]}`;
  if (rule.replyCodes) input.replyCode = rule.replyCodes[0];
  if (rule.commands) input.command = rule.commands[0];
  if (rule.label) input.text = `${input.text} aup#in-${rule.label[1]}`;
  if (!input.text) input.text = 'x';
  return input;
}

describe('provider tables', () => {
  test('every worded rule is reachable: its own example gives a reason of the provider', () => {
    for (const provider of PROVIDERS) {
      assert.ok(provider.hosts.length > 0 && provider.rules.length > 0, provider.name);
      for (const rule of provider.rules) {
        const input = exampleOf(rule);
        if (!input) continue;
        assert.ok(providerReason(provider, input), `${provider.name}: ${JSON.stringify(rule)}`);
        if (typeof rule.text === 'string') {
          assert.equal(rule.text.toLowerCase(), rule.text, `${provider.name}: "${rule.text}" has upper case`);
          assert.doesNotMatch(rule.text, /\s{2,}|[\t\n]/, `${provider.name}: "${rule.text}"`);
        }
      }
    }
  });

  test('a provider is found by its domain, its MX, or a host of the bounce, at a label boundary', () => {
    assert.deepEqual(
      providersFor(['charter.net']).map((p) => p.name),
      ['spectrum'],
    );
    assert.deepEqual(
      providersFor(['[mx3.QQ.com.]', 'x.prod.outlook.com']).map((p) => p.name),
      ['tencent', 'microsoft'],
    );
    assert.deepEqual(providersFor(['notqq.com', 'vtext.example.com', 'localhost']), []);
  });

  test('Microsoft codes need the code and the words: 5.1.10 recipient not found is an unknown user', () => {
    const microsoft = providersFor(['bn1.prod.outlook.com'])[0];
    assert.ok(microsoft);
    const text = normaliseText(
      '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
    );
    assert.equal(providerReason(microsoft, { text, status: '5.1.10' }), 'userunknown');
    assert.equal(
      providerReason(microsoft, { text: 'access denied, banned sending ip [192.0.2.1]', status: '5.7.606' }),
      'blocked',
    );
    assert.equal(providerReason(microsoft, { text: 'some other words', status: '5.1.10' }), undefined);
  });

  test('labels: Facebook RCP-P2, GoDaddy IB607, Spectrum AUP#In-1310, NTT DOCOMO by command', () => {
    const named = (name: string) => PROVIDERS.find((p) => p.name === name)!;
    assert.equal(providerReason(named('facebook'), '550 5.1.1 rcp-p2 refused'), 'filtered');
    assert.equal(
      providerReason(named('godaddy'), '550 too many recipients this hour. ib607 <http://x.co>'),
      'speeding',
    );
    assert.equal(providerReason(named('spectrum'), '550 5.1.0 sender rejected. aup#in-1310'), 'toomanyconn');
    const docomo = named('nttdocomo');
    const unknown = '550 unknown user x@docomo.ne.jp';
    assert.equal(providerReason(docomo, { text: unknown, status: '5.0.0', command: 'RCPT' }), 'userunknown');
    assert.equal(providerReason(docomo, { text: unknown, status: '5.0.0', command: 'DATA' }), 'rejected');
  });

  test('Google: the reply and status detail without class, and the words', () => {
    const google = providersFor(['alt1.gmail-smtp-in.l.google.com'])[0];
    assert.equal(google?.name, 'google');
    const text = normaliseText(
      '550-5.7.1 Messages with multiple addresses in From: header are not accepted. - gsmtp',
    );
    assert.equal(providerReason(google!, { text, status: '5.7.1', replyCode: 550 }), 'notcompliantrfc');
    assert.equal(providerReason(google!, { text, status: '5.7.1', replyCode: 554 }), undefined);
  });

  test('a Sendmail DSN keeps the first line of a multi-line reply; the transcript gives the rest', () => {
    const raw = [
      'From: MAILER-DAEMON@mx.sender.test',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      '',
      '   ----- Transcript of session follows -----',
      '... while talking to gmail-smtp-in.l.google.com.:',
      '>>> DATA',
      '<<< 550-5.7.1 [192.0.2.1      13] Messages with multiple addresses in From:',
      '<<< 550 5.7.1 header are not accepted. x.26 - gsmtp',
      '',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.sender.test',
      '',
      'Final-Recipient: RFC822; bob@rcpt.test',
      'Action: failed',
      'Status: 5.7.1',
      'Remote-MTA: DNS; gmail-smtp-in.l.google.com',
      'Diagnostic-Code: SMTP; 550-5.7.1 [192.0.2.1      13] Messages with multiple addresses in From:',
      '--b--',
    ].join('\n');
    const [first] = classifyMessage(raw).recipients;
    assert.equal(first?.reason, 'notcompliantrfc');
    assert.equal(first?.command, 'DATA');
    assert.match(first?.diagnostic ?? '', /header are not accepted/);
  });

  test('a DSN whose hosts name no provider is read by the generic rules', () => {
    const raw = [
      'From: MAILER-DAEMON@mx.sender.test',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.sender.test',
      '',
      'Diagnostic-Code: smtp; 550 5.1.10 Recipient not found',
      'Status: 5.1.10',
      'Final-Recipient: rfc822; bob@rcpt.test',
      'Action: failed',
      '--b--',
    ].join('\n');
    const [first] = classifyMessage(raw).recipients;
    assert.equal(first?.address, 'bob@rcpt.test', 'fields before Final-Recipient still belong to it');
    assert.equal(first?.status, '5.1.10');
    assert.notEqual(first?.reason, 'userunknown');
  });
});
