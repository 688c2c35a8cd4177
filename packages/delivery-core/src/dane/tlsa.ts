/**
 * TLSA records for SMTP (RFC 6698, RFC 7671, RFC 7672): which records are usable, and whether a
 * certificate chain a server presented matches them. Pure: no I/O; the clock is a parameter.
 *
 * Guarantees:
 * - Usable for SMTP are DANE-TA(2) and DANE-EE(3) with selector Cert(0) / SPKI(1) and matching
 *   Full(0) / SHA2-256(1) / SHA2-512(2); PKIX-TA(0) and PKIX-EE(1) are unusable (RFC 7672 §3.1.3),
 *   as is anything unknown, and a record whose data is not a digest of its matching type's length
 *   (32 bytes for SHA2-256, 64 for SHA2-512) or not hex at all (RFC 7671 §5.2 "malformed"; Postfix
 *   ignores them too): such a record matches nothing, and an RRset of only such records is unusable.
 * - DANE-EE: the leaf's certificate or public key matches; names and dates are not checked
 *   (RFC 7672 §3.1.1).
 * - DANE-TA: a certificate of the chain above the leaf matches (or the record holds the whole
 *   trust anchor: a full certificate or public key); every certificate from the leaf up to it is
 *   signed by the next; the leaf names one of `names` (the MX host name, the TLSA base domain) and
 *   every certificate below the anchor is within its validity dates (RFC 7672 §3.1.2, §3.2.2).
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** Certificate association data, lower-case hex. */
  data: string;
}

export const DANE_TA = 2;
export const DANE_EE = 3;
const SELECTOR_CERT = 0;
const SELECTOR_SPKI = 1;
const MATCH_FULL = 0;
const MATCH_SHA256 = 1;
const MATCH_SHA512 = 2;
const USABLE_USAGES = new Set([DANE_TA, DANE_EE]);
const USABLE_SELECTORS = new Set([SELECTOR_CERT, SELECTOR_SPKI]);
const USABLE_MATCHING = new Set([MATCH_FULL, MATCH_SHA256, MATCH_SHA512]);
/** Hex characters of a digest per matching type (SHA2-256: 32 bytes, SHA2-512: 64 bytes). */
const DIGEST_HEX_CHARS: Readonly<Record<number, number>> = { [MATCH_SHA256]: 64, [MATCH_SHA512]: 128 };
const HEX_BYTES = /^(?:[0-9a-fA-F]{2})+$/;

export type DaneMatch = { ok: true; usage: 'DANE-EE' | 'DANE-TA' } | { ok: false; why: string };

/** The records DANE may use for SMTP (RFC 7672 §3.1.3). */
export function usableTlsa(records: readonly TlsaRecord[]): TlsaRecord[] {
  return records.filter(
    (r) =>
      USABLE_USAGES.has(r.usage) &&
      USABLE_SELECTORS.has(r.selector) &&
      USABLE_MATCHING.has(r.matchingType) &&
      wellFormedData(r),
  );
}

/** The association data is hex of whole bytes and, for a digest, of the digest's length. */
function wellFormedData(record: TlsaRecord): boolean {
  const expected = DIGEST_HEX_CHARS[record.matchingType];
  if (expected !== undefined && record.data.length !== expected) return false;
  return HEX_BYTES.test(record.data);
}

/** "3 1 1 abcd…" (data shortened), for logs and the doctor. */
export function formatTlsa(record: TlsaRecord, dataChars = 16): string {
  const data = record.data.length > dataChars ? `${record.data.slice(0, dataChars)}…` : record.data;
  return `${record.usage} ${record.selector} ${record.matchingType} ${data}`;
}

/** TLSA records a TLS report names per MX host at most (RFC 8460 §4.4 `policy-string`). */
export const REPORTED_TLSA_MAX_RECORDS = 8;
/** Certificate association data kept per reported record, hex characters (SHA2-512 fits whole). */
export const REPORTED_TLSA_DATA_MAX_CHARS = 128;

/**
 * A host's TLSA RRset in presentation format ("3 1 1 abcd…"), one string per record, for the
 * attempt event and TLS reports: sorted, at most REPORTED_TLSA_MAX_RECORDS, data longer than
 * REPORTED_TLSA_DATA_MAX_CHARS (a full certificate or key, matching type 0) cut and ended with "…".
 */
