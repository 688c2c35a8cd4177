/**
 * The `smtp` section: Herald's submission listener (address, greeting name, users for AUTH,
 * networks allowed to relay without AUTH, TLS, and per-session limits). Every default here is
 * written with its unit.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { TRAFFIC_NAME_HINT, trafficName } from '../message/index.js';
import { isPasswordHash } from '../passwords/index.js';
import {
  bool,
  byteSize,
  cidr,
  duration,
  hostName,
  integer,
  listenAddress,
  section,
  text,
  timerDuration,
} from './fields.js';
import { isTenantName, TENANT_NAME_HINT } from './schema-bounce.js';

export const smtpUserSchema = section({
  username: text(),
  password: text().optional(),
  password_hash: text()
    .refine(isPasswordHash, {
      error: 'expected output of `herald hash-password` (scrypt$16384$8$1$<salt>$<hash>)',
    })
    .optional(),
  /** Tenant the user's messages are accounted to; defaults to the username. */
  tenant: text().optional(),
  /** Traffic stream of the user's messages (lower-cased); an X-Herald-Stream header wins. */
  stream: z
    .string({ error: TRAFFIC_NAME_HINT })
    .transform((value, ctx) => {
      const name = trafficName(value);
      if (name !== undefined) return name;
      ctx.addIssue({ code: 'custom', message: TRAFFIC_NAME_HINT, input: value });
      return z.NEVER;
    })
    .optional(),
})
  .refine((user) => (user.password === undefined) !== (user.password_hash === undefined), {
    error: 'give exactly one of password or password_hash',
  })
  // The tenant (given, or the username) must be one the CLI, the API and the policies can name.
  .superRefine((user, ctx) => {
    if (isTenantName(user.tenant ?? user.username)) return;
    const message =
      user.tenant === undefined
        ? `the username is not a tenant name (${TENANT_NAME_HINT}): give this user a tenant`
        : `expected a tenant name (${TENANT_NAME_HINT})`;
    ctx.addIssue({ code: 'custom', path: ['tenant'], message, input: user.tenant });
  })
  .transform((user) => ({ ...user, tenant: user.tenant ?? user.username }));

export const smtpTlsSchema = section({
  cert_file: text('a file path').optional(),
  key_file: text('a file path').optional(),
  /** Generate a self-signed certificate at startup when no files are given. */
  self_signed: bool().default(false),
}).refine((tls) => (tls.cert_file === undefined) === (tls.key_file === undefined), {
  error: 'give cert_file and key_file together, or neither',
});

/** Loopback: exempt from the per-client limits and allowed to AUTH in clear by default. */
export const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128'] as const;

/**
 * Per-client-address limits (Postfix anvil style), kept in memory per relay process. A client is
 * its IPv4 address, or its IPv6 network of `ipv6_prefix` bits. `exceptions` defaults to
 * `trusted_networks` plus loopback (like Postfix's $mynetworks).
 */
export const smtpClientLimitsSchema = section({
  /** CIDRs exempt from these limits; default trusted_networks + 127.0.0.0/8 + ::1/128. */
  exceptions: z.array(cidr(), { error: 'expected a list of CIDRs' }).optional(),
  /** IPv6 clients are counted per network of this many leading bits. */
  ipv6_prefix: integer(1, 128).default(64),
  /** Connections at once per client. */
  max_connections: integer(1).default(50),
  /** New connections per client per rate_time_unit. */
  max_connection_rate: integer(1).default(300),
  rate_time_unit: duration().prefault('1m'),
  /** Tarpit: the n-th recent AUTH failure of a client delays its AUTH replies by delay × 2^(n-1). */
  auth_failure_delay: timerDuration().prefault('1s'),
  auth_failure_max_delay: timerDuration().prefault('8s'),
  /** AUTH failures of a client (any connection) within auth_failure_window that block it. */
  auth_failure_limit: integer(1).default(10),
  auth_failure_window: duration().prefault('15m'),
  /** How long a blocked client's connections are refused with 421 4.7.0. */
  block_time: duration().prefault('15m'),
  /** A user's AUTH failures (from any client) within the window after which its AUTH is slowed. */
  user_failure_threshold: integer(1).default(5),
});

