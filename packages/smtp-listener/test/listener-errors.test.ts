/** listenerErrorLevel: a client's socket errors (reset, broken pipe, TLS failure) are debug, the listener's own stay errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenerErrorLevel } from '../src/listener-errors.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });

test("a client's reset, broken pipe or failed TLS handshake is debug; anything else an error", () => {
  for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_SSL_WRONG_VERSION_NUMBER'])
    assert.equal(listenerErrorLevel(withCode(code)), 'debug', code);
  for (const err of [withCode('EADDRINUSE'), withCode('EMFILE'), new Error('no code'), 'a string', null])
    assert.equal(listenerErrorLevel(err), 'error', String(err));
});
