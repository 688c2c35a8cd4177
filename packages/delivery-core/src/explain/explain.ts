/**
 * createExplainer: one delivery path explained as plain data. A static route wins (no MX
 * lookup; its `tls` decides STARTTLS over every shaping layer, with `delivery.tls_verify`, as
 * delivery does, and DANE is off on it); otherwise the MX hosts resolved now roll up to their site. The source pool is
 * the one `pool_selection` picks for the tenant and stream, or the pool owning the source IP asked
 * about; the limits are the shaping layers over herald.yaml's delivery / retry values.
 * Needs injected: the config, the shaping file in force, an MX lookup and the live-state reader
 * (the shaping runtime's), so this module holds no connection of its own.
 */
import { DEFAULT_TENANT, type HeraldConfig, matchRoute, parseHostPort, type Route } from '../config/index.js';
import type { MxHost, MxSet, Resolver } from '../dns/index.js';
import { HeraldError } from '../errors/index.js';
import {
  baseLimitsFromConfig,
  DEFAULT_STREAM,
  type EffectiveLimits,
  type EffectiveLimitsResult,
  effectiveLimits,
  type LimitKey,
  type LivePath,
  type LiveShapingState,
  type Shaping,
  selectPool,
} from '../shaping/index.js';
import { providerRules, siteForMxHosts, siteForRoute } from '../sites/index.js';

/** A static route's `via` without a port means port 25. */
const ROUTE_PORT = 25;

export interface ExplainOptions {
  /** Default: the default tenant. */
  tenant?: string;
  /** Default: transactional. */
  stream?: string;
  /** The source IP to explain (its pool and source layers, its lane and state at the site). */
  ip?: string;
}

export interface ExplainedSource {
  /** The pool `pool_selection` picks for this tenant and stream; absent: the system picks the address. */
  selected?: { pool: string; sources: { ip: string; weight: number }[] };
  /** The source IP asked about. */
  ip?: string;
  /** The pool whose layer applies: the one owning `ip` (absent when it is in no pool), else the selected one. */
  pool?: string;
}

export interface DeliveryExplanation {
  domain: string;
  tenant: string;
  stream: string;
  /** The static route that matches the domain (then there is no MX lookup). */
  route?: Route;
  /** The MX hosts resolved now, by preference (absent with a static route). */
  mx?: MxHost[];
  /** The site the destination rolls up to (`provider:<name>`, `mx:<hosts>`, `route:<host>:<port>`). */
  site: string;
  /** The provider whose `mx_suffixes` every MX host matches. */
  provider?: string;
  source: ExplainedSource;
  /** Every limit with the layer that set it, and the layers that exist for this path. */
  limits: EffectiveLimitsResult;
  live: LiveShapingState;
}

export interface ExplainerParts {
  config: HeraldConfig;
  shaping: Shaping;
  resolver: Pick<Resolver, 'resolveMxSet'>;
  liveState(path: LivePath): Promise<LiveShapingState>;
}

/** Rejects with HERALD_DNS_FAILED when the MX lookup fails (the message names the DNS answer). */
export type Explainer = (domain: string, opts?: ExplainOptions) => Promise<DeliveryExplanation>;

export function createExplainer(parts: ExplainerParts): Explainer {
  const { config, shaping } = parts;
  const rules = providerRules(shaping);
  const base = baseLimitsFromConfig(config);

  const destination = async (
    domain: string,
  ): Promise<Pick<DeliveryExplanation, 'route' | 'mx' | 'site' | 'provider'>> => {
    const route = matchRoute(config.routes as readonly Route[], domain);
    if (route) return { route, site: siteForRoute(parseHostPort(route.via, ROUTE_PORT)) };
    let set: MxSet;
    try {
      set = await parts.resolver.resolveMxSet(domain);
    } catch (err) {
      throw new HeraldError('HERALD_DNS_FAILED', `${domain}: ${(err as Error).message}`, { cause: err });
    }
    // Named after the MX RRset, as the shaping gate names it (not the hosts picked to try).
    const { site, provider } = siteForMxHosts(set.names, rules);
    return { mx: set.hosts, site, ...(provider ? { provider } : {}) };
  };

  return async (domain, opts = {}) => {
    const where = await destination(domain);
    const tenant = opts.tenant ?? DEFAULT_TENANT;
    const source = sourceFor(shaping, { tenant, stream: opts.stream }, opts.ip);
    const layered = effectiveLimits(
      shaping,
      {
        domain,
        site: where.site,
        ...(where.provider ? { provider: where.provider } : {}),
        ...(source.pool ? { pool: source.pool } : {}),
        ...(source.ip ? { sourceIp: source.ip } : {}),
      },
      base,
    );
    const limits = where.route ? withRouteTls(layered, where.route, config.delivery.tls_verify) : layered;
    const live = await parts.liveState({
      site: where.site,
      limits: limits.limits,
      tenant,
      ...(source.pool ? { pool: source.pool } : {}),
      ...(source.ip ? { ip: source.ip } : {}),
    });
    return { domain, tenant, stream: opts.stream ?? DEFAULT_STREAM, ...where, source, limits, live };
  };
}

/** The pool and source IP for the mail (and `ip`), as the shaping gate would choose them. */
function sourceFor(
  shaping: Shaping,
  mail: { tenant: string; stream?: string | undefined },
  ip: string | undefined,
): ExplainedSource {
  const picked = selectPool(shaping, mail);
  const selected = picked
    ? { pool: picked.name, sources: picked.pool.sources.map((s) => ({ ip: s.ip, weight: s.weight })) }
    : undefined;
  const owner = ip
    ? Object.entries(shaping.pools).find(([, pool]) => pool.sources.some((s) => s.ip === ip))?.[0]
    : undefined;
  const pool = ip ? owner : selected?.pool;
  return { ...(selected ? { selected } : {}), ...(ip ? { ip } : {}), ...(pool ? { pool } : {}) };
}

/**
 * A static route's `tls` over every shaping layer, shown as set by the route; its `dane` is `off`
 * (static routes are not subject to DANE), shown as the route's too.
 */
function withRouteTls(result: EffectiveLimitsResult, route: Route, verify: boolean): EffectiveLimitsResult {
  const tls = verify && route.tls !== 'none' ? 'verify' : route.tls;
  const byRoute: Partial<Record<LimitKey, EffectiveLimits[LimitKey]>> = { tls, dane: 'off' };
  return {
    ...result,
    limits: { ...result.limits, tls, dane: 'off' },
    explain: result.explain.map((o) =>
      Object.hasOwn(byRoute, o.key) ? { ...o, value: byRoute[o.key], from: `route ${route.match}` } : o,
    ),
  };
}
