/** util's headroom: the fields added on top of a large received message are written in front of it, not copied with it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HEADROOM_BYTES,
  HEADROOM_MIN_MESSAGE_BYTES,
  isShared,
  joinWithHeadroom,
  MessageCollector,
  prepend,
  SHARED_MIN_MESSAGE_BYTES,
} from '../src/util/index.js';

const big = (n: number) => Buffer.alloc(n, 'm');

test('joins chunks into one buffer, with room in front only for a large message', () => {
  const chunks = [Buffer.from('Subject: a\r\n'), big(HEADROOM_MIN_MESSAGE_BYTES)];
  const total = chunks[0]!.length + chunks[1]!.length;
  const joined = joinWithHeadroom(chunks, total);
  assert.deepEqual(joined, Buffer.concat(chunks));
  assert.equal(joined.byteOffset, HEADROOM_BYTES, 'HEADROOM_BYTES free in front');
  const small = joinWithHeadroom([Buffer.from('a'), Buffer.from('b')], 2);
  assert.equal(small.toString(), 'ab');
});

test('prepends in place, each time in front of the last, and the body view still reads the same', () => {
  const body = joinWithHeadroom([big(HEADROOM_MIN_MESSAGE_BYTES)], HEADROOM_MIN_MESSAGE_BYTES);
  const received = prepend(Buffer.from('Received: x\r\n'), body);
  const signed = prepend(Buffer.from('DKIM-Signature: y\r\n'), received);
  assert.equal(signed.buffer, body.buffer, 'no copy: the same memory');
  assert.deepEqual(signed, Buffer.concat([Buffer.from('DKIM-Signature: y\r\nReceived: x\r\n'), body]));
  assert.deepEqual(body, big(HEADROOM_MIN_MESSAGE_BYTES), 'the body view is unchanged');
  assert.equal(received.toString('latin1', 0, 13), 'Received: x\r\n', 'nor is the earlier result');
});

test('copies instead when the view is not the frontmost, the prefix does not fit, or the buffer is not ours', () => {
  const body = joinWithHeadroom([big(HEADROOM_MIN_MESSAGE_BYTES)], HEADROOM_MIN_MESSAGE_BYTES);
  const first = prepend(Buffer.from('A: 1\r\n'), body);
  // A second prepend on the older view must not overwrite the bytes the first one wrote.
  const second = prepend(Buffer.from('B: 2\r\n'), body);
  assert.notEqual(second.buffer, body.buffer);
  assert.equal(first.toString('latin1', 0, 6), 'A: 1\r\n');
  assert.equal(second.toString('latin1', 0, 6), 'B: 2\r\n');
  const fresh = joinWithHeadroom([big(HEADROOM_MIN_MESSAGE_BYTES)], HEADROOM_MIN_MESSAGE_BYTES);
  assert.notEqual(prepend(big(HEADROOM_BYTES + 1), fresh).buffer, fresh.buffer, 'too large for the room');
  const plain = Buffer.from('hello');
  assert.deepEqual(prepend(Buffer.from('X: y\r\n'), plain), Buffer.from('X: y\r\nhello'));
  assert.equal(plain.toString(), 'hello');
});

test('a collector with a declared size copies chunks into one buffer with room, however they come', () => {
  const message = Buffer.alloc(4 * HEADROOM_MIN_MESSAGE_BYTES, 'q');
  message.write('Subject: collected\r\n\r\n');
  for (const [declared, step] of [
    [message.length, 1000],
    [message.length, 70_000],
    [undefined, 5000],
    [message.length - 10, 4096],
    [message.length * 2, 4096],
  ] as const) {
    const collector = new MessageCollector(declared);
    for (let at = 0; at < message.length; at += step) collector.push(message.subarray(at, at + step));
    assert.equal(collector.bytes, message.length);
    const body = collector.finish();
    assert.deepEqual(body, message, `declared ${declared}, chunks of ${step}`);
    const prefixed = prepend(Buffer.from('Received: x\r\n'), body);
    assert.equal(prefixed.buffer, body.buffer, 'room in front to prepend into');
  }
});

test('a dropped collection keeps nothing, and what comes after is collected anew', () => {
  const collector = new MessageCollector(HEADROOM_MIN_MESSAGE_BYTES * 2);
  collector.push(Buffer.alloc(HEADROOM_MIN_MESSAGE_BYTES, 'a'));
  collector.drop();
  collector.push(Buffer.from('tail'));
  assert.equal(collector.finish().toString('latin1'), 'tail');
});

test('a message of SHARED_MIN_MESSAGE_BYTES or more lives in shared memory, and prepending keeps it there', () => {
  const small = joinWithHeadroom([big(HEADROOM_MIN_MESSAGE_BYTES)], HEADROOM_MIN_MESSAGE_BYTES);
  assert.equal(isShared(small), false, 'below the threshold: ordinary memory');
  const chunks = [big(SHARED_MIN_MESSAGE_BYTES / 2), big(SHARED_MIN_MESSAGE_BYTES / 2)];
  const joined = joinWithHeadroom(chunks, SHARED_MIN_MESSAGE_BYTES);
  assert.ok(isShared(joined), 'joined: shared');
  const withHeader = prepend(Buffer.from('X-Added: 1\r\n'), joined);
  assert.ok(isShared(withHeader), 'the prefix went into the room: still the shared buffer');
  assert.equal(withHeader.buffer, joined.buffer);
  assert.equal(withHeader.subarray(withHeader.length - joined.length).equals(joined), true);

  const declared = SHARED_MIN_MESSAGE_BYTES * 2;
  const collector = new MessageCollector(declared);
  for (let at = 0; at < declared; at += 64 * 1024) collector.push(big(64 * 1024));
  const collected = collector.finish();
  assert.ok(isShared(collected), 'collected against a declared size: shared');
  assert.equal(collected.length, declared);
  assert.equal(
    collected.every((byte) => byte === 'm'.charCodeAt(0)),
    true,
  );
});
