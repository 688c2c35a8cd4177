/**
 * The `smtp` section: Herald's submission listener (address, greeting name, users for AUTH,
 * networks allowed to relay without AUTH, TLS, and per-session limits). Every default here is
 * written with its unit.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { TRAFFIC_NAME_HINT, trafficName } from '../message/index.js';
import { isPasswordHash } from '../passwords/index.js';
import { bool, byteSize, cidr, duration, hostName, integer, listenAddress, section, text } from './fields.js';

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
  .transform((user) => ({ ...user, tenant: user.tenant ?? user.username }));

export const smtpTlsSchema = section({
  cert_file: text('a file path').optional(),
  key_file: text('a file path').optional(),
  /** Generate a self-signed certificate at startup when no files are given. */
  self_signed: bool().default(false),
}).refine((tls) => (tls.cert_file === undefined) === (tls.key_file === undefined), {
  error: 'give cert_file and key_file together, or neither',
});

export const smtpSchema = section({
  listen: listenAddress().default('127.0.0.1:2525'),
  /** Name in the 220 greeting and in Received headers. */
  hostname: hostName().default(() => hostname()),
  users: z.array(smtpUserSchema, { error: 'expected a list of users' }).default([]),
  /** Clients from these CIDRs / addresses may relay without AUTH. */
  trusted_networks: z.array(cidr(), { error: 'expected a list of CIDRs' }).default([]),
  tls: smtpTlsSchema.prefault({}),
  /** Bytes; also "25MB", "10MiB", "512KB". Default 25 MiB. */
  max_message_size: byteSize().prefault('25MiB'),
  max_recipients: integer(1).default(1000),
  max_clients: integer(1).default(1000),
  socket_timeout: duration().prefault('5m'),
  /** Refuse AUTH before STARTTLS, except from loopback. */
  require_auth_tls: bool().default(false),
});

export type SmtpUser = z.infer<typeof smtpUserSchema>;
