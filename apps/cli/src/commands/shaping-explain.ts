/**
 * `herald shaping explain DOMAIN [--config FILE] [--dns HOST:PORT] [--ip ADDR] [--tenant T]
 * [--stream S]`: where mail for DOMAIN goes and under which limits, as a relay with that config
 * would decide now — the static route or the MX hosts (resolved over DNS), the site they roll up
 * to and why, the source pool and IP, every effective limit with the layer that set it, and the
 * live state in Redis (live-state.ts: suspensions with time left, connections in use, next free
 * rate slot, warm-up count).
 */
import { createHerald } from '@herald/delivery-core';
import { DEFAULT_TENANT, matchRoute, parseHostPort, type Route } from '@herald/delivery-core/config';
import {
  baseLimitsFromConfig,
  describeEffectiveLimits,
  type EffectiveLimitsResult,
  effectiveLimits,
} from '@herald/delivery-core/shaping';
import { providerRules, siteForMxHosts, siteForRoute } from '@herald/delivery-core/sites';
import { parseCommandArgs, usageError } from '../args.js';
import { EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { liveState, sourceFor } from './live-state.js';

const ROUTE_PORT = 25;

export const explainHelp = `Usage: herald shaping explain DOMAIN [--config FILE] [--dns HOST:PORT] [--ip ADDR]
                              [--tenant NAME] [--stream NAME]

Show where mail for DOMAIN goes and under which limits: its static route or MX hosts
(resolved now), the site they roll up to and why, the source pool and IP, each effective
limit with the layer that set it, and the live state in Redis (suspensions with time
left, connections in use, next free rate slot, warm-up count today).

  --config FILE     the relay's config (shaping.file, dns, routes, redis); default:
                    REDIS_URL over the built-in defaults, else npm start's
                    .herald/herald.yaml in this checkout (the Redis read is named
                    on stderr)
  --dns HOST:PORT   resolve with this DNS server instead of the config's
  --ip ADDR         the source IP (its pool and source layers, its state at the site)
  --tenant NAME     the tenant (its rate limits and pool selection; default: default)
  --stream NAME     the stream (pool selection; default: transactional)`;

/**
 * A static route's `tls` (default `opportunistic`) decides STARTTLS towards its host over every
 * shaping layer, with `delivery.tls_verify` for verification, as delivery does: shown as set by
 * the route.
 */
function withRouteTls(result: EffectiveLimitsResult, route: Route, verify: boolean): EffectiveLimitsResult {
  const tls = verify && route.tls !== 'none' ? 'verify' : route.tls;
  return {
    ...result,
    limits: { ...result.limits, tls },
    explain: result.explain.map((o) =>
      o.key === 'tls' ? { ...o, value: tls, from: `route ${route.match}` } : o,
    ),
  };
}

export async function runExplain(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'shaping explain',
    args,
    {
      config: { type: 'string', short: 'c' },
      dns: { type: 'string' },
      ip: { type: 'string' },
      tenant: { type: 'string' },
      stream: { type: 'string' },
    },
    true,
  );
  const [domain, ...extra] = positionals;
  if (!domain) throw usageError('shaping explain', 'missing DOMAIN');
  if (extra.length > 0) throw usageError('shaping explain', `unexpected argument "${extra[0]}"`);
  const config = loadRelayConfig(values.config, io, { dnsServer: values.dns });
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  try {
    const lines: string[] = [`domain:   ${domain}`];
    const route = matchRoute(config.routes as readonly Route[], domain);
    let site: string;
    let provider: string | undefined;
    if (route) {
      site = siteForRoute(parseHostPort(route.via, ROUTE_PORT));
      lines.push(`route:    ${route.match} → ${route.via} (static route; no MX lookup)`);
    } else {
      let hosts: string[];
      try {
        const mx = await herald.inspect.resolver.resolveMx(domain);
        hosts = mx.map((h) => `${h.exchange} pref ${h.preference} (${h.addresses.join(', ')})`);
        const picked = siteForMxHosts(
          mx.map((h) => h.exchange),
          providerRules(herald.inspect.shaping),
        );
        site = picked.site;
        provider = picked.provider;
      } catch (err) {
        printError(io, 'HERALD_DNS_FAILED', `${domain}: ${(err as Error).message}`);
        return EXIT_FAILURE;
      }
      lines.push(`mx:       ${hosts.join('\n          ')}`);
    }
    lines.push(
      `site:     ${site}${provider ? ` (every MX host matches provider ${provider}'s mx_suffixes)` : ''}`,
    );
    const mail = { tenant: values.tenant ?? DEFAULT_TENANT, stream: values.stream };
    const source = sourceFor(herald.inspect.shaping, mail, values.ip);
    lines.push(`source:   ${source.describe}`);
    const layered = effectiveLimits(
      herald.inspect.shaping,
      {
        domain,
        site,
        ...(provider ? { provider } : {}),
        ...(source.pool ? { pool: source.pool } : {}),
        ...(source.ip ? { sourceIp: source.ip } : {}),
      },
      baseLimitsFromConfig(config),
    );
    const result = route ? withRouteTls(layered, route, config.delivery.tls_verify) : layered;
    lines.push(
      `layers:   ${['built-in (herald.yaml delivery/retry)', ...result.layers].join(' < ')}`,
      'limits:',
    );
    for (const line of describeEffectiveLimits(result)) lines.push(`  ${line}`);
    const live = await liveState(herald, { site, limits: result.limits, mail, source });
    lines.push(`live:     ${live.join('\n          ')}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    return EXIT_OK;
  } finally {
    await herald.close();
  }
}