export const smtpSchema = section({
  listen: listenAddress().default('127.0.0.1:2525'),
  /** Name in the 220 greeting and in Received headers. */
  hostname: hostName().default(() => hostname()),
  users: z
    .array(smtpUserSchema, { error: 'expected a list of users' })
    .superRefine((users, ctx) => {
      // Compared as behaviour's account is (lower-cased): `Dave` and `dave` are two AUTH users
      // but one account, so one compromised user would freeze the other's mail.
      const seen = new Map<string, number>();
      for (const [i, user] of users.entries()) {
        const account = user.username.toLowerCase();
        const first = seen.get(account);
        if (first === undefined) seen.set(account, i);
        else
          ctx.addIssue({
            code: 'custom',
            path: [i, 'username'],
            message:
              users[first]?.username === user.username
                ? `the same username as users[${first}]; each user once`
                : `the same username as users[${first}] once lower-cased (one behaviour account); usernames must differ in more than case`,
            input: undefined,
          });
      }
    })
    .default([]),
  /** Clients from these CIDRs / addresses may relay without AUTH. */
  trusted_networks: z.array(cidr(), { error: 'expected a list of CIDRs' }).default([]),
  tls: smtpTlsSchema.prefault({}),
  /** Bytes; also "25MB", "10MiB", "512KB". Default 25 MiB. */
  max_message_size: byteSize().prefault('25MiB'),
  max_recipients: integer(1).default(1000),
  max_clients: integer(1).default(1000),
  socket_timeout: timerDuration().prefault('5m'),
  /**
   * A command line must be complete within this of the previous reply (Postfix's smtpd_timeout
   * with per-record deadlines): a client dripping one byte at a time is cut with 421 4.4.2.
   */
  command_timeout: timerDuration().prefault('5m'),
  /** The same while the listener holds over 80 % of max_clients (Postfix's stress mode). */
  stress_command_timeout: timerDuration().prefault('10s'),
  /** The whole DATA phase (354 to the final dot) must end within this. */
  data_timeout: timerDuration().prefault('10m'),
  /** Bytes per second the DATA phase must average once data_rate_grace has passed. */
  data_min_rate: byteSize().prefault(500),
  data_rate_grace: timerDuration().prefault('10s'),
  /** Commands other than MAIL/RCPT/DATA since connect, AUTH or the last accepted MAIL. */
  junk_command_limit: integer(1).default(20),
  /** Error replies (4xx/5xx) since connect or the last accepted message: slow down, then close. */
  soft_error_limit: integer(1).default(10),
  hard_error_limit: integer(1).default(20),
  /** Delay of every command once soft_error_limit is reached. */
  error_sleep_time: timerDuration().prefault('1s'),
  /** AUTH failures in one connection before it is closed with 421 4.7.0. */
  auth_failures_per_session: integer(1).default(3),
  /** Deadline of each Redis call in an SMTP session (suppression lookup, enqueue): 451 4.3.0 after it. */
  redis_timeout: timerDuration().prefault('3s'),
  /** AUTH only after STARTTLS (not even advertised before), except from plaintext_auth_networks. */
  require_auth_tls: bool().default(true),
  plaintext_auth_networks: z
    .array(cidr(), { error: 'expected a list of CIDRs' })
    .default([...LOOPBACK_NETWORKS]),
  client_limits: smtpClientLimitsSchema.prefault({}),
}).transform((smtp) => ({
  ...smtp,
  client_limits: {
    ...smtp.client_limits,
    exceptions: smtp.client_limits.exceptions ?? [...smtp.trusted_networks, ...LOOPBACK_NETWORKS],
  },
}));

export type SmtpUser = z.infer<typeof smtpUserSchema>;
