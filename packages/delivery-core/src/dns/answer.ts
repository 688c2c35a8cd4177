/**
 * Reading a DNS response: the records of the asked type (following CNAMEs inside the answer),
 * the rcode, the AD bit, and how long the result may be cached.
 *
 * Guarantees: only records owned by the queried name or by a CNAME target reached from it are
 * used; names in records are normalised; TXT strings of one record are joined; TTLs are in ms,
 * clamped to [DNS_MIN_TTL_MS, maxTtlMs]; negative answers use the SOA of the authority section
 * (min of its TTL and MINIMUM, RFC 2308 §5) or `negativeTtlMs`. Pure: no I/O, no clock.
 */
import type { Answer } from 'dns-packet';
import { normaliseName } from './names.js';
import type { DnsResponse } from './transport.js';
import type { DnsRecord, RecordType } from './types.js';

export const DNS_MIN_TTL_MS = 1_000;
const MS_PER_S = 1_000;
/** Longest CNAME chain followed, within one answer and across re-queries. */
export const MAX_CNAME_HOPS = 8;

export interface ReadAnswer {
  rcode: string;
  answers: DnsRecord[];
  ttlMs: number;
  /** The response's AD bit. */
  authenticated: boolean;
  /** Set when the answer ends at a CNAME whose target's records were not included: ask again. */
  chaseTarget?: string;
}

export interface TtlPolicy {
  negativeTtlMs: number;
  maxTtlMs: number;
}

function clampTtl(ms: number, policy: TtlPolicy): number {
  return Math.min(Math.max(ms, DNS_MIN_TTL_MS), policy.maxTtlMs);
}

function toRecord(answer: Answer): DnsRecord | undefined {
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      return { type: answer.type, address: answer.data };
    case 'MX':
      return {
        type: 'MX',
        preference: answer.data.preference ?? 0,
        exchange: normaliseName(answer.data.exchange),
      };
    case 'TXT': {
      const parts = Array.isArray(answer.data) ? answer.data : [answer.data];
      return {
        type: 'TXT',
        text: parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join(''),
      };
    }
    case 'PTR':
    case 'CNAME':
      return { type: answer.type, name: normaliseName(answer.data) };
    case 'TLSA':
      return {
        type: 'TLSA',
        usage: answer.data.usage,
        selector: answer.data.selector,
        matchingType: answer.data.matchingType,
        data: answer.data.certificate.toString('hex'),
      };
    default:
      return undefined;
  }
}

function negativeTtlMs(response: DnsResponse, policy: TtlPolicy): number {
  for (const auth of response.authorities ?? []) {
    if (auth.type !== 'SOA') continue;
    const seconds = Math.min(
      auth.ttl ?? Number.POSITIVE_INFINITY,
      auth.data.minimum ?? Number.POSITIVE_INFINITY,
    );
    if (Number.isFinite(seconds)) return clampTtl(seconds * MS_PER_S, policy);
  }
  return clampTtl(policy.negativeTtlMs, policy);
}

/** Interprets `response` to the question (name, type); `name` is normalised. */
export function readAnswer(
  response: DnsResponse,
  name: string,
  type: RecordType,
  policy: TtlPolicy,
): ReadAnswer {
  const rcode = response.rcode ?? 'NOERROR';
  const authenticated = response.flag_ad === true;
  const all = (response.answers ?? []).filter((a) => a.type !== 'OPT');
  let owner = name;
  let minTtlS = Number.POSITIVE_INFINITY;
  let chased = false;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const own = all.filter((a) => normaliseName(a.name) === owner);
    const wanted = own.filter((a) => a.type === type);
    const cname = own.find((a) => a.type === 'CNAME');
    if (wanted.length > 0 || type === 'CNAME' || !cname || cname.type !== 'CNAME') {
      const answers = wanted.map(toRecord).filter((r): r is DnsRecord => r !== undefined);
      if (answers.length === 0) {
        // A CNAME followed to a target the server said nothing about: the caller asks again, and
        // the chain's own TTL bounds the combined answer.
        if (chased && rcode === 'NOERROR' && !response.authorities?.some((a) => a.type === 'SOA')) {
          return {
            rcode,
            answers,
            ttlMs: clampTtl(minTtlS * MS_PER_S, policy),
            authenticated,
            chaseTarget: owner,
          };
        }
        return { rcode, answers, ttlMs: negativeTtlMs(response, policy), authenticated };
      }
      for (const a of wanted) minTtlS = Math.min(minTtlS, 'ttl' in a ? (a.ttl ?? 0) : 0);
      return { rcode, answers, ttlMs: clampTtl(minTtlS * MS_PER_S, policy), authenticated };
    }
    minTtlS = Math.min(minTtlS, cname.ttl ?? 0);
    owner = normaliseName(cname.data);
    chased = true;
  }
  return { rcode: 'SERVFAIL', answers: [], ttlMs: 0, authenticated: false };
}
