/**
 * DKIM checks (RFC 6376 §3.6.1, RFC 8463): for each configured key that signs for the domain,
 * `dkim.<selector>` — the key record at <selector>._domainkey.<domain> is published once, not
 * revoked, of the key's type, carries exactly the public half of our private key, and is big
 * enough (RSA < 1024 bits fail, < 2048 warn). Pure over a DnsView and the key facts the
 * gatherer read from the key files.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { dkimDnsRecord, RSA_MIN_BITS, RSA_RECOMMENDED_BITS } from '../auth/index.js';
import { aligned } from '../sender/index.js';
import type { CheckResult, DkimKeyFacts, DnsView, SenderSetup } from './types.js';
import { combine, type Finding, txtRecords, verdict } from './verdict.js';

/** A DKIM tag list ("v=DKIM1; k=rsa; p=...") as a map; whitespace inside values removed. */
export function parseTagList(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name !== '' && !tags.has(name)) tags.set(name, part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

/** The TXT record to publish for a key (the one `herald dkim` prints). */
export function dkimRecordFor(key: DkimKeyFacts): string {
  return dkimDnsRecord({
    algorithm: key.type === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
    publicKey: key.publicKey?.toString('base64') ?? '<public key>',
  });
}

/** The published p= as our comparable form (SPKI DER for RSA, raw 32 bytes for Ed25519). */
function publishedKey(p: string, type: 'rsa' | 'ed25519'): { key: Buffer; bits?: number } | string {
  const der = Buffer.from(p, 'base64');
  if (type === 'ed25519') return der.length === 32 ? { key: der } : `p= holds ${der.length} bytes, not 32`;
  let parsed: KeyObject | undefined;
  for (const format of ['spki', 'pkcs1'] as const) {
    try {
      parsed = createPublicKey({ key: der, format: 'der', type: format });
      break;
    } catch {
      // try the other encoding
    }
  }
  if (parsed?.asymmetricKeyType !== 'rsa') return 'p= is not an RSA public key';
  return {
    key: parsed.export({ type: 'spki', format: 'der' }),
    bits: parsed.asymmetricKeyDetails?.modulusLength ?? 0,
  };
}

function keyId(key: DkimKeyFacts, domain: string): string {
  return key.domain === domain ? `dkim.${key.selector}` : `dkim.${key.selector}.${key.domain}`;
}

export function dkimKeyCheck(view: DnsView, domain: string, key: DkimKeyFacts, now: number): CheckResult {
  const id = keyId(key, domain);
  const name = `${key.selector}._domainkey.${key.domain}`;
  const publish = `Publish a TXT record at ${name}: "${dkimRecordFor(key)}".`;
  if (key.error !== undefined || !key.publicKey || !key.type)
    return verdict(
      id,
      'fail',
      `key file ${key.keyFile}: ${key.error ?? 'unusable'}`,
      'Fix the key_file in dkim:.',
    );
  const records = txtRecords(view, id, name, (t) => parseTagList(t).has('p'));
  if (!Array.isArray(records)) return records;
  if (records.length === 0) return verdict(id, 'fail', `no DKIM key record at ${name}`, publish);
  if (records.length > 1)
    return verdict(id, 'fail', `${records.length} DKIM key records at ${name}`, `Keep one. ${publish}`);
  const tags = parseTagList(records[0]!);
  const details: Record<string, unknown> = { name, record: records[0], keyFile: key.keyFile, type: key.type };
  const findings: Finding[] = [];
  const k = (tags.get('k') ?? 'rsa').toLowerCase();
  const p = tags.get('p') ?? '';
  const version = tags.get('v');
  if (version !== undefined && version !== 'DKIM1')
    findings.push({ status: 'fail', reason: `v=${version} is not DKIM1`, fix: publish });
  else if (p === '')
    findings.push({ status: 'fail', reason: `the key at ${name} is revoked (empty p=)`, fix: publish });
  else if (k !== key.type)
    findings.push({
      status: 'fail',
      reason: `k=${k} published, but ${key.keyFile} is an ${key.type} key`,
      fix: publish,
    });
  else {
    const published = publishedKey(p, key.type);
    if (typeof published === 'string') findings.push({ status: 'fail', reason: published, fix: publish });
    else if (!published.key.equals(key.publicKey))
      findings.push({
        status: 'fail',
        reason: `the key published at ${name} is not the public half of ${key.keyFile}`,
        fix: publish,
      });
    else if (published.bits !== undefined) {
      details.bits = published.bits;
      if (published.bits < RSA_MIN_BITS)
        findings.push({
          status: 'fail',
          reason: `${published.bits}-bit RSA key (verifiers refuse under ${RSA_MIN_BITS})`,
          fix: `Generate a ${RSA_RECOMMENDED_BITS}-bit key.`,
        });
      else if (published.bits < RSA_RECOMMENDED_BITS)
        findings.push({
          status: 'warn',
          reason: `${published.bits}-bit RSA key (Gmail and Yahoo ask for ${RSA_RECOMMENDED_BITS})`,
          fix: `Rotate to a ${RSA_RECOMMENDED_BITS}-bit key under a new selector.`,
        });
    }
  }
  const hashes = tags.get('h');
  if (hashes !== undefined && !hashes.toLowerCase().split(':').includes('sha256'))
    findings.push({
      status: 'fail',
      reason: `h=${hashes} excludes sha256, which Herald signs with`,
      fix: 'Drop the h= tag.',
    });
  if ((tags.get('t') ?? '').toLowerCase().split(':').includes('y'))
    findings.push({
      status: 'warn',
      reason: 't=y: the key is in testing mode; verifiers may ignore failures',
      fix: 'Drop t=y once signatures verify.',
    });
  const size = details.bits === undefined ? key.type : `${details.bits}-bit ${key.type}`;
  const later =
    key.activateAt !== undefined && key.activateAt > now
      ? `; activates ${new Date(key.activateAt).toISOString()}, published ahead`
      : '';
  return combine(id, `${name} publishes our ${size} key${later}`, findings, details);
}

/** The config's keys that sign for `domain` (same organizational domain, not retired). */
export function keysForDomain(setup: SenderSetup, domain: string, now: number): DkimKeyFacts[] {
  return setup.dkimKeys.filter(
    (k) => aligned(k.domain, domain, 'r') && (k.retireAt === undefined || k.retireAt > now),
  );
}

export function dkimChecks(
  view: DnsView,
  domain: string,
  setup: SenderSetup | undefined,
  now: number,
): CheckResult[] {
  if (!setup)
    return [
      verdict(
        'dkim',
        'info',
        'DKIM selectors and keys come from the config; none checked without --config',
        'Run with --config FILE to check each dkim: key against DNS.',
      ),
    ];
  const keys = keysForDomain(setup, domain, now);
  if (keys.length === 0)
    return [
      verdict(
        'dkim',
        'fail',
        `no dkim: key in ${setup.source} signs for ${domain}, so its mail goes out unsigned`,
        `Run "herald dkim keygen ${domain} --selector s1", add the key under dkim: and publish the record it prints.`,
      ),
    ];
  return keys.map((key) => dkimKeyCheck(view, domain, key, now));
}
