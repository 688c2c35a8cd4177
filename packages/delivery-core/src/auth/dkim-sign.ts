/**
 * DKIM signing (RFC 6376, RFC 8463): relaxed/relaxed, rsa-sha256 or ed25519-sha256 after the key,
 * t= the signing time, the SIGNED_HEADERS that are present (every instance), and OVERSIGNED_HEADERS
 * listed once more than they occur, so a From, Subject, Date or To added in transit breaks the
 * signature. The body hash is computed once per message for all its signatures. The signer returns
 * the message with its DKIM-Signature fields on top (CRLF line ends, folded under 80 columns).
 */
import { createHash, sign } from 'node:crypto';
import { HeraldError } from '../errors/index.js';
import { prepend } from '../util/index.js';
import {
  authorDomain,
  type HeaderField,
  relaxedBodyHash,
  relaxedHeader,
  type SplitMessage,
  splitMessage,
} from './dkim-canon.js';
import type { DkimKey, DkimKeyStore } from './dkim-keys.js';

/** Header fields signed when present, in h= order. */
export const SIGNED_HEADERS = [
  'From',
  'Subject',
  'Date',
  'To',
  'Cc',
  'Reply-To',
  'Message-ID',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'In-Reply-To',
  'References',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'Feedback-ID',
] as const;

/** Listed once more than they occur: nobody can add one later without breaking the signature. */
export const OVERSIGNED_HEADERS: ReadonlySet<string> = new Set(['from', 'subject', 'date', 'to']);

/** Longest line of the DKIM-Signature field we write (RFC 5322 recommends 78). */
const FOLD_COLUMNS = 78;
/** Characters of b= per folded line. */
const SIGNATURE_CHUNK = 72;

/** The h= list for these header fields: each signed name once per instance, over-signed +1. */
export function signedHeaderNames(fields: readonly HeaderField[]): string[] {
  const names: string[] = [];
  for (const name of SIGNED_HEADERS) {
    const lower = name.toLowerCase();
    let count = fields.filter((f) => f.name === lower).length;
    if (OVERSIGNED_HEADERS.has(lower)) count += 1;
    for (let i = 0; i < count; i++) names.push(name);
  }
  return names;
}

/**
 * The canonical header data the signature covers: for each h= name, its next instance from the
 * bottom (RFC 6376 §5.4.2; a name listed more often than present adds nothing), then the
 * DKIM-Signature field itself with an empty b=.
 */
function headerHashInput(fields: readonly HeaderField[], names: readonly string[], unsigned: string): string {
  const used = new Map<string, number>();
  let out = '';
  for (const name of names) {
    const lower = name.toLowerCase();
    const skip = used.get(lower) ?? 0;
    used.set(lower, skip + 1);
    let seen = 0;
    for (let i = fields.length - 1; i >= 0; i--) {
      const field = fields[i]!;
      if (field.name !== lower) continue;
      if (seen++ === skip) {
        out += `${relaxedHeader(field.raw)}\r\n`;
        break;
      }
    }
  }
  return out + relaxedHeader(unsigned);
}

/** Joins tags into a folded field, breaking between tags (and between h= names) at FOLD_COLUMNS. */
function foldTags(tags: readonly string[]): string {
  const pieces: string[] = [];
  for (const tag of tags) {
    if (!tag.startsWith('h=')) pieces.push(`${tag};`);
    else {
      const names = tag.slice(2).split(':');
      for (const [i, n] of names.entries())
        pieces.push(`${i === 0 ? 'h=' : ''}${n}${i < names.length - 1 ? ':' : ';'}`);
    }
  }
  let out = 'DKIM-Signature:';
  let column = out.length;
  for (const piece of pieces) {
    const joinsName = out.endsWith(':') && out !== 'DKIM-Signature:';
    const gap = joinsName ? '' : ' ';
    if (column + gap.length + piece.length > FOLD_COLUMNS) {
      out += `\r\n\t${piece}`;
      column = 1 + piece.length;
    } else {
      out += gap + piece;
      column += gap.length + piece.length;
    }
  }
  return `${out}\r\n\tb=`;
}

/** The DKIM-Signature field for one key, CRLF-terminated. */
function signatureField(
  key: DkimKey,
  fields: readonly HeaderField[],
  names: readonly string[],
  bodyHash: string,
  nowSeconds: number,
): string {
  const unsigned = foldTags([
    'v=1',
    `a=${key.algorithm}`,
    'c=relaxed/relaxed',
    `d=${key.domain}`,
    `s=${key.selector}`,
    `t=${nowSeconds}`,
    `h=${names.join(':')}`,
    `bh=${bodyHash}`,
  ]);
  const data = Buffer.from(headerHashInput(fields, names, unsigned), 'latin1');
  const signature =
    key.algorithm === 'rsa-sha256'
      ? sign('sha256', data, key.privateKey)
      : sign(null, createHash('sha256').update(data).digest(), key.privateKey);
  const b = signature.toString('base64');
  const chunks: string[] = [];
  for (let i = 0; i < b.length; i += SIGNATURE_CHUNK) chunks.push(b.slice(i, i + SIGNATURE_CHUNK));
  return `${unsigned}${chunks.join('\r\n\t')}\r\n`;
}

/**
 * The DKIM-Signature fields (CRLF-terminated, to go on top of the message) made with `keys`;
 * '' when there are none.
 */
export function dkimSignatureFields(
  message: Buffer | SplitMessage,
  keys: readonly DkimKey[],
  now: number,
): string {
  if (keys.length === 0) return '';
  const { fields, body } = Buffer.isBuffer(message) ? splitMessage(message) : message;
  const names = signedHeaderNames(fields);
  const bodyHash = relaxedBodyHash(body);
  const nowSeconds = Math.floor(now / 1000);
  return keys.map((key) => signatureField(key, fields, names, bodyHash, nowSeconds)).join('');
}

export interface DkimSigner {
  /**
   * The message with the signatures the store picks for it (tenant, From domain, time) on top;
   * the same Buffer when none applies. Throws HERALD_DKIM_SIGN_FAILED when a key fails to sign.
   */
  sign(message: Buffer, tenant: string, now?: number): Buffer;
}

export function createDkimSigner(store: DkimKeyStore): DkimSigner {
  return {
    sign(message, tenant, now = Date.now()) {
      const split = splitMessage(message);
      const keys = store.select({ fromDomain: authorDomain(split.fields), tenant, now });
      if (keys.length === 0) return message;
      let signatures: string;
      try {
        signatures = dkimSignatureFields(split, keys, now);
      } catch (err) {
        const which = keys.map((k) => `${k.selector}._domainkey.${k.domain}`).join(', ');
        throw new HeraldError(
          'HERALD_DKIM_SIGN_FAILED',
          `DKIM signing with ${which} failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      return prepend(Buffer.from(signatures, 'latin1'), message);
    },
  };
}
