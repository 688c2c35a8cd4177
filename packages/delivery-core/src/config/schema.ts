/**
 * The whole Herald configuration as one zod schema. Unknown keys are errors at every level;
 * every default sits next to its key, with its unit. Durations are written with units and parse
 * to milliseconds under the same key names; sizes parse to bytes.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_QUEUE_SHARDS } from '../keys/index.js';
import { parseHostPort, parseListen } from './addresses.js';
import {
  bool,
  duration,
  fraction,
  hostName,
  hostPort,
  integer,
  listenAddress,
  oneOf,
  section,
  text,
  timerDuration,
} from './fields.js';
import type { DeepReadonly } from './readonly.js';
import { routeSchema, TLS_MODES } from './routes.js';
import { accountingSchema } from './schema-accounting.js';
import { apiSchema } from './schema-api.js';
import { dkimSchema, mtaStsSchema } from './schema-auth.js';
import { bounceSchema, tenantsSchema } from './schema-bounce.js';
import { DURABILITY_MODES, redisSchema } from './schema-redis.js';
import { tlsReportingSchema } from './schema-tlsrpt.js';

export { DURABILITY_MODES };

import { behaviourSchema } from './schema-behaviour.js';
import { quarantineSchema, scanningSchema } from './schema-scanning.js';
import { smtpSchema } from './schema-smtp.js';
import { telemetrySchema } from './schema-telemetry.js';
import { webhooksSchema } from './schema-webhooks.js';

export const ROLES = ['smtp', 'worker', 'http'] as const;
export type Role = (typeof ROLES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Port of a DNS server given without one. */
export const DEFAULT_DNS_PORT = 53;

/** Whether a listen address binds loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackListen(listen: string): boolean {
  try {
    const { host } = parseListen(listen);
    return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  } catch {
    return false;
  }
}

/** The web dashboard at /ui/ on http.listen (packages/dashboard); it reads the HTTP API (`api`). */
const uiSchema = section({
  enabled: bool().default(false),
  /** No admin key asked when http.listen is loopback only (refused for any other listen). */
  open_on_loopback: bool().default(false),
});

const httpSchema = section({
  listen: listenAddress().default('127.0.0.1:8025'),
  enabled: bool().default(true),
  ui: uiSchema.prefault({}),
}).superRefine((http, ctx) => {
  if (http.ui.open_on_loopback && !isLoopbackListen(http.listen))
    ctx.addIssue({
      code: 'custom',
      path: ['ui', 'open_on_loopback'],
      message: `only allowed when http.listen is loopback (127.0.0.0/8, ::1), not ${http.listen}`,
    });
});

/** True unless `s` parses as host:port with a host name; unparsable values are reported by hostPort. */
function isIpServer(s: string): boolean {
  try {
    return isIP(parseHostPort(s, DEFAULT_DNS_PORT).host) !== 0;
  } catch {
    return true;
  }
}

const dnsSchema = section({
  /** "ip", "ip:port" or "[v6]:port" (addresses, not names); empty means /etc/resolv.conf. */
  servers: z
    .array(
      hostPort(DEFAULT_DNS_PORT).refine((s) => isIpServer(s), {
        error: 'expected a DNS server IP address like 127.0.0.1:5353 or [::1]:53, not a host name',
      }),
      { error: 'expected a list of DNS servers' },
    )
    .default([]),
  timeout: timerDuration().prefault('2s'),
  attempts: integer(1).default(3),
  /** Entries. */
  cache_size: integer(0).default(10000),
});

/**
 * DANE modes: `off`; `opportunistic` (Postfix's `dane`: DANE where validated TLSA records exist);
 * `require` (Postfix's `dane-only`: a domain or MX host without validated usable TLSA is deferred).
 */
export const DANE_MODES = ['off', 'opportunistic', 'require'] as const;
export type DaneMode = (typeof DANE_MODES)[number];

const daneSchema = section({
  /** DANE for SMTP (RFC 7672) on MX deliveries; `off` = never looked up; `require` = DANE or nothing. */
  mode: oneOf(DANE_MODES).default('off'),
  /**
   * The validating resolver whose AD bit Herald trusts ("127.0.0.1:5353"; an address, usually a
   * local unbound); absent = dns.servers (then they must validate). Herald never validates DNSSEC.
   */
  resolver: hostPort(DEFAULT_DNS_PORT)
    .refine((s) => isIpServer(s), { error: 'expected a DNS server IP address like 127.0.0.1:5353' })
    .optional(),
});

