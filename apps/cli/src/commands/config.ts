/**
 * `herald config check FILE [--json]`: validates a config file exactly as the relay would load it
 * (REDIS_URL from the environment included), and what the relay reads at start because of it: the
 * shaping file, the DKIM keys and the TLS certificate and key (no Redis needed). Prints "FILE: ok" and a summary
 * (listeners — the API's when configured —, roles, routes, users, redis, webhook endpoints and the
 * accounting directory and the telemetry endpoint when configured; DANE's mode with the shaping
 * layers that set `dane` per destination), or with --json the
 * effective config with secrets masked. An invalid file prints the ConfigError lines (each naming
 * the key path) and exits 1. `herald config reload` (config-reload.ts) asks a running relay to
 * reload its config file.
 */
import {
  ConfigError,
  describeRedisTarget,
  type HeraldConfig,
  loadConfigFile,
  loadShaping,
  preflight,
  redisTarget,
} from '@herald/delivery-core';
import { REDIS_URL_ENV } from '@herald/delivery-core/config';
import { formatDuration, type Shaping } from '@herald/delivery-core/shaping';
import { readTlsFiles } from '@herald/relay';
import { parseCommandArgs, usageError } from '../args.js';
import { type Command, EXIT_FAILURE, EXIT_OK, printError } from '../command.js';
import type { CliIo, Env } from '../io.js';
import { maskSecrets, maskUrl } from '../redact.js';
import { printable } from '../terminal-text.js';
import { reloadHelp, runReload } from './config-reload.js';

const JSON_INDENT = 2;

const help = `Usage: herald config check FILE [--json]

Validate a Herald config file (.yaml, .yml or .json) the way \`herald relay\` loads it,
including REDIS_URL from the environment.

  --json    print the effective config (defaults filled in, durations in ms,
            sizes in bytes) as JSON, with passwords masked as "***"

Exits 0 when the file is valid; 1 with one line per problem, each naming the key
path (e.g. "herald.yaml: smtp.lisen: unknown key ...; did you mean listen?").

${reloadHelp}`;

function tlsSummary(config: HeraldConfig): string {
  const tls = config.smtp.tls;
  if (tls.cert_file) return `TLS ${tls.cert_file}`;
  return tls.self_signed ? 'TLS self-signed' : 'no TLS';
}

/** Per-destination `dane` settings the summary names before "+N more". */
const DANE_OVERRIDES_SHOWN = 5;

/** The shaping layers that set `dane`, as `herald shaping check` names them ("site:mx:mx.a.test require"). */
function daneOverrides(shaping: Shaping): string[] {
  const out = shaping.defaults.dane ? [`defaults ${shaping.defaults.dane}`] : [];
  const tables = [
    ['provider', shaping.providers],
    ['site', shaping.sites],
    ['domain', shaping.domains],
  ] as const;
  for (const [kind, table] of tables)
    for (const [name, layer] of Object.entries(table))
      if (layer.dane) out.push(`${kind}:${name} ${layer.dane}`);
  return out;
}

