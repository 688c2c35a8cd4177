/**
 * The 7-bit conversion's memory is a small multiple of the message: a 12 MB 8-bit text body
 * (about half the default max_message_size) converts in a child process whose V8 heap is capped at
 * 128 MB. Quoted-printable built by string concatenation needed about 70 bytes of heap per input
 * byte and died of "heap out of memory" here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fixtures/seven-bit-big.ts', import.meta.url));
const BODY_MB = 12;
const HEAP_MB = 128;

it(`converts a ${BODY_MB} MB 8-bit text body with a ${HEAP_MB} MB heap`, () => {
  const child = spawnSync(
    process.execPath,
    [
      '--conditions=herald-source',
      '--import',
      'tsx',
      `--max-old-space-size=${HEAP_MB}`,
      CHILD,
      String(BODY_MB),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr.slice(-2000));
  // Every byte but the line ends becomes "=E9", plus a soft break per 25 escapes.
  assert.ok(Number(child.stdout.trim()) > BODY_MB * 3_000_000, child.stdout);
});