const deliverySchema = section({
  /** Jobs in flight per worker process. */
  concurrency: integer(1).default(200),
  /** Worker threads running delivery inside the relay process; 0 = deliver on the main thread. */
  threads: integer(0).default(1),
  /** Defaults to smtp.hostname. */
  ehlo_hostname: hostName().optional(),
  /** Port for MX deliveries. */
  port: integer(1, 65535).default(25),
  connect_timeout: timerDuration().prefault('30s'),
  /** Timeouts below follow RFC 5321 section 4.5.3.2. */
  greeting_timeout: timerDuration().prefault('5m'),
  command_timeout: timerDuration().prefault('5m'),
  data_timeout: timerDuration().prefault('10m'),
  max_connections_per_host: integer(1).default(20),
  /**
   * Connections a destination starts at; each success grows it toward max_connections_per_host,
   * each connection-level failure shrinks it, down to 1 (Postfix's concurrency feedback).
   */
  initial_connections: integer(1).default(5),
  max_messages_per_connection: integer(1).default(100),
  /** Addresses (of the MX hosts, in order) one delivery attempt tries at most (Postfix: smtp_mx_address_limit). */
  mx_address_limit: integer(1).default(5),
  /** SMTP sessions (servers that answered the connection) one attempt uses at most (Postfix: smtp_mx_session_limit). */
  mx_session_limit: integer(1).default(2),
  /** A pooled idle connection closes after this. */
  idle_timeout: timerDuration().prefault('5s'),
  tls: oneOf(TLS_MODES).default('opportunistic'),
  /** Verify remote certificates. */
  tls_verify: bool().default(false),
  /** A job held by a worker that stops renewing its lock (crash) is taken back after this. */
  lock_duration: timerDuration().prefault('30s'),
  /** How often workers look for jobs whose lock expired. */
  stalled_interval: timerDuration().prefault('30s'),
  /** A site connection slot held by a relay that stops renewing it (crash) frees itself after this. */
  connection_lease_ttl: timerDuration().prefault('30s'),
  /** Receiving domains' MTA-STS policies (RFC 8461). */
  mta_sts: mtaStsSchema.prefault({}),
  /** DANE (RFC 7672): TLSA records, validated by a DNSSEC resolver, take precedence over MTA-STS. */
  dane: daneSchema.prefault({}),
  /**
   * A recipient still queued this long after acceptance gets its sender one `Action: delayed`
   * report (Postfix's delay_warning_time); absent = none. Per tenant: tenants.<name>.delay_warning.
   */
  delay_warning: duration().optional(),
  /**
   * An 8-bit message for a next hop without 8BITMIME: converted to 7-bit (quoted-printable /
   * base64, RFC 6152 §3) when true; bounced `554 5.6.3` when false.
   */
  convert_8bit: bool().default(true),
});

const retrySchema = section({
  /** Delay before attempt 2, 3, ...; the last entry repeats (Postfix-like: 5m doubling to ~4h). */
  schedule: z
    .array(duration(), { error: 'expected a list of durations like 5m, 1h20m' })
    .min(1, { error: 'expected at least one delay' })
    .prefault(['5m', '10m', '20m', '40m', '1h20m', '2h', '4h']),
  /** ± fraction of each delay. */
  jitter: fraction(0, 1).default(0.2),
  /** After this, recipients expire with 5.4.7. */
  max_queue_lifetime: duration().prefault('5d'),
});

const eventsSchema = section({
  /** XADD MAXLEN ~ entries. */
  stream_max_len: integer(1).default(100000),
  /**
   * A message's trace (its events, for `herald message show`) expires this long after its last
   * event, or after its next attempt when that is later (a waiting message keeps its trace).
   */
  trace_retention: duration().prefault('1h'),
  /** Events kept per message trace: its `accepted` event and the newest (>= 3 entries). */
  trace_max_entries: integer(3).default(1000),
  log_level: oneOf(LOG_LEVELS).default('info'),
});

