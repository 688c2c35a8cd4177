/**
 * The relay's fast lanes (ThreadLanes) over a real MessageChannel: the bodies of one commit go to
 * a thread in one post, small ones copied end to end into a moved buffer, a large one in shared
 * memory posted as it is (the receiver reads the very memory the intake wrote, no copy).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { isShared, joinWithHeadroom, SHARED_MIN_MESSAGE_BYTES } from '@herald/delivery-core/util';
import { handedBodies, type LaneMessage, ThreadLanes } from '../src/fast-lanes.js';

const job = (id: string) => ({ id, data: {} as never });

test('small bodies are copied end to end; a shared body is posted without a copy', async (t) => {
  const { port1, port2 } = new MessageChannel();
  t.after(() => {
    port1.close();
    port2.close();
  });
  const lanes = new ThreadLanes(1);
  lanes.attach(0, (message, transfer) => port1.postMessage(message, transfer ?? []));
  lanes.onRoom(0, 3, 0);
  const [seen] = (await once(port2, 'message')) as [LaneMessage];
  assert.equal(seen.type, 'room-seen');

  const small = Buffer.from('Subject: small\r\n\r\nhello\r\n');
  const large = joinWithHeadroom([Buffer.alloc(SHARED_MIN_MESSAGE_BYTES, 'L')], SHARED_MIN_MESSAGE_BYTES);
  assert.ok(isShared(large));
  for (let i = 0; i < 3; i++) assert.ok(lanes.reserve(), `slot ${i}`);
  lanes.hand([job('a')], small);
  lanes.hand([job('b')], large);
  lanes.hand([job('c')], small);
  const [posted] = (await once(port2, 'message')) as [LaneMessage];
  assert.equal(posted.type, 'jobs');
  if (posted.type !== 'jobs') return;
  assert.deepEqual(
    posted.messages.map((m) => m.jobs.map((j) => j.id)),
    [['a'], ['b'], ['c']],
  );
  assert.equal(posted.bodies.byteLength, small.length * 2, 'only the small bodies were copied');
  const [first, second, third] = handedBodies(posted);
  assert.equal(first!.toString(), small.toString());
  assert.equal(third!.toString(), small.toString());
  assert.ok(isShared(second!), 'the large body arrives in shared memory');
  assert.equal(second!.length, large.length);
  large[0] = 'X'.charCodeAt(0);
  assert.equal(second![0], 'X'.charCodeAt(0), 'the receiver reads the same memory: nothing was copied');
});
