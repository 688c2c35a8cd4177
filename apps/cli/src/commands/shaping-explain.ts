/**
 * `herald shaping explain DOMAIN [--config FILE] [--dns HOST:PORT] [--ip ADDR] [--tenant T]
 * [--stream S]`: where mail for DOMAIN goes and under which limits, as a relay with that config
 * would decide now — the static route or the MX hosts (resolved over DNS), the site they roll up
 * to and why, the source pool and IP, every effective limit with the layer that set it, and the
 * live state in Redis (suspensions with time left, connections in use, next free rate slot,
 * warm-up count). The decision is `herald.explain`'s (plain data); this file and live-state.ts
 * only format it.
 */
import { createHerald, type DeliveryExplanation, HeraldError } from '@herald/delivery-core';
import { describeEffectiveLimits } from '@herald/delivery-core/shaping';
import { parseCommandArgs, usageError } from '../args.js';
import { EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { tenantArg } from '../tenant-arg.js';
import { printable } from '../terminal-text.js';
import { describeSource, liveLines } from './live-state.js';

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
  const tenant = values.tenant === undefined ? undefined : tenantArg(values.tenant);
  const config = loadRelayConfig(values.config, io, { dnsServer: values.dns, spools: false });
  if (!config) return EXIT_FAILURE;
  const herald = await createHerald(config);
  try {
    let explained: DeliveryExplanation;
    try {
      explained = await herald.explain(domain, {
        ...(tenant !== undefined ? { tenant } : {}),
        ...(values.stream !== undefined ? { stream: values.stream } : {}),
        ...(values.ip ? { ip: values.ip } : {}),
      });
    } catch (err) {
      if (!(err instanceof HeraldError && err.code === 'HERALD_DNS_FAILED')) throw err;
      printError(io, err.code, err.message);
      return EXIT_FAILURE;
    }
    const { route, mx, site, provider, limits } = explained;
    const lines: string[] = [`domain:   ${domain}`];
    if (route) lines.push(`route:    ${route.match} → ${route.via} (static route; no MX lookup)`);
    if (mx) {
      const hosts = mx.map((h) => `${h.exchange} pref ${h.preference} (${h.addresses.join(', ')})`);
      lines.push(`mx:       ${hosts.join('\n          ')}`);
    }
    lines.push(
      `site:     ${site}${provider ? ` (every MX host matches provider ${provider}'s mx_suffixes)` : ''}`,
      `source:   ${describeSource(explained)}`,
      `layers:   ${["built-in (the config's delivery/retry)", ...limits.layers].join(' < ')}`,
      'limits:',
    );
    for (const line of describeEffectiveLimits(limits)) lines.push(`  ${line}`);
    lines.push(`live:     ${liveLines(explained.live, explained.source.ip).join('\n          ')}`);
    io.stdout.write(printable(`${lines.join('\n')}\n`));
    return EXIT_OK;
  } finally {
    await herald.close();
  }
}