const queueSchema = section({
  /**
   * The queue's shards, each under its own Redis hash tag (`{queue}`, `{queue-1}`, ...), so a
   * Redis Cluster spreads them over its masters. 1 keeps one slot; each shard costs every
   * delivery thread a blocking connection and every event reader a stream (keys/queue.ts).
   */
  shards: integer(1, MAX_QUEUE_SHARDS).default(1),
});

const shapingFileSchema = section({
  /** The traffic-shaping file (limits per provider, site, domain, source IP; automation rules). */
  file: text('a file path').optional(),
  /** Layer Herald's shipped provider defaults (shaping/providers.yaml) under that file. */
  provider_defaults: bool().default(true),
});

const rolesSchema = z
  .array(oneOf(ROLES), { error: `expected a list of roles (${ROLES.join(', ')})` })
  .min(1, { error: `expected at least one role of ${ROLES.join(', ')}` })
  .refine((roles) => new Set(roles).size === roles.length, { error: 'each role may appear once' })
  .default([...ROLES]);

/** A relay's stable name: letters, digits, '.', '_', '-', ':'. */
const NODE_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export const heraldConfigSchema = section({
  /**
   * This relay's stable name, distinct per relay process sharing a Redis: a restarted relay
   * reclaims the connection leases its previous run held. Absent: leases of a crashed relay
   * free themselves after delivery.connection_lease_ttl.
   */
  node_id: z
    .string({ error: 'expected a name of letters, digits, ".", "_", "-", ":" (at most 100)' })
    .regex(NODE_ID, { error: 'expected a name of letters, digits, ".", "_", "-", ":" (at most 100)' })
    .optional(),
  redis: redisSchema.prefault({}),
  smtp: smtpSchema.prefault({}),
  http: httpSchema.prefault({}),
  /** The HTTP API (packages/http-api); absent = off. */
  api: apiSchema.optional(),
  dns: dnsSchema.prefault({}),
  routes: z.array(routeSchema, { error: 'expected a list of routes' }).default([]),
  delivery: deliverySchema.prefault({}),
  retry: retrySchema.prefault({}),
  events: eventsSchema.prefault({}),
  queue: queueSchema.prefault({}),
  shaping: shapingFileSchema.prefault({}),
  /** Bounce and complaint handling (VERP, the bounce-processor); absent = off. */
  bounce: bounceSchema.optional(),
  /** The accounting log (a CSV / JSON-lines file per UTC day from the event stream); absent = off. */
  accounting: accountingSchema.optional(),
  /** SMTP TLS Reporting (RFC 8460): counting TLS outcomes and the daily reports (schema-tlsrpt.ts). */
  tls_reporting: tlsReportingSchema.prefault({}),
  /** OpenTelemetry traces over OTLP/HTTP (schema-telemetry.ts); absent = off, no SDK loaded. */
  telemetry: telemetrySchema.optional(),
  /** Content scanning through rspamd (schema-scanning.ts); absent = off. */
  scanning: scanningSchema.optional(),
  /** Held messages (scanning's quarantine action): retention and its sweep. */
  quarantine: quarantineSchema.prefault({}),
  /** Compromised-account detection (schema-behaviour.ts): rules that hold an account's mail; absent = off. */
  behaviour: behaviourSchema.optional(),
  /** Per-tenant policy (suppression mode, DSNs, reputation thresholds, sender domains). */
  tenants: tenantsSchema,
  /** DKIM signing keys. */
  dkim: dkimSchema,
  /** Per-tenant HTTP endpoints receiving signed batches of events (schema-webhooks.ts). */
  webhooks: webhooksSchema,
  roles: rolesSchema,
})
  .superRefine((config, ctx) => {
    if (config.http.ui.enabled && !config.api)
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'ui', 'enabled'],
        message: 'the dashboard reads the HTTP API: add an api section (api: {} will do)',
      });
  })
  .transform((config) => ({
    ...config,
    delivery: { ...config.delivery, ehlo_hostname: config.delivery.ehlo_hostname ?? config.smtp.hostname },
  }));

/** The parsed configuration: durations in ms, sizes in bytes, every default filled in. */
export type HeraldConfig = DeepReadonly<z.output<typeof heraldConfigSchema>>;
/** What a config file or `defaultConfig(overrides)` may contain. */
export type HeraldConfigInput = z.input<typeof heraldConfigSchema>;

export type { DeepReadonly } from './readonly.js';
