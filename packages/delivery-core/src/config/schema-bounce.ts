/**
 * The config sections for bounce and feedback handling: `bounce` (the bounce-processor's SMTP
 * listener, the VERP return-path domain and its signing keys) and `tenants` (per-tenant policy:
 * what a suppressed recipient gets, DSNs to the sender, reputation thresholds). Absent `bounce`:
 * no VERP, no bounce-processor. Every tenant not listed gets the defaults below.
 */
import { z } from 'zod';
import {
  bool,
  duration,
  fraction,
  hostName,
  integer,
  listenAddress,
  oneOf,
  section,
  text,
} from './fields.js';
import type { DeepReadonly } from './readonly.js';

export const SUPPRESSION_MODES = ['refuse', 'drop'] as const;
/** A tenant name as used by users' `tenant` and the shaping file. */
const TENANT_NAME = /^[a-z0-9][a-z0-9_.-]*$/i;
/** What TENANT_NAME allows, for error messages. */
export const TENANT_NAME_HINT = 'letters, digits, _ . -, starting with a letter or digit';

/** True when `name` can name a tenant (`tenants.<name>`, `smtp.users[].tenant`, `send({ tenant })`). */
export function isTenantName(name: string): boolean {
  return TENANT_NAME.test(name);
}

/** `npm start` (scripts/start.mjs) replaces a verp_secret of this word with a random secret. */
export const GENERATED_SECRET_PLACEHOLDER = 'generate';
/** Shortest VERP secret accepted, in characters (`openssl rand -base64 32` prints 44). */
export const MIN_VERP_SECRET_CHARS = 16;
const SECRET_HINT = `at least ${MIN_VERP_SECRET_CHARS} random characters, e.g. from \`openssl rand -base64 32\``;

/** A VERP signing secret: long enough, and not the placeholder only `npm start` fills in. */
function verpSecret() {
  return z.string({ error: 'expected a secret string' }).superRefine((secret, ctx) => {
    // The messages never quote the value: it is a secret (or the placeholder word).
    if (secret.trim().toLowerCase() === GENERATED_SECRET_PLACEHOLDER)
      ctx.addIssue({
        code: 'custom',
        message: `"${GENERATED_SECRET_PLACEHOLDER}" is replaced by a random secret only under npm start; set a secret of ${SECRET_HINT}`,
        input: undefined,
      });
    else if ([...secret].length < MIN_VERP_SECRET_CHARS)
      ctx.addIssue({ code: 'custom', message: `expected a secret of ${SECRET_HINT}`, input: undefined });
  });
}

export const bounceSchema = section({
  /** The bounce-processor's SMTP listener (bounces and complaints arrive here). */
  listen: listenAddress().default('127.0.0.1:2600'),
  /**
   * The bounce-processor's /healthz, /readyz and /metrics; beside the relay's `http.listen`
   * (127.0.0.1:8025) by default, so one config file serves both daemons.
   */
  http_listen: listenAddress().default('127.0.0.1:8026'),
  /** VERP return paths are bounces+<token>@<domain>; MX of this domain points at the listener. */
  domain: hostName(),
  /**
   * Signs VERP tokens (HMAC-SHA256, truncated); at least MIN_VERP_SECRET_CHARS characters. Rotate
   * by moving it to verp_previous_secrets.
   */
  verp_secret: verpSecret(),
  /** Earlier secrets, still accepted when decoding (tokens signed before a rotation). */
  verp_previous_secrets: z.array(verpSecret(), { error: 'expected a list of secrets' }).default([]),
  /** A VERP token older than this is refused (bounces arrive within days; DSNs within the queue lifetime). */
  verp_max_age: duration().prefault('30d'),
  /** Where feedback-loop (ARF) complaint reports arrive, e.g. fbl@bounces.example.com. */
  complaint_address: text('an address like fbl@bounces.example.com').optional(),
  /**
   * Operator bounce rules (YAML, tried before the built-in tables; `herald bounce rules check`
   * runs their examples); relative to the config file.
   */
  rules_file: text('a file path').optional(),
});

export const tenantPolicySchema = section({
  /** A suppressed recipient at RCPT: `refuse` (550 5.7.1 with the reason) or `drop` (250, a suppressed event). */
  suppression: oneOf(SUPPRESSION_MODES).default('refuse'),
  /** Send an RFC 3464 DSN to the envelope sender when a recipient bounces or expires (never for `<>`). */
  dsn: bool().default(true),
  /** The tenant's delay notice time, instead of delivery.delay_warning; false: none for this tenant. */
  delay_warning: z.union([z.literal(false), duration()]).optional(),
  /** Pause the tenant's bulk streams when complaints / accepted mail over the window exceed this. */
  complaint_rate_threshold: fraction(0, 1).default(0.003),
  /** The same for hard bounces. */
  bounce_rate_threshold: fraction(0, 1).default(0.05),
  /** The rolling window of those rates. */
  reputation_window: duration().prefault('24h'),
  /** Rates are judged only once the window holds at least this many accepted recipients. */
  reputation_min_volume: integer(1).default(1000),
  /** Envelope and From domains the tenant may send as (and their subdomains); empty: any. */
  sender_domains: z.array(hostName(), { error: 'expected a list of domains' }).default([]),
  /** Refuse a message whose DMARC would fail on Herald's path (no aligned DKIM or SPF). */
  refuse_dmarc_fail: bool().default(false),
  /** Add List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058) to these streams' mail. */
  list_unsubscribe: section({
    /** mailto: target, e.g. unsubscribe@example.com. */
    mailto: text('an address').optional(),
    /** https: one-click URL; {recipient} and {message_id} are filled in. */
    https: text('an https URL').optional(),
    streams: z.array(text('a stream name'), { error: 'expected a list of streams' }).default(['bulk']),
  }).optional(),
});

export const tenantsSchema = z
  .record(z.string(), tenantPolicySchema, { error: 'expected a mapping of tenant names to policies' })
  .superRefine((map, ctx) => {
    for (const key of Object.keys(map))
      if (!TENANT_NAME.test(key))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'expected a tenant name like acme',
          input: undefined,
        });
  })
  .default({});

export type TenantPolicy = DeepReadonly<z.output<typeof tenantPolicySchema>>;
/** The defaults every tenant not listed under `tenants` gets. */
const DEFAULT_TENANT_POLICY: TenantPolicy = Object.freeze(tenantPolicySchema.parse({}));

/** The tenant of mail with no user (trusted networks, `send()` without `tenant`). */
export const DEFAULT_TENANT = 'default';

type Tenants = Readonly<Record<string, TenantPolicy>>;
/** Lower-cased name → policy, built once per (frozen) `tenants` table: asked several times per message. */
const byName = new WeakMap<Tenants, Map<string, TenantPolicy>>();

/** A tenant's policy: its `tenants.<name>` entry (names compare case-insensitively), else the defaults. */
export function tenantPolicy(config: { readonly tenants: Tenants }, tenant: string): TenantPolicy {
  let table = byName.get(config.tenants);
  if (!table) {
    table = new Map(Object.entries(config.tenants).map(([key, policy]) => [key.toLowerCase(), policy]));
    byName.set(config.tenants, table);
  }
  return table.get(tenant.toLowerCase()) ?? DEFAULT_TENANT_POLICY;
}
