/**
 * The 8-bit → 7-bit conversion for next hops without 8BITMIME (message/seven-bit.ts), the DSN
 * request's checks (dsn/params.ts) and the wire parameters (smtp/params.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envidProblem, parseNotify, parseOrcpt, wantsReport } from '../src/dsn/index.js';
import { toSevenBit } from '../src/message/index.js';
import { rcptParameters, wireForm, xtext } from '../src/smtp/index.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');
const ext = { pipelining: true, starttls: false, smtputf8: false, dsn: false, auth: [], eightBitMime: false };

describe('toSevenBit', () => {
  it('keeps a 7-bit message as the same buffer', () => {
    const message = crlf(['Subject: hi', '', 'plain', '']);
    assert.equal(toSevenBit(message), message);
  });

  it('re-encodes each 8-bit leaf of a multipart: text as quoted-printable, the rest base64; 7-bit parts byte for byte', () => {
    const message = crlf([
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      'preamble',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße = straße',
      '--b1',
      'Content-Type: application/octet-stream',
      '',
      'bin\u00ff',
      '--b1',
      'Content-Type: text/plain',
      '',
      'ascii only',
      '--b1--',
      '',
    ]);
    const out = toSevenBit(message)!.toString('latin1');
    assert.ok(![...Buffer.from(out, 'latin1')].some((b) => b > 127));
    assert.match(
      out,
      /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe =3D stra=C3=9Fe\r\n--b1/,
    );
    assert.match(
      out,
      /Content-Type: application\/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nYmluw78=\r\n/,
    );
    assert.match(out, /Content-Type: text\/plain\r\n\r\nascii only\r\n--b1--/);
    assert.doesNotMatch(out, /8bit/);
  });

  it('wraps quoted-printable lines at 76 characters with soft breaks', () => {
    const out = toSevenBit(
      crlf(['Content-Type: text/plain; charset=utf-8', '', 'é'.repeat(60), '']),
    )!.toString();
    for (const line of out.split('\r\n')) assert.ok(line.length <= 76, line);
  });

  it('cannot convert 8-bit header fields or 8-bit content declared base64', () => {
    assert.equal(toSevenBit(crlf(['Subject: Grüße', '', 'body', ''])), undefined);
    assert.equal(
      toSevenBit(crlf(['Content-Type: text/plain', 'Content-Transfer-Encoding: base64', '', 'ü', ''])),
      undefined,
    );
  });
});

describe('the DSN request', () => {
  it('checks NOTIFY, ENVID and ORCPT', () => {
    assert.deepEqual(parseNotify('success,delay'), ['SUCCESS', 'DELAY']);
    assert.equal(typeof parseNotify('NEVER,SUCCESS'), 'string');
    assert.equal(typeof parseNotify(['FAILURE', 'FAILURE']), 'string');
    assert.equal(envidProblem('x'.repeat(100)), undefined);
    assert.match(envidProblem('x'.repeat(101)) ?? '', /longer than 100/);
    assert.deepEqual(parseOrcpt('RFC822;a@b.test'), { orcpt: 'rfc822;a@b.test' });
    assert.ok('problem' in parseOrcpt('a@b.test'));
  });

  it('no NOTIFY: failure and delay reports; NEVER: none', () => {
    assert.deepEqual(
      (['success', 'failure', 'delay'] as const).map((k) => wantsReport(undefined, k)),
      [false, true, true],
    );
    assert.deepEqual(
      (['success', 'failure', 'delay'] as const).map((k) => wantsReport(['NEVER'], k)),
      [false, false, false],
    );
  });

  it('goes on the wire xtext-encoded only to a server with DSN', () => {
    assert.equal(xtext('a+b=c d'), 'a+2Bb+3Dc+20d');
    const options = {
      dsn: { recipients: { 'a@b.test': { notify: ['SUCCESS'], orcpt: 'rfc822;x+y@b.test' } } },
    };
    assert.equal(
      rcptParameters({ ...ext, dsn: true }, 'A@b.test', options),
      ' NOTIFY=SUCCESS ORCPT=rfc822;x+2By@b.test',
    );
    assert.equal(rcptParameters(ext, 'a@b.test', options), '');
  });

  it('to a server with DSN a recipient without ORCPT gets one: rfc822, or utf-8 in an SMTPUTF8 transaction', () => {
    const dsn = { ...ext, dsn: true };
    assert.equal(rcptParameters(dsn, 'a+tag@b.test', {}), ' ORCPT=rfc822;a+2Btag@b.test');
    assert.equal(
      rcptParameters(dsn, 'a@b.test', { dsn: { recipients: { 'a@b.test': { notify: ['NEVER'] } } } }),
      ' NOTIFY=NEVER ORCPT=rfc822;a@b.test',
    );
    assert.equal(rcptParameters(dsn, 'jörg+x@b.test', {}, true), ' ORCPT=utf-8;jörg\\x{2B}x@b.test');
    assert.equal(rcptParameters(dsn, 'jörg@b.test', {}, false), '', 'never a UTF-8 ORCPT without SMTPUTF8');
    assert.equal(rcptParameters(ext, 'a@b.test', {}), '', 'nothing to a server without DSN');
  });

  it("refuses a message over the server's SIZE limit before MAIL (552 5.3.4), as Postfix does", () => {
    const body = crlf(['Subject: s', '', 'x'.repeat(100)]);
    const refused = wireForm({ ...ext, size: 50 }, 'a@b.test', ['c@d.test'], body, {}, 'mx.test');
    assert.deepEqual(refused, {
      refused: {
        code: 552,
        enhanced: '5.3.4',
        text: `message size ${body.length} exceeds size limit 50 of server mx.test`,
      },
    });
    // At the limit, with SIZE 0 (no fixed limit) and without SIZE, it goes.
    for (const size of [body.length, 0, undefined]) {
      const form = wireForm({ ...ext, size }, 'a@b.test', ['c@d.test'], body, {}, 'mx.test');
      assert.ok('body' in form && form.body === body, `SIZE ${size}`);
    }
  });

  it('an 8-bit body to a server without 8BITMIME: converted, or 5.6.3 without a converter', () => {
    const body = crlf(['Content-Type: text/plain; charset=utf-8', '', 'ü', '']);
    const refused = wireForm(ext, 'a@b.test', ['c@d.test'], body, {}, 'mx.test');
    assert.ok('refused' in refused && refused.refused.enhanced === '5.6.3');
    const converted = wireForm(ext, 'a@b.test', ['c@d.test'], body, { downgrade: toSevenBit }, 'mx.test');
    assert.ok('body' in converted && !converted.eightBit && converted.body.toString().includes('=C3=BC'));
    const utf8 = wireForm(ext, 'a@b.test', ['ü@d.test'], body, { downgrade: toSevenBit }, 'mx.test');
    assert.ok('refused' in utf8 && utf8.refused.enhanced === '5.6.7');
  });
});
