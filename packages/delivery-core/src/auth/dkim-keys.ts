/**
 * The DKIM key store: every `dkim:` entry's key read at start (a missing, unreadable, foreign or
 * too small key stops the start with its config path, e.g. `dkim[2].key_file: ...`), the
 * algorithm taken from the key (RSA of at least RSA_MIN_BITS, a warning under
 * RSA_RECOMMENDED_BITS; Ed25519), and the choice of signatures for one message:
 *
 * 1. an entry signs when it is active (activate_at <= now < retire_at), its tenant is the
 *    message's (or it has none), and the From domain is its domain or a subdomain of it — or it is
 *    `always: true` (a platform signature on any mail);
 * 2. of the entries left, one signs per (domain, algorithm): the tenant's own entry before a
 *    shared one, then the latest activate_at, then the later entry in the list. So two selectors
 *    of a domain rotate by activation time (the new one takes over at its activate_at, the old one
 *    may stay published until retire_at), and an RSA and an Ed25519 key of one domain both sign
 *    (RFC 8463 dual signing).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { comparableDomain, withinDomain } from '../address/index.js';
import { ConfigError, type ConfigIssue, type HeraldConfig } from '../config/index.js';

/** Smallest RSA key accepted (RFC 8301 §3.2). */
export const RSA_MIN_BITS = 1024;
/** RSA keys smaller than this get a warning at start. */
export const RSA_RECOMMENDED_BITS = 2048;

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';
export type DkimKeyEntry = HeraldConfig['dkim'][number];

export interface DkimKey {
  /** Position in the `dkim:` list. */
  index: number;
  /** Signing domain (d=), A-label form, lower-cased. */
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** RSA modulus length; 256 for Ed25519. */
  bits: number;
  privateKey: KeyObject;
  /** The p= value to publish at `<selector>._domainkey.<domain>`. */
  publicKey: string;
  tenant: string | undefined;
  /** Epoch ms; -Infinity when not set. */
  activateAt: number;
  /** Epoch ms; +Infinity when not set. */
  retireAt: number;
  always: boolean;
  keyFile: string;
}

/** What picks a message's signatures. */
export interface SigningContext {
  /** The From header's domain (A-label, lower case); undefined without one. */
  fromDomain: string | undefined;
  tenant: string;
  now: number;
}

/** The key file's key and what DKIM needs of it; throws a reason without the path. */
export function readDkimKey(
  pem: Buffer | string,
): Pick<DkimKey, 'algorithm' | 'bits' | 'privateKey' | 'publicKey'> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('not a PEM private key (expected an RSA or Ed25519 key, e.g. from herald dkim keygen)');
  }
  const type = privateKey.asymmetricKeyType;
  if (type === 'ed25519') {
    // RFC 8463: p= is the raw 32-byte public key, the tail of its SubjectPublicKeyInfo.
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return {
      algorithm: 'ed25519-sha256',
      bits: 256,
      privateKey,
      publicKey: spki.subarray(-32).toString('base64'),
    };
  }
  if (type !== 'rsa')
    throw new Error(`a ${type ?? 'unknown'} key cannot sign DKIM (expected RSA or Ed25519)`);
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < RSA_MIN_BITS) throw new Error(`RSA key of ${bits} bits is too small (at least ${RSA_MIN_BITS})`);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { algorithm: 'rsa-sha256', bits, privateKey, publicKey: spki.toString('base64') };
}

/** The TXT record to publish for a key: `v=DKIM1; k=rsa; p=...`. */
export function dkimDnsRecord(key: Pick<DkimKey, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${key.publicKey}`;
}

export interface LoadDkimKeysOptions {
  /** Told about keys that work but are weak (RSA under RSA_RECOMMENDED_BITS). */
  warn?: (message: string) => void;
  /** Label for error lines (the config file). */
  source?: string;
}

export class DkimKeyStore {
  readonly keys: readonly DkimKey[];
  constructor(keys: readonly DkimKey[]) {
    this.keys = keys;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The keys that sign a message, one per (domain, algorithm); see the module comment. */
  select(context: SigningContext): DkimKey[] {
    const best = new Map<string, DkimKey>();
    for (const key of this.keys) {
      if (!signs(key, context)) continue;
      const group = `${key.domain} ${key.algorithm}`;
      const current = best.get(group);
      if (!current || preferred(key, current)) best.set(group, key);
    }
    return [...best.values()];
  }
}

function signs(key: DkimKey, { fromDomain, tenant, now }: SigningContext): boolean {
  if (now < key.activateAt || now >= key.retireAt) return false;
  if (key.tenant !== undefined && key.tenant !== tenant) return false;
  if (key.always) return true;
  return fromDomain !== undefined && withinDomain(fromDomain, key.domain);
}

/** True when `a` signs instead of `b` (same domain and algorithm). */
function preferred(a: DkimKey, b: DkimKey): boolean {
  const ownA = a.tenant !== undefined;
  const ownB = b.tenant !== undefined;
  if (ownA !== ownB) return ownA;
  if (a.activateAt !== b.activateAt) return a.activateAt > b.activateAt;
  return a.index > b.index;
}

/** Reads every configured key; all problems at once in one ConfigError with their paths. */
export function loadDkimKeys(
  entries: readonly DkimKeyEntry[],
  options: LoadDkimKeysOptions = {},
): DkimKeyStore {
  const keys: DkimKey[] = [];
  const issues: ConfigIssue[] = [];
  entries.forEach((entry, index) => {
    const inline = entry.private_key !== undefined;
    const path = `dkim[${index}].${inline ? 'private_key' : 'key_file'}`;
    const source = inline ? 'the inline key' : (entry.key_file ?? '');
    let pem: Buffer;
    try {
      pem = inline ? Buffer.from(entry.private_key ?? '', 'utf8') : readFileSync(source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      issues.push({ path, message: `cannot read ${source}${code ? ` (${code})` : ''}` });
      return;
    }
    try {
      const key = readDkimKey(pem);
      if (key.algorithm === 'rsa-sha256' && key.bits < RSA_RECOMMENDED_BITS)
        options.warn?.(`${path}: RSA key of ${key.bits} bits; use ${RSA_RECOMMENDED_BITS} bits or more`);
      keys.push({
        ...key,
        index,
        domain: comparableDomain(entry.domain),
        selector: entry.selector,
        tenant: entry.tenant,
        activateAt: entry.activate_at ?? Number.NEGATIVE_INFINITY,
        retireAt: entry.retire_at ?? Number.POSITIVE_INFINITY,
        always: entry.always,
        keyFile: source,
      });
    } catch (err) {
      issues.push({ path, message: `${source}: ${(err as Error).message}` });
    }
  });
  if (issues.length) throw new ConfigError('HERALD_CONFIG_INVALID', issues, options.source);
  return new DkimKeyStore(keys);
}
