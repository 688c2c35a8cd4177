/**
 * `herald shaping check FILE [--domain D] [--mx h1,h2] [--source IP] [--pool P]
 * [--no-provider-defaults] [--json]`: validates a traffic-shaping file exactly as Herald loads it
 * (the shipped provider defaults merged under it unless --no-provider-defaults). Without --domain
 * it lists the layers the file defines; with --domain it prints the effective limits of that path
 * and the layer each value came from. The site comes from --mx through the sites module's rules
 * built from the file's providers — pure, no DNS. An invalid file prints the ConfigError lines
 * (each naming the key path) and exits 1.
 */
import { ConfigError } from '@herald/delivery-core';
import {
  type AutomationRule,
  DEFAULT_SLOW_FOR_MS,
  describeEffectiveLimits,
  describeTenantRates,
  type EffectiveLimitsResult,
  effectiveLimits,
  formatDuration,
  formatLimitValue,
  formatRate,
  LIMIT_KEYS,
  loadShapingFile,
  type Shaping,
  type ShapingLimits,
} from '@herald/delivery-core/shaping';
import { providerRules, siteForMxHosts } from '@herald/delivery-core/sites';
import { parseCommandArgs, usageError } from '../args.js';
import { type Command, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo } from '../io.js';
import { printable } from '../terminal-text.js';
import { diffHelp, runDiff } from './shaping-diff.js';
import { explainHelp, runExplain } from './shaping-explain.js';

const JSON_INDENT = 2;
const LABEL_WIDTH = 12;

const help = `Usage: herald shaping check FILE [--domain D] [--mx HOST,...] [--source IP] [--pool P]
                             [--no-provider-defaults] [--json]

Validate a traffic-shaping file (.yaml, .yml or .json) the way Herald loads it: the
shipped provider defaults (shaping/providers.yaml of @herald/delivery-core) go under it
and the file wins key by key.

Without --domain, list what the file defines: defaults, each provider with its MX
suffixes, sites, domains, sources, pools and the number of automation rules.

  --domain D               show the effective limits for mail to D, each with the layer
                           it came from (built-in, defaults, provider:, site:, domain:,
                           pool:, source:)
  --mx HOST,...            the domain's MX hosts, to pick its site and provider the way
                           delivery does (every host must match one provider's
                           mx_suffixes); no DNS lookup is made
  --source IP              the source IP address of the path
  --pool P                 the pool the source IP comes from
  --no-provider-defaults   check the file alone, without the shipped providers
  --json                   print the result as JSON

Exits 0 when the file is valid; 1 with one line per problem, each naming the key path
(e.g. "shaping.yaml: domains[\\"slow.test\\"].max_conections: unknown key ...").

${explainHelp}

${diffHelp}`;

