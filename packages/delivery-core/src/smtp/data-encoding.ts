/**
 * The DATA payload of a message (RFC 5321 §4.5.2): every bare LF sent as CRLF, a "." that starts a
 * line doubled, and the terminating "<CRLF>.<CRLF>" appended, in one buffer so body and end of data
 * leave in one write. These are exactly the line ends the DKIM signer canonicalizes (a bare LF
 * counts as CRLF; a body ending on a bare CR gets its LF here), so signatures survive the wire.
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

export function encodeData(body: Buffer): Buffer {
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
  return Buffer.concat(parts, body.length + extra + end.length);
}
