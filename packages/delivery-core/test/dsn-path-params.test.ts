/**
 * MAIL FROM / RCPT TO parameters no announced extension defines (dsn/params.ts
 * `unknownPathParam`): the relay answers them 555 5.5.4 (RFC 5321 §4.1.1.11) where smtp-server
 * alone would accept them silently; a control character among them is no parameter at all
 * (`pathParamSyntaxProblem`): 501 5.5.4.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pathParamSyntaxProblem, unknownPathParam } from '../src/dsn/index.js';

describe('unknownPathParam', () => {
  test('the parameters of SIZE, 8BITMIME, SMTPUTF8, DSN and AUTH pass, in any case', () => {
    for (const line of [
      'MAIL FROM:<a@x.test>',
      'MAIL FROM:<>',
      'MAIL FROM:<a@x.test> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc AUTH=<>',
      'mail from: <a@x.test>  size=1  smtputf8',
      'RCPT TO:<b@ok.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@ok.test',
      'RCPT TO:<"a b>c"@ok.test> NOTIFY=NEVER',
    ])
      assert.equal(unknownPathParam(line), undefined, line);
  });

  test('anything else is named, upper-cased, printable and cut at 40 characters', () => {
    assert.equal(unknownPathParam('MAIL FROM:<a@x.test> FOO=bar'), 'FOO');
    assert.equal(unknownPathParam('MAIL FROM:<a@x.test> SIZE=1 xyz'), 'XYZ');
    assert.equal(
      unknownPathParam('MAIL FROM:<a@x.test> NOTIFY=NEVER'),
      'NOTIFY',
      'an RCPT parameter at MAIL',
    );
    assert.equal(unknownPathParam('RCPT TO:<b@ok.test> SIZE=1'), 'SIZE', 'a MAIL parameter at RCPT');
    assert.equal(unknownPathParam('RCPT TO:<b@ok.test> \x01\x1b=1'), '??');
    assert.equal(unknownPathParam(`RCPT TO:<b@ok.test> ${'K'.repeat(100)}=1`), 'K'.repeat(40));
  });
});

describe('pathParamSyntaxProblem', () => {
  test('a NUL or another control character among the parameters is named by its code', () => {
    assert.equal(
      pathParamSyntaxProblem('MAIL FROM:<a@b.test> \0'),
      'Syntax error in parameters: control character 0x00',
    );
    assert.equal(
      pathParamSyntaxProblem('MAIL FROM:<a@b.test>\0SIZE=1'),
      'Syntax error in parameters: control character 0x00',
    );
    assert.match(pathParamSyntaxProblem('MAIL FROM:<a@b.test> SIZE=1\x1b') ?? '', /0x1B$/);
    assert.match(pathParamSyntaxProblem('RCPT TO:<b@ok.test> NOTIFY=NEVER\x7f') ?? '', /0x7F$/);
    assert.match(pathParamSyntaxProblem('RCPT TO:<b@ok.test> NOTIFY=NEVER\rX') ?? '', /0x0D$/);
  });

  test('printable parameters, a tab between them, and controls outside them pass', () => {
    for (const line of [
      'MAIL FROM:<a@x.test>',
      'MAIL FROM:<a@x.test> SIZE=100 BODY=8BITMIME\tSMTPUTF8',
      'MAIL FROM:<a@x.test> SIZE=1\r\n',
      'RCPT TO:<b@ok.test> ORCPT=rfc822;b@ok.test',
      'NOOP \0',
    ])
      assert.equal(pathParamSyntaxProblem(line), undefined, JSON.stringify(line));
  });
});
