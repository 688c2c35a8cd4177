/**
 * Where mail for a domain goes: a static route (like Postfix's transport map, `[host]:port`
 * semantics: the via host's own addresses, no MX lookup) or else the domain's MX hosts.
 * For an MX delivery, also the MX RRset's names (`mxNames`, the resolver's MxSet.names): the
 * destination's site is named after them, not after the hosts this attempt picked to try, so the
 * site is the same on every attempt while the RRset is.
 * Throws the DeliveryError the resolver raised (permanent for NXDOMAIN / null MX).
 */

import { isIP } from 'node:net';
import type { Resolver } from '../dns/index.js';
import type { CandidateHost, TlsMode } from '../smtp/index.js';

export interface StaticRoute {
  match: string;
  via: { host: string; port: number };
  tls: TlsMode;
  auth?: { username: string; password: string } | undefined;
}

export interface RouteChoice {
  hosts: CandidateHost[];
  route?: StaticRoute;
  /** MX deliveries: the MX RRset's names the site is named after (MxSet.names). */
  mxNames?: string[];
}

export async function hostsFor(
  domain: string,
  route: StaticRoute | undefined,
  resolver: Resolver,
  mxPort: number,
): Promise<RouteChoice> {
  if (route) {
    const { host, port } = route.via;
    const addresses = isIP(host) ? [host] : await resolver.resolveAddresses(host);
    return { hosts: [{ hostname: host, addresses, port }], route };
  }
  const mx = await resolver.resolveMxSet(domain);
  return {
    hosts: mx.hosts.map((h) => ({ hostname: h.exchange, addresses: h.addresses, port: mxPort })),
    mxNames: mx.names,
  };
}
