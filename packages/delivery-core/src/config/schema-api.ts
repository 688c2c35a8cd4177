/**
 * The `api` section: Herald's HTTP API (packages/http-api), its own listener, off unless the
 * section is present. Admin keys are given as `key_hash` (output of `herald hash-password`) or,
 * for tests, as a plain `key`; both are secrets (config/secrets.ts), never echoed in an error.
 * Tenant keys live in Redis (`herald tenant key create`), not here.
 */
import { z } from 'zod';
import { isPasswordHash } from '../passwords/index.js';
import { parseRate } from '../throttle/index.js';
import { byteSize, duration, integer, listenAddress, section, text, timerDuration } from './fields.js';

/** A plain admin key must be at least this long (it is compared, never hashed with a cost). */
export const MIN_ADMIN_KEY_CHARS = 16;
const RATE_HINT = 'expected a rate like "200/s", "6000/min", "100/10s"';

function isRate(spec: string): boolean {
  try {
    parseRate(spec);
    return true;
  } catch {
    return false;
  }
}

export const adminKeySchema = z.union(
  [
    section({
      key_hash: text().refine(isPasswordHash, {
        error: 'expected output of `herald hash-password` (scrypt$16384$8$1$<salt>$<hash>)',
      }),
      /** A name for logs (never the key). */
      label: text().optional(),
    }),
    section({
      key: z
        .string({ error: `expected a key of at least ${MIN_ADMIN_KEY_CHARS} characters` })
        .min(MIN_ADMIN_KEY_CHARS, { error: `expected a key of at least ${MIN_ADMIN_KEY_CHARS} characters` }),
      label: text().optional(),
    }),
  ],
  { error: 'expected { key_hash: "<herald hash-password output>" } or { key: "..." }' },
);

export const apiSchema = section({
  listen: listenAddress().default('127.0.0.1:8080'),
  /** Operator keys: every route, any tenant. */
  admin_keys: z.array(adminKeySchema, { error: 'expected a list of admin keys' }).default([]),
  /** Requests per API key (tenant or admin), shared by every relay through Redis (GCRA). */
  rate_limit: z.string({ error: RATE_HINT }).refine(isRate, { error: RATE_HINT }).default('200/s'),
  /** Requests a key may send back to back after an idle spell. */
  rate_burst: integer(1).default(50),
  /** Bytes of a message (raw, or composed from fields); default smtp.max_message_size. */
  max_message_size: byteSize().optional(),
  /** How long an Idempotency-Key's first answer is kept and replayed. */
  idempotency_ttl: duration().prefault('24h'),
  /** Each request's Redis calls (auth, rate, enqueue) must answer within this, else 503. */
  redis_timeout: timerDuration().prefault('3s'),
  /** Failed authentications of one client address within auth_failure_window that block it. */
  auth_failure_limit: integer(1).default(20),
  auth_failure_window: duration().prefault('15m'),
  /** How long a blocked client address is answered 429 (a valid tenant key, or an admin key
   *  already verified by this process, still passes). */
  block_time: duration().prefault('15m'),
  /** Connections to the API listener at once (all clients); beyond it a new one is dropped. */
  max_connections: integer(1).default(512),
  /** Connections at once from one client (IPv4 address, IPv6 /64); beyond it a new one is closed. */
  max_connections_per_client: integer(1).default(32),
  /** A request's headers must arrive within this (a slow drip is cut with 408). */
  header_timeout: timerDuration().prefault('10s'),
  /** A whole request (headers and body) must arrive within this. */
  request_timeout: timerDuration().prefault('60s'),
});

export type ApiConfigInput = z.input<typeof apiSchema>;
