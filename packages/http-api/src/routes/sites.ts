/**
 * Sites (admin): `GET /v1/sites` (queue depth, live state and limits per site: site-overview.ts),
 * `POST /v1/sites/{site}/suspend` (`{duration, reason}`: every relay holds the site's jobs, without
 * spending attempts, until it lifts by itself or is resumed) and `POST /v1/sites/{site}/resume`
 * (lifts a suspension or rate cut now), as `herald site suspend|resume` does: a name delivery
 * never produces is refused by suspend (400 HERALD_INPUT_INVALID). Site names hold ":" and ",":
 * URL-encode them in the path (`provider%3Agmail`).
 */
import { parseHoldDuration } from '@herald/delivery-core';
import { routeSites, siteNameProblem } from '@herald/delivery-core/sites';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { sitesSchema } from '../responses.js';
import { defineRoute } from '../route.js';
import { headerText } from '../schemas.js';
import { knownProviders, sitesOverview } from '../site-overview.js';
import { BULK_TIMEOUT_MS, within } from '../within.js';
import { siteName } from './queue.js';

const DEFAULT_SUSPEND = '1h';
const OPERATOR_REASON = 'operator';
const MAX_EXTRA_SITES = 20;

const params = z.strictObject({ site: siteName });

export const siteRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/sites',
    auth: 'admin',
    tag: 'sites',
    summary: 'sites with queue depth, state (suspended, slowed) and limits',
    description: `Sites with queued jobs (a split of at most the first 10000 jobs; \`truncated\` says when there were more), the providers and sites of the shaping file in force, and those named in \`site\`.`,
    query: z.strictObject({
      site: z
        .string()
        .max(MAX_EXTRA_SITES * 256)
        .optional()
        .describe(`also these sites, separated by spaces (at most ${MAX_EXTRA_SITES})`),
    }),
    responses: {
      200: {
        description: 'the sites, most queued first',
        schema: sitesSchema,
      },
    },
    handler: async ({ query, deps }) => {
      const extra = query.site?.split(' ').filter(Boolean).slice(0, MAX_EXTRA_SITES) ?? [];
      return { status: 200, body: await within(deps, sitesOverview(deps, extra), BULK_TIMEOUT_MS) };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/sites/:site/suspend',
    auth: 'admin',
    tag: 'sites',
    summary: 'suspend delivery to a site on every relay for a duration',
    params,
    body: z
      .strictObject({
        duration: z.string().max(32).optional().describe(`how long (30m, 2h; default ${DEFAULT_SUSPEND})`),
        reason: headerText(200)
          .min(1)
          .optional()
          .describe(`recorded in the site event (default "${OPERATOR_REASON}")`),
      })
      .optional(),
    responses: {
      200: {
        description: 'suspended',
        schema: z.object({ site: z.string(), state: z.literal('suspended'), suspended_until: z.string() }),
      },
    },
    handler: async ({ params, body, deps }) => {
      let forMs: number;
      try {
        forMs = parseHoldDuration(body?.duration ?? DEFAULT_SUSPEND);
      } catch {
        throw new ApiError(
          400,
          'HERALD_API_BAD_REQUEST',
          'duration: expected a duration like 30m or 2h, at most 36500d',
        );
      }
      if (forMs <= 0) throw new ApiError(400, 'HERALD_API_BAD_REQUEST', 'duration: expected more than 0');
      const problem = siteNameProblem(
        params.site,
        knownProviders(deps.herald.config),
        routeSites(deps.herald.config.routes),
      );
      if (problem) throw new ApiError(400, 'HERALD_INPUT_INVALID', problem);
      const until = await within(
        deps,
        deps.herald.suspendSite(params.site, forMs, body?.reason ?? OPERATOR_REASON),
      );
      return {
        status: 200,
        body: { site: params.site, state: 'suspended', suspended_until: new Date(until).toISOString() },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/sites/:site/resume',
    auth: 'admin',
    tag: 'sites',
    summary: "lift a site's suspension or rate cut now; the held jobs go out",
    params,
    responses: {
      200: {
        description: 'resumed (`changed` false: it was not suspended or slowed)',
        schema: z.object({ site: z.string(), state: z.literal('active'), changed: z.boolean() }),
      },
    },
    handler: async ({ params, deps }) => {
      const changed = await within(deps, deps.herald.resumeSite(params.site, OPERATOR_REASON));
      return { status: 200, body: { site: params.site, state: 'active', changed } };
    },
  }),
];
