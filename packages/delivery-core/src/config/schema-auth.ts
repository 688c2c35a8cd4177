/**
 * The config sections for sender authentication and outbound TLS policy: `dkim` (signing keys
 * per domain, optionally per tenant, with activation times for selector rotation) and
 * `delivery.mta_sts` (RFC 8461 policy use). Key files are paths relative to the config file.
 */
import { z } from 'zod';
import { bool, hostName, integer, section, text } from './fields.js';

/** An instant: ISO 8601 with a time zone, e.g. 2026-12-01T00:00:00Z. */
function instant() {
  const message = 'expected a time like 2026-12-01T00:00:00Z';
  return z.string({ error: message }).transform((value, ctx) => {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms) && /(Z|[+-]\d{2}:?\d{2})$/.test(value.trim())) return ms;
    ctx.addIssue({ code: 'custom', message, input: undefined });
    return z.NEVER;
  });
}

/** A DKIM selector: letters, digits, ".", "_", "-", not at either end (`herald dkim keygen` too). */
export const DKIM_SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

export const dkimKeySchema = section({
  /** The signing domain (d=). */
  domain: hostName(),
  /** The selector (s=): its public key is published at <selector>._domainkey.<domain>. */
  selector: z
    .string({ error: 'expected a selector like s1' })
    .regex(DKIM_SELECTOR, { error: 'expected a selector like s1' }),
  /** PEM private key file (RSA >= 1024 bits, or Ed25519); the algorithm follows the key. */
  key_file: text('a key file path').optional(),
  /** The PEM private key itself, instead of key_file (e.g. from a secret store). */
  private_key: text('a PEM private key').optional(),
  /** Sign only this tenant's mail with it (absent: any tenant's mail from the domain). */
  tenant: z.string().optional(),
  /** Sign with this key from then on (rotation: the new selector's key activates later). */
  activate_at: instant().optional(),
  /** Stop signing with it then. */
  retire_at: instant().optional(),
  /**
   * Also sign mail whose From domain is not `domain` (a platform signature beside the author's);
   * default: only mail whose From is `domain` or a subdomain of it.
   */
  always: bool().default(false),
});

export const dkimSchema = z
  .array(
    dkimKeySchema.superRefine((entry, ctx) => {
      if ((entry.key_file === undefined) === (entry.private_key === undefined))
        ctx.addIssue({
          code: 'custom',
          message: 'expected exactly one of key_file, private_key',
          input: undefined,
        });
    }),
    { error: 'expected a list of DKIM keys' },
  )
  .default([]);

export const mtaStsSchema = section({
  /** Look up and apply receiving domains' MTA-STS policies (RFC 8461) to MX deliveries. */
  enabled: bool().default(true),
  /** Extra CA certificates (PEM file) trusted for policy fetches and enforced TLS (tests, private PKI). */
  ca_file: text('a PEM file path').optional(),
  /** Policies cached at most (entries). */
  cache_size: integer(1).default(10000),
  /** HTTPS port of mta-sts.<domain>: 443 as RFC 8461 says; another only for tests and labs. */
  policy_port: integer(1, 65535).default(443),
});

export type DkimKeyConfig = z.output<typeof dkimKeySchema>;
