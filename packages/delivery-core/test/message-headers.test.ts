import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findHeader, prepareMessage, rfc5322Date } from '../src/message/index.js';

const trace = {
  helo: 'client.test',
  clientAddress: '127.0.0.1',
  by: 'relay.test',
  protocol: 'ESMTPSA',
  id: 'abc123',
};
const now = new Date(Date.UTC(2026, 10, 25, 12, 0, 0));

describe('headers added at intake', () => {
  it('adds Received on top and Message-ID / Date when missing, keeping the original bytes after them', () => {
    const raw = Buffer.from('From: a@b.test\r\nSubject: hi\r\n\r\nbody\r\n');
    const prepared = prepareMessage(raw, { ...trace, for: 'x@y.test' }, now);
    const text = prepared.body.toString();
    assert.ok(
      text.startsWith(
        'Received: from client.test (127.0.0.1)\r\n\tby relay.test (Herald) with ESMTPSA id abc123\r\n\tfor <x@y.test>;\r\n\tWed, 25 Nov 2026 12:00:00 +0000\r\n',
      ),
    );
    assert.equal(prepared.messageIdHeader, '<abc123@relay.test>');
    assert.ok(
      text.includes('\r\nMessage-ID: <abc123@relay.test>\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\n'),
    );
    assert.ok(prepared.body.subarray(prepared.body.length - raw.length).equals(raw));
  });

  it('keeps an existing Message-ID and Date (any case) and adds only Received', () => {
    const raw = Buffer.from('message-id: <orig@x>\r\nDATE: Tue, 1 Jan 2026 00:00:00 +0000\r\n\r\nbody');
    const prepared = prepareMessage(raw, trace, now);
    assert.equal(prepared.addedHeaders.length, 1);
    assert.equal(prepared.messageIdHeader, '<orig@x>');
  });

  it('uses bare LF when the message does, and ignores header names that only appear in the body', () => {
    const raw = Buffer.from('Subject: x\n\nMessage-ID: <not-a-header@x>\n');
    const prepared = prepareMessage(raw, trace, now);
    assert.equal(prepared.addedHeaders.length, 3);
    assert.ok(!prepared.body.includes('\r\n'));
    assert.equal(findHeader(prepared.body, 'message-id'), '<abc123@relay.test>');
  });

  it('formats RFC 5322 dates', () => {
    assert.equal(rfc5322Date(now), 'Wed, 25 Nov 2026 12:00:00 +0000');
  });
});
