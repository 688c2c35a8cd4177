/**
 * Tenant API keys over HTTP (admin): list (never a secret), create (the key is in this answer
 * only), revoke. The same store as `herald tenant key create|list|revoke`.
 */
import { isApiKeyId } from '@herald/delivery-core/apikeys';
import { isTenantName } from '@herald/delivery-core/config';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { tenantName } from '../schemas.js';

const keyInfo = z.object({
  id: z.string(),
  tenant: z.string(),
  label: z.string().optional(),
  created: z.string().describe('ISO 8601'),
});

const asJson = (info: { id: string; tenant: string; label?: string; created: number }) => ({
  id: info.id,
  tenant: info.tenant,
  ...(info.label ? { label: info.label } : {}),
  created: new Date(info.created).toISOString(),
});

export const keyRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/keys',
    auth: 'admin',
    tag: 'keys',
    summary: 'list tenant API keys',
    query: z.strictObject({ tenant: tenantName.optional() }),
    responses: {
      200: { description: 'the keys, oldest first', schema: z.object({ keys: z.array(keyInfo) }) },
      400: {
        description:
          'malformed request (HERALD_API_BAD_REQUEST), or a tenant name no tenant can have (HERALD_INPUT_INVALID)',
      },
    },
    handler: async ({ query, deps }) => {
      // As POST and `herald tenant key list` say: an impossible name is an error, not "no keys".
      if (query.tenant !== undefined && !isTenantName(query.tenant))
        throw new ApiError(
          400,
          'HERALD_INPUT_INVALID',
          `no tenant can be named ${JSON.stringify(query.tenant)}`,
        );
      return { status: 200, body: { keys: (await deps.keys.list(query.tenant)).map(asJson) } };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/keys',
    auth: 'admin',
    tag: 'keys',
    summary: 'create a tenant API key (shown once)',
    body: z.strictObject({ tenant: tenantName, label: z.string().min(1).max(100).optional() }),
    responses: {
      201: {
        description: 'created',
        schema: keyInfo.extend({ key: z.string().describe('the key: shown only here') }),
      },
      400: {
        description:
          'malformed request (HERALD_API_BAD_REQUEST), or a tenant name no tenant can have (HERALD_INPUT_INVALID)',
      },
    },
    handler: async ({ body, deps }) => {
      const { key, info } = await deps.keys.create(body.tenant, body.label);
      return { status: 201, body: { ...asJson(info), key } };
    },
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/keys/:id',
    auth: 'admin',
    tag: 'keys',
    summary: 'revoke a tenant API key',
    params: z.strictObject({ id: z.string().describe('the key id (hk_<id>_…)') }),
    responses: {
      204: { description: 'revoked' },
      404: { description: 'no such key (HERALD_API_NOT_FOUND)' },
    },
    handler: async ({ params, deps }) => {
      if (!isApiKeyId(params.id) || !(await deps.keys.revoke(params.id)))
        throw new ApiError(404, 'HERALD_API_NOT_FOUND', 'no such key');
      return { status: 204, body: undefined };
    },
  }),
];
