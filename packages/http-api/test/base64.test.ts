/**
 * The base64 check of attachment content and `raw`: every encoding Node writes, wrapped any way,
 * passes and counts its decoded bytes; anything else fails; and it is linear, never a
 * backtracking pattern (the adversarial input of n and 4n characters returns false; the check
 * visits each character once by construction, so no timing is asserted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { base64Bytes, isBase64 } from '../src/base64.js';

const wrapped = fc
  .tuple(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(fc.constantFrom('\r\n', '\n', ' '), { maxLength: 40 }),
    fc.nat(),
  )
  .map(([bytes, wraps, seed]) => {
    let text = Buffer.from(bytes).toString('base64');
    for (const [i, wrap] of wraps.entries()) {
      const at = (seed + i * 7919) % (text.length + 1);
      text = text.slice(0, at) + wrap + text.slice(at);
    }
    return { bytes, text };
  });

test('any base64 Node writes, wrapped anywhere, passes and counts its bytes', () => {
  fc.assert(
    fc.property(wrapped, ({ bytes, text }) => {
      assert.equal(isBase64(text), true, JSON.stringify(text));
      assert.equal(base64Bytes(text), bytes.length);
    }),
  );
});

test('a character outside the alphabet, or a bad length or padding, fails', () => {
  fc.assert(
    fc.property(
      wrapped,
      fc.constantFrom('!', '-', '_', '\t', '\0', 'é', '=', '==='),
      fc.nat(),
      ({ text }, bad, at) => {
        const i = at % (text.length + 1);
        const broken = text.slice(0, i) + bad + text.slice(i);
        // A lone '=' or '===' can land where it is valid padding only if the text ended unpadded,
        // which Node never writes: so every insertion breaks the text.
        assert.equal(isBase64(broken), false, JSON.stringify(broken));
      },
    ),
  );
  for (const text of ['YWJ', 'YQ===', 'YQ==YQ==', 'YW=J', 'Y']) assert.equal(isBase64(text), false, text);
});

test('newlines and one bad character, n and 4n of them: false, in one pass', () => {
  for (const n of [256 * 1024, 1024 * 1024, 4 * 1024 * 1024])
    assert.equal(isBase64(`${'\n'.repeat(n)}!`), false);
  assert.equal(isBase64(`${'\n'.repeat(4 * 1024 * 1024)}`), true, 'only wrapping: the empty content');
});
