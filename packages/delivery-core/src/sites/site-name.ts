/**
 * Is this string a site an operator may name (`herald site suspend|resume`)? A site name is only
 * ever compared as written, so a typo or a name in another form would suspend nothing that
 * delivery looks at. `siteNameProblem` accepts what delivery produces: `provider:<name>` of a
 * provider the shaping file in force knows, `mx:<hosts>` as `siteForMxHosts` writes them
 * (host names lower-case, de-duplicated, sorted, comma-separated), `route:<host>:<port>` as
 * `siteForRoute` writes it, of a route the config has (`routeSites`) when the caller gives them.
 * Otherwise it returns the one-line reason, with the form meant when it can tell (`did you mean
 * provider:gmail?`). Pure.
 */
import { isIPv6 } from 'node:net';
import { parseHostPort, suggestKey } from '../config/index.js';
import { canonicalHostSet, siteForRoute } from './site.js';

/** RFC 1035 limits: 63 octets a label, 253 a name (without the trailing dot). */
const MAX_LABEL_LENGTH = 63;
const MAX_NAME_LENGTH = 253;
const MAX_PORT = 65_535;
/** A route's `via` without a port: SMTP's. */
const ROUTE_PORT = 25;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/i;
const ROUTE = /^(\[[^\]]*\]|[^:[\]]+):(\d{1,5})$/;

const FORMS =
  'a site is provider:<name>, mx:<MX hosts> or route:<host>:<port>, as herald shaping explain shows it';

function isHostName(host: string): boolean {
  const name = host.replace(/\.$/, '');
  if (name === '' || name.length > MAX_NAME_LENGTH) return false;
  return name.split('.').every((label) => label.length <= MAX_LABEL_LENGTH && LABEL.test(label));
}

function didYouMean(site: string, canonical: string, why: string): string | undefined {
  return canonical === site ? undefined : `unknown site "${site}" (${why}; did you mean ${canonical}?)`;
}

/** The `route:<host>:<port>` sites the static routes of a config produce. */
export function routeSites(routes: readonly { via: string }[]): string[] {
  return [...new Set(routes.map((route) => siteForRoute(parseHostPort(route.via, ROUTE_PORT))))];
}

/**
 * Undefined when `site` is well-formed and its provider known (and, given `routes`, its route
 * one of them); else why not, one line.
 */
export function siteNameProblem(
  site: string,
  providers: readonly string[],
  routes?: readonly string[],
): string | undefined {
  const colon = site.indexOf(':');
  const kind = colon < 0 ? '' : site.slice(0, colon);
  const rest = site.slice(colon + 1);
  if (kind === 'provider') {
    if (providers.includes(rest)) return undefined;
    const guess = suggestKey(rest, providers);
    const known = providers.length > 0 ? providers.join(', ') : 'none';
    return `unknown site "${site}" (known providers: ${known}${guess ? `; did you mean provider:${guess}?` : ''})`;
  }
  if (kind === 'mx') {
    const hosts = rest.split(',');
    const bad = hosts.find((host) => !isHostName(host));
    if (bad !== undefined) return `unknown site "${site}" ("${bad}" is not a host name; ${FORMS})`;
    return didYouMean(site, `mx:${canonicalHostSet(hosts).join(',')}`, 'MX hosts are lower-case and sorted');
  }
  if (kind === 'route') {
    const match = ROUTE.exec(rest);
    const host = match?.[1] ?? '';
    const port = Number(match?.[2]);
    const hostOk = host.startsWith('[') ? isIPv6(host.slice(1, -1)) : isHostName(host);
    if (!match || !hostOk || port < 1 || port > MAX_PORT)
      return `unknown site "${site}" (not route:<host>:<port>; ${FORMS})`;
    const canonical = didYouMean(site, siteForRoute({ host, port }), 'route hosts are lower-case');
    if (canonical || routes === undefined || routes.includes(site)) return canonical;
    return `unknown site "${site}" (no route produces it; routes: ${routes.length > 0 ? routes.join(', ') : 'none'})`;
  }
  return `unknown site "${site}" (${FORMS})`;
}
