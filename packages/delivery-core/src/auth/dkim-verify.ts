/**
 * DKIM verification through mailauth's verifier, with Herald's own DNS resolver for the key
 * records (so a test's loopback DNS or the operator's `dns.servers` answer, never the system's).
 * One result per DKIM-Signature field. Note: mailauth 4.13 canonicalises header values with
 * JavaScript's \s, so a raw 8-bit header containing the byte 0xA0 (e.g. UTF-8 "à") fails here
 * although it verifies with python3-dkim, Mail::DKIM and OpenDKIM.
 */
import { dkimVerify } from 'mailauth';
import type { Resolver } from '../dns/index.js';

export interface DkimVerification {
  domain: string;
  selector: string;
  algorithm: string;
  result: 'pass' | 'fail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | string;
  /** mailauth's comment, e.g. "bad signature"; '' on pass. */
  comment: string;
}

type TxtLookup = (name: string, rrtype: string) => Promise<string[][]>;

/** mailauth's `resolver` option answered by a Herald resolver (TXT only). */
export function mailauthTxtResolver(resolver: Pick<Resolver, 'query'>): TxtLookup {
  return async (name, rrtype) => {
    const answer = await resolver.query(name, rrtype as 'TXT');
    const texts = answer.answers.flatMap((r) => (r.type === 'TXT' ? [[r.text]] : []));
    if (answer.rcode === 'NXDOMAIN' || (answer.rcode === 'NOERROR' && texts.length === 0)) {
      const code = answer.rcode === 'NXDOMAIN' ? 'ENOTFOUND' : 'ENODATA';
      throw Object.assign(new Error(`${name} ${rrtype}: ${code}`), { code });
    }
    if (answer.rcode !== 'NOERROR')
      throw Object.assign(new Error(`${name} ${rrtype}: ${answer.rcode}`), { code: 'ESERVFAIL' });
    return texts;
  };
}

/** Verifies every DKIM signature of `message`; `now` (epoch ms) checks x= expiry. */
export async function verifyDkim(
  message: Buffer,
  options: { resolver: Pick<Resolver, 'query'>; now?: number },
): Promise<DkimVerification[]> {
  const verified = await dkimVerify(message, {
    resolver: mailauthTxtResolver(options.resolver),
    ...(options.now !== undefined ? { curTime: new Date(options.now) } : {}),
  });
  return verified.results.map((r) => ({
    domain: r.signingDomain,
    selector: r.selector ?? '',
    // mailauth 4.13 names it `algo` although its typings say `algorithm`.
    algorithm: (r as { algo?: string }).algo ?? r.algorithm ?? '',
    result: r.status.result,
    comment: r.status.result === 'pass' ? '' : (r.status.comment ?? ''),
  }));
}
