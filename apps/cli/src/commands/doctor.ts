/**
 * `herald doctor DOMAIN [--ip ADDR...] [--dns HOST:PORT] [--json] [--config FILE]`: checks a
 * sending domain's DNS against what Herald sends (SPF, DKIM, DMARC, MX, reverse DNS of the source
 * IPs, MTA-STS, TLS-RPT, DANE — the TLSA records and whether each MX host's certificate matches
 * them, over a STARTTLS connection to the delivery port —, the Gmail/Yahoo bulk-sender rules) and
 * prints a pass/warn/fail table with the reason and the fix, or --json. Exit 0 when no check
 * fails, 1 when one does.
 */
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { HeraldConfig } from '@herald/delivery-core';
import { SMTP_PORT } from '@herald/delivery-core/dane';
import { createResolver, parseServer } from '@herald/delivery-core/dns';
import {
  createDaneProber,
  diagnoseDomain,
  normaliseDomain,
  renderJson,
  renderTable,
  type SenderSetup,
  senderSetup,
} from '@herald/delivery-core/doctor';
import { parseCommandArgs, usageError } from '../args.js';
import { type Command, EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { CliIo } from '../io.js';
import { loadRelayConfig } from '../relay-config.js';
import { printable } from '../terminal-text.js';

const help = `Usage: herald doctor DOMAIN [--ip ADDR...] [--dns HOST:PORT] [--json] [--config FILE]

Check that DOMAIN is ready to send through Herald, from its DNS:
  spf.*         one v=spf1 record, at most 10 DNS lookups, every source IP passes
  return-path   the VERP bounce domain (bounce.domain) has SPF for the IPs and an MX
  dkim.*        each dkim: selector publishes the public half of our key (RSA >= 2048 bits)
  dmarc.*       a v=DMARC1 record (p=, rua=), return path and DKIM domains aligned
  mx            MX hosts, or a null MX / no MX (replies and bounces cannot arrive)
  ptr.*         each source IP has a PTR that resolves back to it
  mta-sts       _mta-sts TXT record and policy host (the policy is not fetched)
  tls-rpt       _smtp._tls TXT record
  dane          TLSA records at _25._tcp.<mx>, DNSSEC-validated (AD) by the resolver asked; for
                hosts with usable records, a STARTTLS connection (port 25, or the config's
                delivery.port) and whether the certificate presented matches them
  bulk.*        the Gmail/Yahoo bulk-sender rules

  --ip ADDR       a source IP to check (repeatable), besides the shaping file's
  --dns HOST:PORT ask this DNS server (default: the config's delivery.dane.resolver, else its
                  dns.servers, else /etc/resolv.conf); DANE needs a validating resolver
  --config FILE   the relay's config: DKIM keys, bounce domain, tenants, shaping file's IPs;
                  without it only what DNS alone shows is checked
  --json          print {domain, checks:[{id, status, reason, fix, details}]}

Exits 0 when no check fails (warnings allowed), 1 when any fails.`;

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'doctor',
    args,
    {
      ip: { type: 'string', multiple: true },
      dns: { type: 'string' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
    },
    true,
  );
  const [given, ...extra] = positionals;
  if (given === undefined) throw usageError('doctor', 'missing DOMAIN');
  if (extra.length > 0) throw usageError('doctor', `unexpected argument "${extra[0]}"`);
  const domain = normaliseDomain(given);
  if (!domain) throw usageError('doctor', `"${given}" is not a domain name`);
  const flagIps = values.ip ?? [];
  for (const ip of flagIps)
    if (isIP(ip) === 0) throw usageError('doctor', `--ip: "${ip}" is not an IP address`);
  if (values.dns !== undefined) {
    try {
      parseServer(values.dns);
    } catch {
      throw usageError('doctor', `--dns: expected an address like 127.0.0.1:5353, got "${values.dns}"`);
    }
  }

  let setup: SenderSetup | undefined;
  let config: HeraldConfig | undefined;
  let servers: string[] = values.dns === undefined ? [] : [values.dns];
  if (values.config !== undefined) {
    config = loadRelayConfig(values.config, io, { usesRedis: false });
    if (!config) return EXIT_FAILURE;
    setup = senderSetup(config, values.config);
    // DANE's validating resolver, when configured, answers with the AD bit the dane check reads.
    const dane = config.delivery.dane.resolver;
    if (servers.length === 0) servers = dane ? [dane] : [...config.dns.servers];
  }
  const ips = [...new Set([...(setup?.sourceIps ?? []), ...flagIps])];
  const resolver = createResolver(servers.length > 0 ? { servers } : {});
  try {
    const report = await diagnoseDomain(
      resolver,
      { domain, ips, now: Date.now(), ...(setup ? { setup } : {}) },
      { daneProbe: daneProber(config) },
    );
    io.stdout.write(values.json ? renderJson(report) : printable(renderTable(report)));
    return report.checks.some((c) => c.status === 'fail') ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await resolver.close();
  }
}

/** MX certificates are fetched as delivery would: its port, EHLO name and (at most) its deadlines. */
function daneProber(config: HeraldConfig | undefined) {
  const delivery = config?.delivery;
  return createDaneProber({
    port: delivery?.port ?? SMTP_PORT,
    ehloName: delivery?.ehlo_hostname ?? osHostname(),
    ...(delivery
      ? {
          timeouts: {
            connectMs: delivery.connect_timeout,
            greetingMs: delivery.greeting_timeout,
            commandMs: delivery.command_timeout,
          },
        }
      : {}),
  });
}

export const doctorCommand: Command = {
  name: 'doctor',
  synopsis: 'DOMAIN [--ip ADDR...] [--dns HOST:PORT] [--json] [--config FILE]',
  summary: "check a sending domain's SPF, DKIM, DMARC, reverse DNS and bulk-sender rules",
  help,
  run,
};