/** The `dane:` line: shown when DANE is on globally or any destination turns it on. */
function daneSummary(config: HeraldConfig, shaping: Shaping | undefined): string | undefined {
  const { mode, resolver } = config.delivery.dane;
  const overrides = shaping ? daneOverrides(shaping) : [];
  if (mode === 'off' && overrides.every((o) => o.endsWith(' off'))) return undefined;
  const shown = overrides.slice(0, DANE_OVERRIDES_SHOWN).join(', ');
  const more =
    overrides.length > DANE_OVERRIDES_SHOWN ? `, +${overrides.length - DANE_OVERRIDES_SHOWN} more` : '';
  const perDestination = overrides.length > 0 ? `; per destination: ${shown}${more}` : '';
  return `  dane:         ${mode}${perDestination} (resolver ${resolver ?? config.dns.servers?.join(', ') ?? 'the system resolver'})`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function summarize(file: string, config: HeraldConfig, env: Env, shaping?: Shaping): string {
  const redisSource = env[REDIS_URL_ENV] ? ` (from ${REDIS_URL_ENV})` : '';
  const http = config.http.enabled ? config.http.listen : `${config.http.listen} (disabled)`;
  const lines = [
    `${file}: ok`,
    `  smtp listen:  ${config.smtp.listen} (hostname ${config.smtp.hostname}, ${tlsSummary(config)})`,
    `  http listen:  ${http}`,
    `  roles:        ${config.roles.join(', ')}`,
    `  routes:       ${config.routes.length}`,
    `  users:        ${config.smtp.users.length}`,
    `  trusted:      ${plural(config.smtp.trusted_networks.length, 'network')}`,
    `  redis:        ${describeRedisTarget(redisTarget(config.redis))}${redisSource} (prefix ${config.redis.prefix})`,
    `  durability:   ${config.redis.durability}`,
    `  queue shards: ${config.queue.shards}`,
  ];
  if (config.api)
    lines.push(`  api listen:   ${config.api.listen} (${plural(config.api.admin_keys.length, 'admin key')})`);
  if (config.webhooks.length > 0) lines.push(`  webhooks:     ${plural(config.webhooks.length, 'endpoint')}`);
  if (config.accounting)
    lines.push(`  accounting:   ${config.accounting.directory} (${config.accounting.format})`);
  const dane = daneSummary(config, shaping);
  if (dane) lines.push(dane);
  if (config.tls_reporting.enabled) lines.push(`  tls reports:  from ${config.tls_reporting.from}`);
  if (config.scanning)
    lines.push(
      `  scanning:     ${maskUrl(config.scanning.rspamd.url)} (fail ${config.scanning.fail}, ${plural(Object.keys(config.scanning.actions).length, 'action table')})`,
    );
  if (config.scanning || config.behaviour)
    lines.push(
      `  quarantine:   retention ${formatDuration(config.quarantine.retention)}, notify sender ${config.quarantine.notify_sender}`,
    );
  if (config.behaviour) {
    const rules = Object.keys(config.behaviour.rules);
    lines.push(
      `  behaviour:    ${rules.length > 0 ? rules.join(', ') : 'no rules'}${Object.keys(config.behaviour.accounts).length > 0 ? ` (+${plural(Object.keys(config.behaviour.accounts).length, 'account')} with own rules)` : ''}; at most ${config.behaviour.max_held_messages} messages / ${config.behaviour.max_held_bytes} bytes held per flagged account`,
    );
  }
  if (config.telemetry?.otlp)
    lines.push(
      `  telemetry:    ${maskUrl(config.telemetry.otlp.endpoint)} (sample ratio ${config.telemetry.sample_ratio}, ${plural(Object.keys(config.telemetry.otlp.headers).length, 'header')})`,
    );
  return `${lines.join('\n')}\n`;
}

async function run(args: string[], io: CliIo): Promise<number> {
  if (args[0] === 'reload') return runReload(args.slice(1), io);
  const { values, positionals } = parseCommandArgs('config', args, { json: { type: 'boolean' } }, true);
  const [sub, file, ...extra] = positionals;
  if (sub !== 'check') {
    throw usageError(
      'config',
      sub === undefined ? 'missing subcommand (check, reload)' : `unknown subcommand "${sub}"`,
    );
  }
  if (file === undefined) throw usageError('config check', 'missing FILE');
  if (extra.length > 0) throw usageError('config check', `unexpected argument "${extra[0]}"`);
  let config: HeraldConfig;
  let generated: string | undefined;
  try {
    config = loadConfigFile(file, {
      env: io.env,
      onGeneratedSecret: (path) => {
        generated = path;
      },
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printError(io, err.code, err.message);
    return EXIT_FAILURE;
  }
  // What the relay reads at start besides this file: the shaping file, DKIM keys, TLS files.
  const problems = preflight(config);
  if (config.smtp.tls.cert_file && config.smtp.tls.key_file) {
    try {
      readTlsFiles(config.smtp.tls.cert_file, config.smtp.tls.key_file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err);
    }
  }
  if (problems.length > 0) {
    for (const problem of problems)
      printError(io, problem.code, `${problem.source ? '' : `${file}: `}${problem.message}`);
    return EXIT_FAILURE;
  }
  if (generated)
    io.stderr.write(
      `${file}: ${generated}: "generate": npm start replaces it with a random secret (kept in .herald/verp-secret); \`herald relay\` and \`herald bounce-processor\` refuse it: set a secret to run them yourself\n`,
    );
  if (values.json) io.stdout.write(`${JSON.stringify(maskSecrets(config), null, JSON_INDENT)}\n`);
  // The shaping file loaded without problems just above (preflight).
  else io.stdout.write(printable(summarize(file, config, io.env, loadShaping(config))));
  return EXIT_OK;
}

export const configCommand: Command = {
  name: 'config',
  synopsis: 'check FILE [--json] | reload --pid PID [--http URL]',
  summary: 'validate a config file and show the effective settings; reload a running relay',
  help,
  run,
};
