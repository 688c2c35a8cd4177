/**
 * The response schemas of the read-out routes (activity, sites, tenants, a message's story): the
 * one source of their validation, their OpenAPI document and their TypeScript types. The route
 * modules answer with them; the dashboard imports the types (`import type … from
 * '@herald/http-api/responses'`), so a changed answer fails the dashboard's type-check instead of
 * drifting from a hand-copied interface. Imports zod and constant tables only (the dashboard's
 * type-only import pulls in nothing that runs on Node).
 */
import { ACTIVITY_OUTCOMES, SITE_OUTCOMES } from '@herald/delivery-core/events';
import { RECIPIENT_STATES } from '@herald/delivery-core/story';
import { z } from 'zod';

export const epochMs = z.number().describe('epoch milliseconds');

// --- activity -------------------------------------------------------------------------------

const minuteSchema = z.object({
  minute: epochMs.describe('start of the minute'),
  ...(Object.fromEntries(ACTIVITY_OUTCOMES.map((name) => [name, z.number().int()])) as Record<
    (typeof ACTIVITY_OUTCOMES)[number],
    z.ZodNumber
  >),
});

export const activitySchema = z.object({
  from: epochMs,
  kept_since: epochMs.describe('the oldest minute the counters still hold: older ones read as zeros'),
  minutes: z.array(minuteSchema),
  bounce_reasons: z.array(z.object({ minute: epochMs, reasons: z.record(z.string(), z.number()) })),
  top_reasons_by_domain: z.array(
    z.object({
      domain: z.string(),
      bounced: z.number().int(),
      reasons: z.array(z.object({ reason: z.string(), count: z.number().int() })),
    }),
  ),
});
export type Activity = z.infer<typeof activitySchema>;

export const recipientMessagesSchema = z.object({
  messages: z.array(
    z.object({
      id: z.string(),
      tenant: z.string(),
      from: z.string(),
      accepted_at: epochMs,
      state: z.string().nullable(),
    }),
  ),
  since: epochMs.nullable(),
  truncated: z.boolean(),
});
export type RecipientMessages = z.infer<typeof recipientMessagesSchema>;

// --- sites ----------------------------------------------------------------------------------

const rateOrNull = z.string().nullable().describe('"count/period" (e.g. 100/1m); null: no limit');
/** The limits the sites page shows, each with the layer that set it. */
export const SITE_LIMIT_KEYS = [
  'max_connections',
  'initial_connections',
  'max_messages_per_connection',
  'max_message_rate',
  'max_connection_rate',
] as const;

export const siteReplySchema = z.object({
  time: epochMs,
  outcome: z.enum(['deferred', 'bounced']),
  code: z.number().int(),
  enhanced: z.string().optional(),
  text: z.string().describe('the first 200 characters'),
});
export type SiteReply = z.infer<typeof siteReplySchema>;

export const siteSchema = z.object({
  site: z.string(),
  queue: z.object({
    ready: z.number().int(),
    scheduled: z.number().int(),
    in_flight: z.number().int(),
    oldest_age_ms: z.number(),
  }),
  state: z.enum(['active', 'suspended', 'slowed']),
  suspended_until: z.string().nullable().describe('ISO 8601'),
  slowed: z.object({ rate: z.string(), until: z.string() }).nullable(),
  limits: z.object({
    max_connections: z.number().int(),
    initial_connections: z.number().int(),
    max_messages_per_connection: z.number().int(),
    max_message_rate: rateOrNull,
    max_connection_rate: rateOrNull,
    layers: z.array(z.string()).describe('the shaping layers merged, lowest first'),
    from: z
      .object(
        Object.fromEntries(SITE_LIMIT_KEYS.map((key) => [key, z.string()])) as Record<
          (typeof SITE_LIMIT_KEYS)[number],
          z.ZodString
        >,
      )
      .describe('per limit, the layer that set it (built-in, defaults, provider:…, site:…)'),
  }),
  recent: z
    .object({
      minutes: z.number().int(),
      ...(Object.fromEntries(SITE_OUTCOMES.map((name) => [name, z.number().int()])) as Record<
        (typeof SITE_OUTCOMES)[number],
        z.ZodNumber
      >),
      delivered_per_minute: z.number().describe('delivered recipients per minute over those minutes'),
    })
    .describe(
      'recipients delivered / deferred / bounced at the site in the last minutes, every relay counted',
    ),
  last_replies: z
    .array(siteReplySchema)
    .describe("the site's latest distinct 4xx/5xx replies, newest first (kept 24 h)"),
});
export type Site = z.infer<typeof siteSchema>;

