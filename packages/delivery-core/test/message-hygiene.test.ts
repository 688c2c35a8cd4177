/**
 * Intake hygiene (message/hygiene.ts): NUL anywhere and a bare CR in the header block refuse the
 * message; a bare CR in the body becomes CRLF; clean input comes back as the same Buffer. Fuzzed
 * with fast-check (fixed seed, bounded runs): never throws, never leaves a bare CR in what it
 * accepts, is idempotent, and a megabyte of bare CRs is handled in one linear pass.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanIntake } from '@herald/delivery-core/message';
import fc from 'fast-check';
import { timeGrowth } from './fixtures/growth.js';

/** 8× the input: linear work takes about 8× the time, quadratic about 64×. */
const MAX_GROWTH = 24;

const msg = (s: string) => Buffer.from(s, 'latin1');
const hasBareCr = (b: Buffer) => /\r(?!\n)/.test(b.toString('latin1'));

describe('cleanIntake', () => {
  test('a clean message comes back as the same Buffer', () => {
    const raw = msg('Subject: hi\r\nTo: a@b.test\r\n\r\nbody\nwith bare LF\r\n');
    const result = cleanIntake(raw);
    assert.ok(result.ok);
    assert.equal(result.body, raw);
  });

  test('refuses NUL in the header section or the body, and a bare CR in the header section', () => {
    assert.deepEqual(cleanIntake(msg('Subject: a\0b\r\n\r\nbody')), {
      ok: false,
      problem: 'NUL character in the header section',
    });
    assert.deepEqual(cleanIntake(msg('Subject: a\r\n\r\nbo\0dy')), {
      ok: false,
      problem: 'NUL character in the body',
    });
    assert.deepEqual(cleanIntake(msg('Subject: a\rBcc: x@y.test\r\n\r\nbody')), {
      ok: false,
      problem: 'bare CR (not followed by LF) in the header section',
    });
    assert.equal(cleanIntake(msg('Subject: no blank line\rat all')).ok, false, 'all header when no body');
  });

  test('normalises every bare CR in the body to CRLF, including a final one', () => {
    const result = cleanIntake(msg('Subject: a\r\n\r\none\rtwo\r\r\nthree\r.\rfour\r'));
    assert.ok(result.ok);
    assert.equal(
      result.body.toString('latin1'),
      'Subject: a\r\n\r\none\r\ntwo\r\n\r\nthree\r\n.\r\nfour\r\n',
    );
  });

  test('never throws, accepts nothing with a bare CR or NUL, and is idempotent (property)', () => {
    const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x00, 0x2e, 0x3a, 0x20, 0x41, 0x61), {
      maxLength: 200,
    });
    fc.assert(
      fc.property(bytes, (list) => {
        const raw = Buffer.from(list);
        const result = cleanIntake(raw);
        if (!result.ok) return;
        assert.equal(hasBareCr(result.body), false);
        assert.equal(result.body.includes(0), false);
        const again = cleanIntake(result.body);
        assert.ok(again.ok && again.body.equals(result.body));
      }),
      { seed: 5, numRuns: 500 },
    );
  });

  test('a megabyte of bare CRs in the body is normalised in one pass', () => {
    const raw = Buffer.concat([msg('Subject: a\r\n\r\n'), Buffer.alloc(1_000_000, 0x0d)]);
    const result = cleanIntake(raw);
    assert.ok(result.ok);
    assert.equal(result.body.length, raw.length + 1_000_000);
  });

  test('a body of nothing but short lines ended by bare CRs is normalised in linear time', () => {
    const body = (n: number) =>
      Buffer.concat([msg('Subject: a\r\n\r\n'), Buffer.from('a\r'.repeat(n), 'latin1')]);
    const [small, large] = [body(250_000), body(2_000_000)];
    const check = cleanIntake(large);
    assert.ok(check.ok);
    assert.equal(check.body.length, large.length + 2_000_000);
    assert.equal(hasBareCr(check.body), false);
    // 8× the input: linear work about 8× the time (an object per bare CR grew far faster).
    const ratio = timeGrowth(
      () => cleanIntake(small),
      () => cleanIntake(large),
      MAX_GROWTH,
    );
    assert.ok(ratio < MAX_GROWTH, `8× the bare CRs took ${ratio.toFixed(1)}× the time`);
  });
});
