/**
 * Would DMARC fail for a message on Herald's path? At intake Herald knows what will authenticate
 * it: the DKIM keys that will sign it (their d= domains) and the return path it will be sent
 * with (the VERP bounce domain, or the envelope sender's domain). DMARC passes when either
 * aligns with the From domain; without the receiver's record the relaxed mode (same
 * organizational domain, the doctor's rule) is assumed — the common case; a strict `adkim`/`aspf`
 * is not seen here (`herald doctor` checks those records). SPF authorising Herald's IPs for the
 * return-path domain is assumed too: the doctor checks that. Pure.
 */
import { aligned } from './alignment.js';

export interface DmarcPath {
  fromDomain: string | undefined;
  /** The return-path domain; undefined for the null sender. */
  returnPathDomain: string | undefined;
  /** d= of every signature the message will get. */
  dkimDomains: readonly string[];
}

/** Why DMARC would fail on this path, or undefined when an identifier aligns. */
export function dmarcProblem(path: DmarcPath): string | undefined {
  const from = path.fromDomain;
  if (!from) return 'the message has no From domain';
  if (path.dkimDomains.some((d) => aligned(d, from, 'r'))) return undefined;
  if (path.returnPathDomain && aligned(path.returnPathDomain, from, 'r')) return undefined;
  const dkim = path.dkimDomains.length > 0 ? `DKIM d=${path.dkimDomains.join(', ')}` : 'no DKIM key';
  return `DMARC would fail for ${from}: ${dkim} and return path ${path.returnPathDomain ?? '<>'} are not aligned with it`;
}
