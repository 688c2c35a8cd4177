/**
 * Zone model and answer building for the loopback DNS server (dns-server.ts).
 *
 * Owns: turning one decoded query plus a `Zone` into the response packet an authoritative server
 * would send. Guarantees: case-insensitive names; absent names → NXDOMAIN; present names without
 * records of the asked type → NOERROR with no answers (NODATA); CNAMEs are answered like a
 * recursive server would (the CNAME plus the target's records when the target is in the zone);
 * every answer carries AA. Pure: no sockets, no clock.
 */
import type { Answer, Packet, Question } from 'dns-packet';
import dnsPacket from 'dns-packet';

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  /** A null MX (RFC 7505) is `[{ preference: 0, exchange: '.' }]`. */
  MX?: { preference: number; exchange: string }[];
  TXT?: string[];
  PTR?: string[];
  CNAME?: string;
  /** Seconds, default 300 for every record of this name. */
  ttl?: number;
  /** Answer every query for this name with that rcode. */
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  /** Over UDP answer with TC=1 and no answers, forcing a TCP retry; TCP answers fully. */
  truncate?: boolean;
  /** Delay the answer by this many milliseconds. */
  delayMs?: number;
  /** Never answer (the client times out). */
  drop?: boolean;
  /**
   * Seconds: put an SOA with this `minimum` (and TTL) in the authority section of negative answers
   * (NXDOMAIN via `rcode`, or NODATA) for this name, as RFC 2308 negative caching expects.
   */
  soaMinimum?: number;
}

/** Keys are lower-case names without trailing dot. */
export type Zone = Record<string, ZoneEntry>;

export type Transport = 'udp' | 'tcp';

export const DEFAULT_ZONE_TTL_S = 300;
/** Longest chain of CNAMEs the server expands inside one answer. */
const MAX_CNAME_CHAIN = 8;
/** A character-string inside a TXT record holds at most 255 bytes (RFC 1035 §3.3.14). */
const TXT_CHUNK_BYTES = 255;

const RCODE_NXDOMAIN = 3;
const RCODE_SERVFAIL = 2;
const RCODE_REFUSED = 5;
const RCODE_VALUES = { NXDOMAIN: RCODE_NXDOMAIN, SERVFAIL: RCODE_SERVFAIL, REFUSED: RCODE_REFUSED } as const;
const RD_FLAG = dnsPacket.RECURSION_DESIRED;

export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}

/** Looks a name up case-insensitively, whatever the case of the zone's keys. */
export function findEntry(zone: Zone, name: string): ZoneEntry | undefined {
  const key = normaliseName(name);
  const direct = zone[key];
  if (direct) return direct;
  for (const [k, v] of Object.entries(zone)) if (normaliseName(k) === key) return v;
  return undefined;
}

function splitTxt(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [bytes];
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += TXT_CHUNK_BYTES) chunks.push(bytes.subarray(i, i + TXT_CHUNK_BYTES));
  return chunks;
}

/** Records of `type` owned by `name` in the entry, in wire form. */
function recordsOf(name: string, entry: ZoneEntry, type: string): Answer[] {
  const ttl = entry.ttl ?? DEFAULT_ZONE_TTL_S;
  const base = { name, ttl, class: 'IN' as const };
  switch (type) {
    case 'A':
      return (entry.A ?? []).map((data) => ({ ...base, type: 'A', data }));
    case 'AAAA':
      return (entry.AAAA ?? []).map((data) => ({ ...base, type: 'AAAA', data }));
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({ ...base, type: 'MX', data: { ...mx } }));
    case 'TXT':
      return (entry.TXT ?? []).map((text) => ({ ...base, type: 'TXT', data: splitTxt(text) }));
    case 'PTR':
      return (entry.PTR ?? []).map((data) => ({ ...base, type: 'PTR', data }));
    case 'CNAME':
      return entry.CNAME === undefined ? [] : [{ ...base, type: 'CNAME', data: entry.CNAME }];
    default:
      return [];
  }
}

function soaFor(name: string, entry: ZoneEntry): Answer[] {
  if (entry.soaMinimum === undefined) return [];
  const minimum = entry.soaMinimum;
  return [
    {
      name,
      type: 'SOA',
      ttl: minimum,
      class: 'IN',
      data: { mname: `ns.${name}`, rname: `hostmaster.${name}`, serial: 1, minimum },
    },
  ];
}

/** The entry that decides how (and whether) the server answers this question. */
export function entryFor(zone: Zone, question: Question | undefined): ZoneEntry | undefined {
  return question ? findEntry(zone, question.name) : undefined;
}

/** Builds the full response to `query` for the given transport. */
export function buildResponse(zone: Zone, query: Packet, transport: Transport): Packet {
  const question = query.questions?.[0];
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & RD_FLAG);
  const response: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags,
    questions: question ? [question] : [],
    answers: [],
    authorities: [],
  };
  if (!question) return { ...response, flags: flags | RCODE_SERVFAIL };

  const name = normaliseName(question.name);
  const entry = findEntry(zone, name);
  if (!entry) return { ...response, flags: flags | RCODE_NXDOMAIN };
  if (entry.rcode) {
    const authorities = entry.rcode === 'NXDOMAIN' ? soaFor(name, entry) : [];
    return { ...response, flags: flags | RCODE_VALUES[entry.rcode], authorities };
  }
  if (entry.truncate && transport === 'udp')
    return { ...response, flags: flags | dnsPacket.TRUNCATED_RESPONSE };

  const answers: Answer[] = [];
  let owner = name;
  let current: ZoneEntry | undefined = entry;
  for (let hop = 0; current && hop <= MAX_CNAME_CHAIN; hop++) {
    const own = recordsOf(owner, current, question.type);
    if (own.length > 0 || question.type === 'CNAME' || current.CNAME === undefined) {
      answers.push(...own);
      break;
    }
    answers.push(...recordsOf(owner, current, 'CNAME'));
    owner = normaliseName(current.CNAME);
    current = findEntry(zone, owner);
  }
  const authorities = answers.length === 0 ? soaFor(name, entry) : [];
  return { ...response, answers, authorities };
}
