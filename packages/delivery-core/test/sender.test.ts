import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addListUnsubscribe,
  dmarcProblem,
  fromHeaderDomain,
  senderDomainAllowed,
} from '../src/sender/index.js';

describe('sender domains', () => {
  it('reads the From domain from common forms, folded lines included', () => {
    assert.equal(fromHeaderDomain(Buffer.from('From: "A, B" <a@Shop.Test>\r\n\r\n')), 'shop.test');
    assert.equal(fromHeaderDomain(Buffer.from('From: a@shop.test\n\n')), 'shop.test');
    assert.equal(
      fromHeaderDomain(Buffer.from('From: =?utf-8?q?Shop?=\r\n <news@mail.shop.test>\r\n\r\n')),
      'mail.shop.test',
    );
    assert.equal(
      fromHeaderDomain(Buffer.from('Subject: x\r\n\r\nFrom: a@b.test\r\n')),
      undefined,
      'only the header block',
    );
  });

  it('allows the domain and its subdomains only; an empty list allows any', () => {
    assert.ok(senderDomainAllowed(['shop.test'], 'shop.test'));
    assert.ok(senderDomainAllowed(['shop.test'], 'eu.mail.shop.test'));
    assert.ok(!senderDomainAllowed(['shop.test'], 'badshop.test'));
    assert.ok(!senderDomainAllowed(['shop.test'], undefined));
    assert.ok(senderDomainAllowed([], 'anything.test'));
  });
});

describe('List-Unsubscribe for bulk streams', () => {
  const raw = Buffer.from('From: news@shop.test\r\nSubject: sale\r\n\r\nbody\r\n');
  const policy = {
    https: 'https://shop.test/u?r={recipient}&m={message_id}',
    mailto: 'unsub@shop.test',
    streams: ['bulk'],
  };

  it('adds both headers (one-click with https) on top; the rest stays byte for byte', () => {
    const out = addListUnsubscribe(raw, policy, {
      stream: 'bulk',
      recipients: ['a+b@x.test'],
      messageId: 'm1',
    });
    const text = out.toString();
    assert.ok(
      text.startsWith(
        'List-Unsubscribe: <https://shop.test/u?r=a%2Bb%40x.test&m=m1>, <mailto:unsub@shop.test?subject=unsubscribe>\r\n' +
          'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n',
      ),
      text,
    );
    assert.ok(out.subarray(out.length - raw.length).equals(raw));
  });

  it('leaves other streams, messages with their own header, and mailto-only without the Post header', () => {
    assert.equal(
      addListUnsubscribe(raw, policy, { stream: 'transactional', recipients: [], messageId: 'm' }),
      raw,
    );
    const own = Buffer.from(`List-Unsubscribe: <mailto:x@y>\r\n${raw}`);
    assert.equal(addListUnsubscribe(own, policy, { stream: 'bulk', recipients: [], messageId: 'm' }), own);
    const mailtoOnly = addListUnsubscribe(
      raw,
      { mailto: 'u@shop.test', streams: ['bulk'] },
      {
        stream: 'bulk',
        recipients: ['a@x.test', 'b@x.test'],
        messageId: 'm',
      },
    ).toString();
    assert.match(mailtoOnly, /^List-Unsubscribe: <mailto:u@shop\.test\?subject=unsubscribe>\r\nFrom:/);
  });

  it('with several recipients {recipient} is left empty', () => {
    const out = addListUnsubscribe(
      raw,
      { https: 'https://s.test/u?r={recipient}', streams: ['bulk'] },
      {
        stream: 'bulk',
        recipients: ['a@x.test', 'b@x.test'],
        messageId: 'm',
      },
    );
    assert.match(out.toString(), /^List-Unsubscribe: <https:\/\/s\.test\/u\?r=>\r\n/);
  });
});

describe("DMARC on Herald's path", () => {
  it('passes when a signing domain or the return path aligns (relaxed, organizational domain)', () => {
    assert.equal(
      dmarcProblem({ fromDomain: 'shop.test', returnPathDomain: undefined, dkimDomains: ['mail.shop.test'] }),
      undefined,
    );
    assert.equal(
      dmarcProblem({ fromDomain: 'news.shop.test', returnPathDomain: 'bounces.shop.test', dkimDomains: [] }),
      undefined,
    );
    assert.equal(
      dmarcProblem({ fromDomain: 'shop.co.uk', returnPathDomain: 'b.shop.co.uk', dkimDomains: [] }),
      undefined,
    );
  });

  it('fails when neither aligns, naming both', () => {
    assert.equal(
      dmarcProblem({
        fromDomain: 'bank.test',
        returnPathDomain: 'bounces.herald.test',
        dkimDomains: ['platform.test'],
      }),
      'DMARC would fail for bank.test: DKIM d=platform.test and return path bounces.herald.test are not aligned with it',
    );
    assert.match(
      dmarcProblem({ fromDomain: 'other.co.uk', returnPathDomain: 'shop.co.uk', dkimDomains: [] })!,
      /no DKIM key/,
    );
    assert.equal(
      dmarcProblem({ fromDomain: undefined, returnPathDomain: 'x.test', dkimDomains: [] }),
      'the message has no From domain',
    );
  });
});
