/**
 * DATA un-stuffing in one pass per chunk. smtp-server's SMTPStream removes each escape dot
 * (a line starting ".." loses its first dot) by emitting what came before it and handling the
 * rest of the chunk one event-loop turn later (`setImmediate`), one turn per dot-stuffed line:
 * about 70 µs each here, so a 3.6 MB body of 600,000 dot lines took seconds to receive and could
 * fall below `smtp.data_min_rate` through no fault of the client (421 4.4.2), and a client could
 * make the listener spend a loop turn per line it sends. `installOnePassUnstuffing()` replaces
 * `SMTPStream.prototype._feedDataStream` (touchpoint `data-unstuffing`) with the same algorithm
 * that handles every escape dot of a chunk in the same pass: the same bytes reach the data
 * stream in the same order, the end of data is found at the same place (only `<CRLF>.<CRLF>`,
 * never at a line that merely starts with a dot, and never across the start of DATA), and the
 * work per chunk stays bounded by the chunk's size. Process-wide (every smtp-server in it), once.
 */
import { type StreamInternals, streamPrototype } from './smtp-server-internals.js';

const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;
/** Bytes kept back at a chunk's end: the start of a terminator split across chunks. */
const KEPT_BYTES = 4;

let installed = false;

export function installOnePassUnstuffing(): void {
  if (installed) return;
  const proto = streamPrototype('data-unstuffing');
  installed = true;
  proto._feedDataStream = feedDataStream;
}

function feedDataStream(this: StreamInternals, input: Buffer, done: () => void): void {
  const dataStream = this._dataStream!;
  let chunk = input;
  const kept = this._lastBytes;
  if (kept && kept.length > 0) {
    chunk = Buffer.concat([kept, chunk], kept.length + chunk.length);
    this._lastBytes = false;
  }
  // A "." line right at the start of DATA ends it (an empty message); "..": the dot is escaped.
  if (this._atDataStart && chunk.length >= 3 && chunk[0] === DOT && chunk[1] === CR && chunk[2] === LF) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  if (this._atDataStart && chunk.length >= 2 && chunk[0] === DOT && chunk[1] === DOT) {
    chunk = chunk.subarray(1);
    this._atDataStart = false;
  }
  // Each pass scans from the third byte of what is left, as smtp-server's next turn would.
  for (;;) {
    const len = chunk.length;
    let escaped = -1;
    for (let i = 2; i < len - 2; i++) {
      if (chunk[i] !== DOT || chunk[i - 1] !== LF) continue;
      if (chunk[i - 2] === CR && chunk[i + 1] === CR && chunk[i + 2] === LF) {
        const content = chunk.subarray(0, i);
        this._countDataBytes(content.length);
        this._endDataMode(content, chunk.subarray(i + 3), done);
        return;
      }
      if (chunk[i + 1] === DOT) {
        escaped = i;
        break;
      }
    }
    if (escaped === -1) break;
    const content = chunk.subarray(0, escaped);
    this._countDataBytes(content.length);
    if (dataStream.writable) dataStream.write(content);
    chunk = chunk.subarray(escaped + 1);
  }
  this._lastBytes = chunk.length < KEPT_BYTES ? chunk : chunk.subarray(chunk.length - KEPT_BYTES);
  if (this._lastBytes.length >= chunk.length) {
    done();
    return;
  }
  const content = chunk.subarray(0, chunk.length - this._lastBytes.length);
  this._countDataBytes(content.length);
  if (!dataStream.writable || dataStream.write(content) || dataStream.destroyed) {
    done();
    return;
  }
  // Wait for the reader; a stream the application destroys never drains, it only closes.
  const onDrain = () => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
}
