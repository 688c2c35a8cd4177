/**
 * The DATA payload of a message (RFC 5321 §4.5.2): every bare LF sent as CRLF, a "." that starts a
 * line doubled, and the terminating "<CRLF>.<CRLF>" appended. These are exactly the line ends the
 * DKIM signer canonicalizes (a bare LF counts as CRLF; a body ending on a bare CR gets its LF
 * here), so signatures survive the wire.
 * `encodeDataChunks` gives the payload as buffers to write in order, made as they are taken (the
 * wire pumps them as the socket drains): a run of the body of at least ZERO_COPY_MIN_BYTES
 * between two changes is a view of the body, not a copy, and everything else is joined into
 * buffers of about BATCH_BYTES. A message with CRLF line ends and no line starting with "." is
 * sent from the body itself plus the end of data; a small message is one buffer (one write).
 * `encodeDataParts` lists them; `encodeData` joins them into one buffer.
 * Linear in the body's size; pure.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const DOT_BUFFER = Buffer.from('.');
const END_AFTER_LF = Buffer.from('.\r\n');
const END_AFTER_CR = Buffer.from('\n.\r\n');
const END_OTHERWISE = Buffer.from('\r\n.\r\n');

/**
 * The slowest transfer a body is given time for on top of `delivery.data_timeout`: the deadline
 * of the body and its final reply grows with the body (`dataDeadlineMs`), so a 50 MB message on a
 * slow link is not cut by a deadline meant for the server's answer (2 KB add 8 ms; 50 MB 200 s).
 */
export const DATA_MIN_TRANSFER_BYTES_PER_S = 256 * 1024;
const MS_PER_S = 1000;

/** `data_timeout` plus the body's transfer at DATA_MIN_TRANSFER_BYTES_PER_S. */
export function dataDeadlineMs(dataMs: number, bodyBytes: number): number {
  return dataMs + Math.ceil((bodyBytes * MS_PER_S) / DATA_MIN_TRANSFER_BYTES_PER_S);
}

/** A run of the body at least this long is written from the body itself (no copy). */
export const ZERO_COPY_MIN_BYTES = 64 * 1024;
/** Short pieces are joined into buffers of about this size. */
const BATCH_BYTES = 64 * 1024;

export function encodeData(body: Buffer): Buffer {
  const parts = rawParts(body);
  return Buffer.concat(parts.list, parts.bytes);
}

export function encodeDataParts(body: Buffer): Buffer[] {
  return [...encodeDataChunks(body)];
}

/**
 * The parts of `encodeDataParts`, made one at a time as they are taken, so a writer that waits
 * for the socket to drain between parts never holds more than one joined batch (a body with many
 * lines to change would otherwise be copied whole before the first byte is sent).
 */
export function* encodeDataChunks(body: Buffer): Generator<Buffer, void, undefined> {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const take = (): Buffer => {
    const joined = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
    batch = [];
    batchBytes = 0;
    return joined;
  };
  for (const part of rawParts(body).list) {
    if (part.length >= ZERO_COPY_MIN_BYTES) {
      if (batch.length > 0) yield take();
      yield part;
      continue;
    }
    batch.push(part);
    batchBytes += part.length;
    if (batchBytes >= BATCH_BYTES) yield take();
  }
  if (batch.length > 0) yield take();
}

/** The payload as views of the body and the bytes added between them, and its length. */
function rawParts(body: Buffer): { list: Buffer[]; bytes: number } {
  const parts: Buffer[] = [];
  let extra = 0;
  let from = 0;
  // A "." at the very start is at the start of a line.
  if (body.length > 0 && body[0] === DOT) {
    parts.push(DOT_BUFFER);
    extra++;
  }
  let lf = body.indexOf(LF);
  while (lf >= 0) {
    const bare = lf === 0 || body[lf - 1] !== CR;
    const dotNext = body[lf + 1] === DOT;
    if (bare || dotNext) {
      if (bare) {
        parts.push(body.subarray(from, lf), CRLF);
        extra++;
      } else {
        parts.push(body.subarray(from, lf + 1));
      }
      from = lf + 1;
      if (dotNext) {
        parts.push(DOT_BUFFER);
        extra++;
      }
    }
    lf = body.indexOf(LF, lf + 1);
  }
  parts.push(body.subarray(from));
  const last = body.length > 0 ? body[body.length - 1] : LF;
  const end = last === LF ? END_AFTER_LF : last === CR ? END_AFTER_CR : END_OTHERWISE;
  parts.push(end);
  return { list: parts, bytes: body.length + extra + end.length };
}
