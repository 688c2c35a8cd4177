/**
 * One DATA transfer behind the door (guarded-data.ts), with a stand-in stream and door: a body
 * past the listener's SIZE is refused and its bytes past the limit are not kept (they can be
 * garbage-collected while the client goes on sending), and the transfer is answered exactly once.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { DoorGuard } from '../src/door-guard.js';
import { receiveGuarded } from '../src/guarded-data.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const CHUNK_BYTES = 1024 * 1024;
const CHUNKS_PAST_LIMIT = 32;

function standIns() {
  const stream = Object.assign(new PassThrough(), { sizeExceeded: false, byteLength: 0 });
  const guard = { watchData: () => ({ stop() {}, aborted: undefined }) } as unknown as DoorGuard;
  return { stream, guard, session: { id: 's1' } as SMTPServerSession };
}

describe('receiveGuarded', () => {
  it('keeps nothing past SIZE and answers the size refusal once, never calling take', async () => {
    const { stream, guard, session } = standIns();
    const answers: string[] = [];
    let taken = 0;
    receiveGuarded(
      guard,
      session,
      stream as unknown as SMTPServerDataStream,
      (err, text) => answers.push(err ? err.message : `ok ${text}`),
      {
        tooBig: () => new Error('552 too big'),
        take: async () => {
          taken++;
          return 'queued';
        },
      },
    );
    stream.write(Buffer.alloc(CHUNK_BYTES, 1));
    stream.sizeExceeded = true;
    const refs: WeakRef<Buffer>[] = [];
    for (let i = 0; i < CHUNKS_PAST_LIMIT; i++) {
      const chunk = Buffer.alloc(CHUNK_BYTES, 2);
      refs.push(new WeakRef(chunk));
      stream.write(chunk);
    }
    await tick();
    gc();
    await tick();
    gc();
    const kept = refs.filter((ref) => ref.deref() !== undefined).length;
    // The stream itself may still reference the chunk in flight; none is collected into the body.
    assert.ok(kept <= 1, `${kept} of ${CHUNKS_PAST_LIMIT} chunks past the limit are still held`);
    stream.end();
    await tick();
    stream.emit('close');
    assert.deepEqual(answers, ['552 too big']);
    assert.equal(taken, 0);
  });

  it('a body within SIZE goes to take and its answer is the one reply', async () => {
    const { stream, guard, session } = standIns();
    const answers: string[] = [];
    receiveGuarded(
      guard,
      session,
      stream as unknown as SMTPServerDataStream,
      (err, text) => answers.push(err ? err.message : `ok ${text}`),
      {
        tooBig: () => new Error('552 too big'),
        take: async (body) => `queued ${body.length}`,
      },
    );
    stream.end(Buffer.from('hello\r\n'));
    await tick();
    await tick();
    stream.emit('close');
    assert.deepEqual(answers, ['ok queued 7']);
  });
});
