/**
 * Contract and differential test of the `data-unstuffing` touchpoint (data-unstuffing.ts): the
 * one-pass `_feedDataStream` against smtp-server's own, on SMTPStream instances fed the same
 * bytes cut the same way (fast-check, fixed seed, bounded runs): the same message bytes, the same
 * end of data, the same commands after it — for dot-stuffed lines, terminators split across
 * chunks, a "." or ".." at the very start of DATA and the smuggling shapes (`<LF>.<LF>`,
 * `<CR>.<CR>`, `<LF>.<CRLF>`). And a chunk of a thousand escape dots is un-stuffed in the same
 * turn (smtp-server took one event-loop turn per dot).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { installOnePassUnstuffing } from '../src/data-unstuffing.js';
import { type StreamInternals, streamPrototype } from '../src/smtp-server-internals.js';

const SEED = 20261204;
const RUNS = 400;
type Feed = StreamInternals['_feedDataStream'];

// smtp-server's own, kept before the one-pass version replaces it.
const original: Feed = streamPrototype('data-unstuffing')._feedDataStream;
installOnePassUnstuffing();
const onePass: Feed = streamPrototype('data-unstuffing')._feedDataStream;

interface Outcome {
  data: string;
  ended: boolean;
  commands: string[];
}

/** Feeds `chunks` in data mode to an SMTPStream using `feed`; what it emitted. */
async function run(feed: Feed, chunks: Buffer[]): Promise<Outcome> {
  const stream = new SMTPStream() as unknown as StreamInternals &
    NodeJS.WritableStream & {
      oncommand: (command: Buffer, callback?: () => void) => void;
      startDataMode(): NodeJS.ReadableStream;
      continue(): void;
    };
  stream._feedDataStream = feed;
  const commands: string[] = [];
  stream.oncommand = (command, callback) => {
    commands.push(command.toString('latin1'));
    callback?.();
  };
  const data = stream.startDataMode();
  const parts: Buffer[] = [];
  let ended = false;
  data.on('data', (part: Buffer) => parts.push(part));
  data.on('end', () => {
    ended = true;
    stream.continue();
  });
  for (const chunk of chunks) await new Promise<void>((resolve) => stream.write(chunk, () => resolve()));
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { data: Buffer.concat(parts).toString('latin1'), ended, commands };
}

function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const end of [...at, bytes.length]) {
    if (end > start) chunks.push(bytes.subarray(start, end));
    start = Math.max(start, end);
  }
  return chunks;
}

describe('DATA un-stuffing in one pass (smtp-server internals)', () => {
  it('data-unstuffing: SMTPStream.prototype still has _feedDataStream, _countDataBytes and _endDataMode', () => {
    assert.doesNotThrow(() => streamPrototype('data-unstuffing'));
    assert.notEqual(onePass, original, 'installed');
  });

  it('gives what smtp-server gives, however the bytes are cut (fuzzed)', async () => {
    const pieces = fc.constantFrom('.', '..', '\r\n', '\r', '\n', 'a', 'QUIT\r\n', '\r\n.\r\n', '\r\n..\r\n');
    await fc.assert(
      fc.asyncProperty(
        fc.array(pieces, { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (list, cuts) => {
          const bytes = Buffer.from(list.join(''), 'latin1');
          const chunks = cut(bytes, cuts);
          assert.deepEqual(await run(onePass, chunks), await run(original, chunks));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('un-stuffs dot lines, ends only at <CRLF>.<CRLF>, and hands on what follows as commands', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `${'.'.repeat(i % 4)}line ${i}\r\n`).join('');
    const stuffed = lines.replace(/^\./gm, '..');
    const body = `..first\r\nx\n.\nsmuggled\r.\rnot\n.\r\nend\r\n${stuffed}.\r\nRSET\r\n`;
    for (const size of [1, 2, 3, 7, 64, 100_000]) {
      const bytes = Buffer.from(body, 'latin1');
      const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
        bytes.subarray(i * size, (i + 1) * size),
      );
      const got = await run(onePass, chunks);
      assert.equal(got.data, `.first\r\nx\n.\nsmuggled\r.\rnot\n.\r\nend\r\n${lines}`, `chunks of ${size}`);
      assert.ok(got.ended);
      assert.deepEqual(got.commands, ['RSET']);
      assert.deepEqual(got, await run(original, chunks));
    }
  });

  it('un-stuffs a thousand escape dots of one chunk in the same turn', () => {
    const stream = new SMTPStream() as unknown as StreamInternals & {
      startDataMode(): NodeJS.ReadableStream;
    };
    const data = stream.startDataMode();
    data.resume();
    const chunk = Buffer.from('x\r\n'.concat('..dot\r\n'.repeat(1000)), 'latin1');
    let doneCalled = false;
    onePass.call(stream, chunk, () => {
      doneCalled = true;
    });
    // Everything but the bytes kept back for a split terminator went out before any other turn.
    assert.equal((stream as unknown as { dataBytes: number }).dataBytes, chunk.length - 1000 - 4);
    assert.ok(doneCalled, 'the chunk was taken in the same turn');
  });
});
