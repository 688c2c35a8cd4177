/**
 * Tenants: `GET /v1/tenants` (admin: the status of each tenant the config names, `default`, and
 * each tenant with mail accepted in the last hour of the event stream), `GET /v1/tenants/{tenant}` (its reputation over its window against its thresholds,
 * and its bulk pause: `herald.tenantStatus`; a tenant key may read its own), and, for admin keys,
 * `POST …/pause` and `POST …/resume` (`herald.pauseTenant` / `resumeTenant`: hold or release the
 * tenant's bulk mail on every relay; each change is a tenant event).
 */
import type { TenantStatus } from '@herald/delivery-core';
import { eventStreamKeys } from '@herald/delivery-core/queue';
import { z } from 'zod';
import { MS_PER_MINUTE, readRecentEvents } from '../activity.js';
import { tenantStatusSchema, tenantsSchema } from '../responses.js';
import { defineRoute } from '../route.js';
import { headerText, tenantName } from '../schemas.js';
import { scopedTenant, tenantNamed } from '../scope.js';
import { within } from '../within.js';

/** How far back the event stream is read for tenants with recent mail. */
const RECENT_MINUTES = 60;
const MAX_TENANTS_LISTED = 200;
const DEFAULT_TENANT = 'default';

const OPERATOR_REASON = 'operator';

const params = z.strictObject({ tenant: tenantName });
const asJson = ({ tenant, policy, rates, paused }: TenantStatus) => ({
  tenant,
  window_ms: policy.reputation_window,
  min_volume: policy.reputation_min_volume,
  accepted: rates.sent,
  hard_bounces: rates.hard,
  complaints: rates.complaints,
  bounce_rate: rates.bounceRate,
  complaint_rate: rates.complaintRate,
  bounce_rate_threshold: policy.bounce_rate_threshold,
  complaint_rate_threshold: policy.complaint_rate_threshold,
  paused: paused ? { reason: paused.reason, since: new Date(paused.at).toISOString() } : null,
});

export const tenantRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/tenants',
    auth: 'admin',
    tag: 'tenants',
    summary: 'every known tenant: reputation against thresholds and bulk pause',
    description: `The tenants of the config's \`tenants\` section, \`${DEFAULT_TENANT}\`, and those with mail accepted in the last ${RECENT_MINUTES} minutes of the event stream (at most ${MAX_TENANTS_LISTED}), by name.`,
    responses: {
      200: { description: 'their status, read now', schema: tenantsSchema },
    },
    handler: async ({ deps }) => {
      const keys = eventStreamKeys(deps.config.redis.prefix, deps.herald.shards.layout);
      const list = async () => {
        const { events } = await readRecentEvents(
          deps.redis,
          keys,
          Date.now() - RECENT_MINUTES * MS_PER_MINUTE,
        );
        const names = new Set([DEFAULT_TENANT, ...Object.keys(deps.herald.config.tenants)]);
        for (const event of events) if (event.type === 'accepted') names.add(event.tenant);
        const sorted = [...names].sort().slice(0, MAX_TENANTS_LISTED);
        return Promise.all(sorted.map(async (name) => asJson(await deps.herald.tenantStatus(name))));
      };
      return { status: 200, body: { tenants: await within(deps, list()) } };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/tenants/:tenant',
    auth: 'tenant',
    tag: 'tenants',
    summary: "a tenant's reputation and bulk pause",
    params,
    responses: {
      200: { description: 'its status, read now', schema: tenantStatusSchema },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ params, caller, deps }) => {
      const tenant = scopedTenant(caller, params.tenant);
      return { status: 200, body: asJson(await within(deps, deps.herald.tenantStatus(tenant))) };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/tenants/:tenant/pause',
    auth: 'admin',
    tag: 'tenants',
    summary: "hold a tenant's bulk mail (every stream but transactional) on every relay",
    params,
    body: z.strictObject({ reason: headerText(200).min(1).optional() }).optional(),
    responses: {
      200: {
        description: 'paused (`changed` false: it was paused already)',
        schema: z.object({ tenant: z.string(), paused: z.literal(true), changed: z.boolean() }),
      },
    },
    handler: async ({ params, body, deps }) => {
      const tenant = tenantNamed(params.tenant);
      const state = await within(deps, deps.herald.pauseTenant(tenant, body?.reason ?? OPERATOR_REASON));
      return { status: 200, body: { tenant, paused: true, changed: state !== undefined } };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/tenants/:tenant/resume',
    auth: 'admin',
    tag: 'tenants',
    summary: "lift a tenant's bulk pause (automatic or by hand); the held mail goes out at once",
    params,
    responses: {
      200: {
        description: 'resumed (`changed` false: it was not paused)',
        schema: z.object({ tenant: z.string(), paused: z.literal(false), changed: z.boolean() }),
      },
    },
    handler: async ({ params, deps }) => {
      const tenant = tenantNamed(params.tenant);
      const resumed = await within(deps, deps.herald.resumeTenant(tenant, OPERATOR_REASON));
      return { status: 200, body: { tenant, paused: false, changed: resumed } };
    },
  }),
];