export const sitesSchema = z.object({
  sites: z.array(siteSchema),
  totals: z.object({
    ready: z.number().int(),
    scheduled: z.number().int(),
    in_flight: z.number().int(),
  }),
  scanned: z.number().int(),
  truncated: z.boolean(),
});
export type Sites = z.infer<typeof sitesSchema>;

// --- tenants --------------------------------------------------------------------------------

export const tenantStatusSchema = z.object({
  tenant: z.string(),
  window_ms: z.number().int().describe('the reputation window'),
  min_volume: z.number().int().describe('recipients before rates are judged'),
  accepted: z.number().int().describe('recipients accepted in the window'),
  hard_bounces: z.number().int(),
  complaints: z.number().int(),
  bounce_rate: z.number(),
  complaint_rate: z.number(),
  bounce_rate_threshold: z.number(),
  complaint_rate_threshold: z.number(),
  paused: z
    .object({ reason: z.string(), since: z.string().describe('ISO 8601') })
    .nullable()
    .describe("the bulk pause; null while the tenant's bulk mail is sending"),
});
export type TenantStatus = z.infer<typeof tenantStatusSchema>;

export const tenantsSchema = z.object({ tenants: z.array(tenantStatusSchema) });
export type Tenants = z.infer<typeof tenantsSchema>;

// --- a message's story ----------------------------------------------------------------------

export const smtpReplySchema = z.object({
  code: z.number().int(),
  enhanced: z.string().optional(),
  text: z.string(),
  stage: z.string(),
  host: z.string().optional(),
});
export type Reply = z.infer<typeof smtpReplySchema>;

const recipientStory = z.object({
  address: z.string(),
  domain: z.string(),
  state: z.enum(RECIPIENT_STATES),
  attempts: z.number().int().describe('delivery attempts that included this recipient'),
  reply: smtpReplySchema.optional().describe('the last reply about it'),
  at: epochMs.optional().describe('when it reached its state (absent while queued)'),
  nextAttemptAt: epochMs.optional(),
  retryClass: z.string().optional(),
  waiting: z
    .object({ reason: z.string(), until: epochMs.optional() })
    .optional()
    .describe('not finished: why it waits (retry backoff, site suspended, tenant paused, a slot, a rate, …)'),
});

const attemptStory = z.object({
  time: epochMs,
  domain: z.string(),
  attempt: z.number().int(),
  host: z
    .object({
      hostname: z.string(),
      address: z.string(),
      port: z.number().int(),
      tls: z.boolean(),
      localAddress: z.string().optional().describe('our end of the connection (the local IP)'),
      tlsVersion: z.string().optional(),
      tlsCipher: z.string().optional(),
      tlsVerified: z.boolean().optional(),
      tlsVerifiedBy: z.string().optional().describe('"DANE" when TLSA records verified the certificate'),
      tlsFallback: z
        .string()
        .optional()
        .describe('why opportunistic TLS failed to begin; the transaction then ran in plaintext'),
      mtaSts: z.enum(['enforce', 'testing']).optional(),
    })
    .optional(),
  results: z.array(z.object({ address: z.string(), accepted: z.boolean(), reply: smtpReplySchema })),
  hostErrors: z.array(
    z.object({
      hostname: z.string(),
      address: z.string(),
      reply: smtpReplySchema,
      localAddress: z.string().optional().describe('our end of the connection, when one was made'),
    }),
  ),
  durationMs: z.number(),
  mtaStsProblems: z.array(z.string()).optional(),
  dane: z.string().optional().describe('with DANE on: verified, failed:<why> or none'),
});

export const messageStorySchema = z.object({
  id: z.string(),
  tenant: z.string(),
  from: z.string().describe('envelope sender ("" for the null sender)'),
  acceptedAt: epochMs,
  size: z.number().int(),
  stream: z.string().optional(),
  campaign: z.string().optional(),
  source: z.enum(['smtp', 'api', 'dsn']),
  client: z.string().optional(),
  recipients: z.array(recipientStory),
  attempts: z.array(attemptStory),
  feedback: z.array(z.record(z.string(), z.unknown())).describe('bounces and complaints received later'),
  truncated: z.boolean().describe('the trace dropped older events: counts are lower bounds'),
});
export type Story = z.infer<typeof messageStorySchema>;