const OPTIONS = {
  domain: { type: 'string' },
  mx: { type: 'string' },
  source: { type: 'string' },
  pool: { type: 'string' },
  'no-provider-defaults': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** "max_connections 2, max_message_rate 5/s" — the keys a layer sets, in LIMIT_KEYS order. */
function describeLimits(limits: ShapingLimits): string {
  const set = LIMIT_KEYS.filter((key) => limits[key] !== undefined).map(
    (key) => `${key} ${formatLimitValue({ key, value: limits[key] })}`,
  );
  return set.length > 0 ? set.join(', ') : '(no limits)';
}

/** "enhanced 4.7.28, 3 within 5m → slow_to 60/min for 1h". */
function describeRule(rule: AutomationRule): string {
  const { match, threshold, action } = rule;
  const when = [
    match.code !== undefined ? `code ${match.code}` : '',
    match.enhanced ? `enhanced ${match.enhanced}` : '',
    match.text ? `text /${match.text}/i` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const times = threshold ? `, ${threshold.count} within ${formatDuration(threshold.within)}` : '';
  const does =
    action.suspend !== undefined
      ? `suspend the site ${formatDuration(action.suspend)}`
      : action.slow_to !== undefined
        ? `slow_to ${formatRate(action.slow_to)} for ${formatDuration(action.for ?? DEFAULT_SLOW_FOR_MS)}`
        : `suspend_source ${formatDuration(action.suspend_source ?? 0)}`;
  return `${when}${times} → ${does}`;
}

function section(title: string, entries: [string, string][]): string[] {
  if (entries.length === 0) return [`${title}: none`];
  const width = Math.max(...entries.map(([name]) => name.length));
  return [
    `${title} (${entries.length}):`,
    ...entries.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`),
  ];
}

function limitsEntries(table: Record<string, ShapingLimits>): [string, string][] {
  return Object.entries(table).map(([name, limits]) => [name, describeLimits(limits)]);
}

export function summarizeShaping(file: string, shaping: Shaping, withDefaults: boolean): string {
  const providers = Object.entries(shaping.providers).map(([name, p]): [string, string] => {
    const suffixes = p.mx_suffixes?.length ? p.mx_suffixes.join(', ') : '(no mx_suffixes)';
    return [name, `${suffixes}; ${describeLimits(p)}`];
  });
  const pools = Object.entries(shaping.pools).map(([name, pool]): [string, string] => [
    name,
    `${pool.sources.map((s) => `${s.ip}${s.weight !== 1 ? ` ×${s.weight}` : ''}${s.warmup_from !== undefined ? ` (warming from ${new Date(s.warmup_from).toISOString().slice(0, 10)})` : ''}`).join(', ')}; ${describeLimits(pool)}`,
  ]);
  const selection = shaping.pool_selection.map((rule, i): [string, string] => [
    String(i + 1),
    `${rule.tenant ? `tenant ${rule.tenant}` : 'any tenant'}, ${rule.stream ? `stream ${rule.stream}` : 'any stream'} → pool ${rule.pool}`,
  ]);
  const tenants = Object.entries(shaping.tenants).map(([name, t]): [string, string] => [
    name,
    describeTenantRates(t),
  ]);
  const automation = shaping.automation.map((rule, i): [string, string] => [String(i), describeRule(rule)]);
  const lines = [
    `${file}: ok${withDefaults ? ' (provider defaults merged under it)' : ''}`,
    `defaults: ${describeLimits(shaping.defaults)}`,
    ...section('providers', providers),
    ...section('sites', limitsEntries(shaping.sites)),
    ...section('domains', limitsEntries(shaping.domains)),
    ...section('sources', limitsEntries(shaping.sources)),
    ...section('pools', pools),
    ...section('pool_selection', selection),
    ...section('tenants', tenants),
    ...section('automation', automation),
  ];
  return `${lines.join('\n')}\n`;
}

interface PathReport {
  domain: string;
  site?: string;
  provider?: string;
  pool?: string;
  sourceIp?: string;
  result: EffectiveLimitsResult;
}

function describePath(file: string, report: PathReport, shaping: Shaping): string {
  const label = (name: string) => `${name}:`.padEnd(LABEL_WIDTH);
  const lines = [`${file}: ok`, `${label('domain')}${report.domain}`];
  if (report.site !== undefined)
    lines.push(`${label('site')}${report.site}${report.provider ? ` (provider ${report.provider})` : ''}`);
  else lines.push(`${label('site')}unknown (give --mx to pick the site and provider)`);
  if (report.pool !== undefined) {
    const known = Object.hasOwn(shaping.pools, report.pool.toLowerCase());
    lines.push(`${label('pool')}${report.pool}${known ? '' : ' (not defined in the file)'}`);
  }
  if (report.sourceIp !== undefined) lines.push(`${label('source')}${report.sourceIp}`);
  lines.push(`${label('layers')}${report.result.layers.join(' < ')}`, '');
  lines.push(...describeEffectiveLimits(report.result));
  return `${lines.join('\n')}\n`;
}

function mxHosts(text: string): string[] {
  const hosts = text
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hosts.length === 0) throw usageError('shaping check', '--mx needs at least one host name');
  return hosts;
}

async function run(args: string[], io: CliIo): Promise<number> {
  if (args[0] === 'explain') return runExplain(args.slice(1), io);
  if (args[0] === 'diff') return runDiff(args.slice(1), io);
  const { values, positionals } = parseCommandArgs('shaping', args, OPTIONS, true);
  const [sub, file, ...extra] = positionals;
  if (sub !== 'check') {
    throw usageError(
      'shaping',
      sub === undefined ? 'missing subcommand (check)' : `unknown subcommand "${sub}"`,
    );
  }
  if (file === undefined) throw usageError('shaping check', 'missing FILE');
  if (extra.length > 0) throw usageError('shaping check', `unexpected argument "${extra[0]}"`);
  if (values.domain === undefined) {
    for (const flag of ['mx', 'source', 'pool'] as const)
      if (values[flag] !== undefined) throw usageError('shaping check', `--${flag} goes with --domain`);
  }
  const withDefaults = !values['no-provider-defaults'];
  let shaping: Shaping;
  try {
    shaping = loadShapingFile(file, { providerDefaults: withDefaults });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printError(io, err.code, err.message);
    return EXIT_FAILURE;
  }

  if (values.domain === undefined) {
    if (values.json) io.stdout.write(`${JSON.stringify(shaping, null, JSON_INDENT)}\n`);
    else io.stdout.write(printable(summarizeShaping(file, shaping, withDefaults)));
    return EXIT_OK;
  }

  const picked =
    values.mx === undefined ? undefined : siteForMxHosts(mxHosts(values.mx), providerRules(shaping));
  const report: PathReport = {
    domain: values.domain,
    ...(picked ? { site: picked.site } : {}),
    ...(picked?.provider ? { provider: picked.provider } : {}),
    ...(values.pool !== undefined ? { pool: values.pool } : {}),
    ...(values.source !== undefined ? { sourceIp: values.source } : {}),
    result: effectiveLimits(shaping, {
      domain: values.domain,
      site: picked?.site,
      provider: picked?.provider,
      pool: values.pool,
      sourceIp: values.source,
    }),
  };
  if (values.json) {
    const { result, ...target } = report;
    const json = { ...target, layers: result.layers, limits: result.explain };
    io.stdout.write(`${JSON.stringify(json, null, JSON_INDENT)}\n`);
  } else io.stdout.write(printable(describePath(file, report, shaping)));
  return EXIT_OK;
}

export const shapingCommand: Command = {
  name: 'shaping',
  synopsis: 'check FILE [--domain D] [--mx HOSTS] | explain DOMAIN | diff OLD NEW',
  summary: 'validate a traffic-shaping file and show the effective limits of a path',
  help,
  run,
};
