/**
 * What the config says about sending for a domain, read once before the checks run: each DKIM
 * key file (its public half, type and size, read as the signer reads it), the VERP return-path domain, the
 * tenants' List-Unsubscribe settings, the shaping file's source IPs and where TLS is turned off.
 * Reads files: key files (relative paths are taken from the config file's folder) and the
 * shaping file. A ConfigError from the shaping file propagates.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readDkimKey } from '../auth/index.js';
import type { HeraldConfig } from '../config/index.js';
import { loadShapingFile } from '../shaping/index.js';
import type { DkimKeyFacts, SenderSetup } from './types.js';

/**
 * The public half of a PEM private key as the doctor compares it (see DkimKeyFacts), read by the
 * signer's own reader, so a key Herald would refuse to start with is reported as unusable here.
 */
function publicHalf(
  path: string,
  inlinePem?: string,
): Pick<DkimKeyFacts, 'publicKey' | 'type' | 'bits' | 'error'> {
  let pem: string;
  try {
    pem = inlinePem ?? readFileSync(path, 'utf8');
  } catch (err) {
    return { error: `cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  try {
    const key = readDkimKey(pem);
    const publicKey = Buffer.from(key.publicKey, 'base64');
    return key.algorithm === 'ed25519-sha256'
      ? { type: 'ed25519', publicKey }
      : { type: 'rsa', publicKey, bits: key.bits };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function keyFacts(key: HeraldConfig['dkim'][number], folder: string): DkimKeyFacts {
  const keyFile = key.key_file !== undefined ? resolve(folder, key.key_file) : '(inline private_key)';
  const facts: DkimKeyFacts = {
    domain: key.domain.toLowerCase(),
    selector: key.selector,
    keyFile,
    always: key.always,
    ...publicHalf(keyFile, key.private_key),
  };
  if (key.activate_at !== undefined) facts.activateAt = key.activate_at;
  if (key.retire_at !== undefined) facts.retireAt = key.retire_at;
  return facts;
}

function shapingFacts(config: HeraldConfig): { sourceIps: string[]; tlsOff: string[] } {
  const tlsOff = config.delivery.tls === 'none' ? ['delivery.tls'] : [];
  if (!config.shaping.file) return { sourceIps: [], tlsOff };
  const shaping = loadShapingFile(config.shaping.file, { providerDefaults: false });
  const ips = new Set<string>(Object.keys(shaping.sources));
  for (const pool of Object.values(shaping.pools)) for (const s of pool.sources) ips.add(s.ip);
  if (shaping.defaults.tls === 'none') tlsOff.push('shaping defaults');
  for (const section of ['providers', 'sites', 'domains'] as const)
    for (const [name, entry] of Object.entries(shaping[section]))
      if (entry.tls === 'none') tlsOff.push(`shaping ${section}.${name}`);
  return { sourceIps: [...ips], tlsOff };
}

/** The sender setup of a config loaded from `configFile`. */
export function senderSetup(config: HeraldConfig, configFile: string): SenderSetup {
  const folder = dirname(resolve(configFile));
  const setup: SenderSetup = {
    source: configFile,
    dkimKeys: config.dkim.map((k) => keyFacts(k, folder)),
    unsubscribe: Object.entries(config.tenants).flatMap(([tenant, policy]) => {
      const u = policy.list_unsubscribe;
      return u
        ? [{ tenant, mailto: u.mailto !== undefined, https: u.https !== undefined, streams: [...u.streams] }]
        : [];
    }),
    ...shapingFacts(config),
  };
  if (config.bounce) setup.bounceDomain = config.bounce.domain.toLowerCase();
  return setup;
}
