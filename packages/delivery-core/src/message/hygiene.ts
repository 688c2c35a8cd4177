/**
 * Input hygiene at intake, one rule for the relay's DATA and the library's `send()`:
 * - a NUL anywhere, or a bare CR (a CR not followed by LF) in the header block, refuses the
 *   message (the relay answers 550 5.6.0, `send()` throws HERALD_SEND_BAD_CONTENT). RFC 5322 §2.3
 *   and RFC 5321 §2.3.8 allow CR and LF only as CRLF and no NUL at all; in a header a bare CR
 *   ends a field for some parsers and not for others, which is how headers get injected or
 *   hidden from one hop and not the next;
 * - a bare CR in the body is normalised to CRLF. Refusing it would bounce mail from old but
 *   honest generators (classic Mac line ends), while passing it on as it came lets a message
 *   carry "<CR>.<CR>" to a next hop that may take it for the end of data (SMTP smuggling).
 *   Normalised before trace headers and DKIM signing, so the signature covers what is sent.
 * A bare LF is left alone: the outbound client sends it as CRLF and dot-stuffs the line after it.
 * Linear in the message; never throws; returns the input itself when nothing changes.
 */
import { headerEnd } from './headers.js';

export type IntakeCheck = { ok: true; body: Buffer } | { ok: false; problem: string };

const NUL = 0x00;
const CR = 0x0d;
const LF = 0x0a;

export function cleanIntake(raw: Buffer): IntakeCheck {
  const end = headerEnd(raw);
  const nul = raw.indexOf(NUL);
  if (nul !== -1)
    return { ok: false, problem: `NUL character in the ${nul < end ? 'header section' : 'body'}` };
  const bareCr = nextBareCr(raw, 0);
  if (bareCr === -1) return { ok: true, body: raw };
  if (bareCr < end) return { ok: false, problem: 'bare CR (not followed by LF) in the header section' };
  return { ok: true, body: normaliseBareCr(raw, bareCr) };
}

/** Index of the first CR at or after `from` that is not followed by LF, or -1. */
function nextBareCr(raw: Buffer, from: number): number {
  let at = raw.indexOf(CR, from);
  while (at !== -1 && raw[at + 1] === LF) at = raw.indexOf(CR, at + 2);
  return at;
}

/**
 * `raw` with an LF added after every bare CR, the first of which is at `first`: one pass counts
 * them, one buffer of the final size is filled in a second pass (a body of nothing but bare CRs
 * costs two loops over its bytes and one allocation, not an object per CR).
 */
function normaliseBareCr(raw: Buffer, first: number): Buffer {
  const n = raw.length;
  let added = 0;
  for (let i = first; i < n; i++) if (raw[i] === CR && raw[i + 1] !== LF) added++;
  const out = Buffer.allocUnsafe(n + added);
  raw.copy(out, 0, 0, first);
  let o = first;
  for (let i = first; i < n; i++) {
    const byte = raw[i]!;
    out[o++] = byte;
    if (byte === CR && raw[i + 1] !== LF) out[o++] = LF;
  }
  return out;
}