export function reportedTlsa(records: readonly TlsaRecord[]): string[] {
  return records
    .map((r) => formatTlsa({ ...r, data: r.data.toLowerCase() }, REPORTED_TLSA_DATA_MAX_CHARS))
    .sort()
    .slice(0, REPORTED_TLSA_MAX_RECORDS);
}

function selected(cert: X509Certificate, selector: number): Buffer {
  return selector === SELECTOR_SPKI ? cert.publicKey.export({ type: 'spki', format: 'der' }) : cert.raw;
}

function digestHex(data: Buffer, matchingType: number): string {
  if (matchingType === MATCH_SHA256) return createHash('sha256').update(data).digest('hex');
  if (matchingType === MATCH_SHA512) return createHash('sha512').update(data).digest('hex');
  return data.toString('hex');
}

/** True when `cert` is what `record` names. */
export function certificateMatches(cert: X509Certificate, record: TlsaRecord): boolean {
  return digestHex(selected(cert, record.selector), record.matchingType) === record.data.toLowerCase();
}

function withinDates(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/** The trust anchor's key when the record carries it whole (a full certificate or SPKI). */
function anchorKeyOf(record: TlsaRecord): KeyObject | undefined {
  if (record.matchingType !== MATCH_FULL) return undefined;
  try {
    const der = Buffer.from(record.data, 'hex');
    if (record.selector === SELECTOR_CERT) return new X509Certificate(der).publicKey;
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/**
 * chain[0..top] is a signed path (each certificate signed by the next) and the certificates
 * below `datesBelow` are within their dates; undefined when it holds, else why not.
 */
function pathHolds(chain: readonly X509Certificate[], top: number, datesBelow: number, now: number) {
  for (let i = 0; i < top; i++) {
    const issuer = chain[i + 1]!;
    if (!chain[i]!.checkIssued(issuer) || !chain[i]!.verify(issuer.publicKey))
      return `certificate ${i} of the chain is not signed by the next`;
  }
  for (let i = 0; i < datesBelow; i++)
    if (!withinDates(chain[i]!, now)) return `certificate ${i} of the chain is expired or not yet valid`;
  return undefined;
}

/** 'ok' when the chain leads to the anchor `record` names, a problem, or undefined (no anchor seen). */
function anchorPath(chain: readonly X509Certificate[], record: TlsaRecord, now: number): string | undefined {
  // The anchor presented in the chain, above the leaf …
  for (let i = 1; i < chain.length; i++)
    if (certificateMatches(chain[i]!, record)) return pathHolds(chain, i, i, now) ?? 'ok';
  // … or carried whole by the record (a full certificate or public key).
  const key = anchorKeyOf(record);
  if (!key) return undefined;
  for (let top = 0; top < chain.length; top++)
    if (chain[top]!.verify(key)) return pathHolds(chain, top, top + 1, now) ?? 'ok';
  return undefined;
}

function matchTrustAnchor(
  chain: readonly X509Certificate[],
  records: readonly TlsaRecord[],
  names: readonly string[],
  now: number,
): DaneMatch | undefined {
  let problem: string | undefined;
  for (const record of records) {
    const path = anchorPath(chain, record, now);
    if (path === 'ok') {
      if (names.some((n) => chain[0]!.checkHost(n) !== undefined)) return { ok: true, usage: 'DANE-TA' };
      problem = `the certificate does not name ${names.join(' or ')}`;
    } else {
      problem ??= path;
    }
  }
  return problem === undefined ? undefined : { ok: false, why: problem };
}

/**
 * Whether `chainDer` (DER, leaf first, as presented) matches `records` (usable ones; others are
 * ignored) for a server known as `names`.
 */
export function matchDane(
  chainDer: readonly Buffer[],
  records: readonly TlsaRecord[],
  names: readonly string[],
  now: number,
): DaneMatch {
  const usable = usableTlsa(records);
  if (usable.length === 0) return { ok: false, why: 'no usable TLSA record' };
  let chain: X509Certificate[];
  try {
    chain = chainDer.map((der) => new X509Certificate(der));
  } catch {
    return { ok: false, why: 'the server presented an unreadable certificate' };
  }
  const leaf = chain[0];
  if (!leaf) return { ok: false, why: 'the server presented no certificate' };
  if (usable.some((r) => r.usage === DANE_EE && certificateMatches(leaf, r)))
    return { ok: true, usage: 'DANE-EE' };
  const ta = matchTrustAnchor(
    chain,
    usable.filter((r) => r.usage === DANE_TA),
    names,
    now,
  );
  return ta ?? { ok: false, why: 'no TLSA record matches the certificate' };
}
