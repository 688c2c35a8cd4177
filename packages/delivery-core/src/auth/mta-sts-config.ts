/**
 * mtaStsTlsPolicy: delivery's `tlsPolicy` from the config when `delivery.mta_sts` is enabled —
 * receiving domains' MTA-STS policies (RFC 8461), cached per Herald; `ca_file` adds trusted CAs,
 * read now so an unreadable file fails the start with its key path. Undefined when disabled.
 */
import { readFileSync } from 'node:fs';
import type { HeraldConfig } from '../config/index.js';
import type { TlsPolicyDecision } from '../delivery/index.js';
import type { Resolver } from '../dns/index.js';
import { HeraldError } from '../errors/index.js';
import type { CandidateHost } from '../smtp/index.js';
import { MtaStsPolicies } from './mta-sts.js';

export type TlsPolicy = (domain: string, hosts: CandidateHost[]) => Promise<TlsPolicyDecision | undefined>;

export function mtaStsTlsPolicy(config: HeraldConfig, resolver: Resolver): TlsPolicy | undefined {
  const sts = config.delivery.mta_sts;
  if (!sts.enabled) return undefined;
  let extraCa: string | undefined;
  try {
    extraCa = sts.ca_file ? readFileSync(sts.ca_file, 'utf8') : undefined;
  } catch (err) {
    throw new HeraldError(
      'HERALD_CONFIG_UNREADABLE',
      `delivery.mta_sts.ca_file: cannot read ${sts.ca_file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const policies = new MtaStsPolicies({
    resolver,
    cacheSize: sts.cache_size,
    extraCa,
    policyPort: sts.policy_port,
  });
  return (domain, hosts) => policies.decide(domain, hosts);
}
