/**
 * The OpenAPI 3.1 document, generated from the route list and its zod schemas (zod 4's
 * `z.toJSONSchema`, JSON Schema 2020-12 as OpenAPI 3.1 takes it): a path per route, its
 * parameters, request body, answers, and the errors every route of its scope can answer.
 */
import { z } from 'zod';
import { errorBodySchema } from './errors.js';
import type { RouteDef } from './route.js';

export const OPENAPI_VERSION = '3.1.0';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** `/v1/keys/:id` → `/v1/keys/{id}`. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z_]\w*)/g, '{$1}');

const errorContent = () => ({ 'application/json': { schema: { $ref: '#/components/schemas/Error' } } });

/** Errors every route of a scope can answer, beside its own. */
function commonErrors(route: RouteDef): Record<string, string> {
  const errors: Record<string, string> = {};
  if (route.body || route.textBody || route.params || route.query)
    errors['400'] = 'malformed request (HERALD_API_BAD_REQUEST)';
  if (route.body) errors['415'] = 'a content type other than application/json (HERALD_API_BAD_REQUEST)';
  if (route.textBody)
    errors['415'] = `a content type other than ${route.textBody.contentType} (HERALD_API_BAD_REQUEST)`;
  if (route.auth !== 'public') {
    errors['401'] = 'no, unknown or revoked API key (HERALD_API_UNAUTHENTICATED)';
    errors['429'] = 'rate limited, or the address is blocked (HERALD_API_RATE_LIMITED); see Retry-After';
    errors['503'] = 'Redis unavailable (HERALD_REDIS_UNAVAILABLE); see Retry-After';
  }
  if (route.auth === 'admin') errors['403'] = 'a tenant key on an admin route (HERALD_API_FORBIDDEN)';
  return errors;
}

function parameters(route: RouteDef): unknown[] {
  const list: unknown[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    if (!schema) continue;
    const object = jsonSchema(schema, 'input');
    const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((object.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries(properties))
      list.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(property.description ? { description: property.description } : {}),
        schema: property,
      });
  }
  for (const header of route.headers ?? [])
    list.push({
      name: header.name,
      in: 'header',
      description: header.description,
      schema: jsonSchema(header.schema, 'input'),
    });
  return list;
}

function operation(route: RouteDef): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(route.responses))
    responses[status] = {
      description: answer.description,
      ...(answer.schema
        ? {
            content: {
              [answer.contentType ?? 'application/json']: { schema: jsonSchema(answer.schema, 'output') },
            },
          }
        : {}),
    };
  for (const [status, description] of Object.entries(commonErrors(route)))
    responses[status] ??= { description, content: errorContent() };
  const params = parameters(route);
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.auth === 'public' ? [] : [{ apiKey: [] }],
    'x-herald-auth': route.auth,
    ...(params.length ? { parameters: params } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    ...(route.textBody
      ? {
          requestBody: {
            required: true,
            description: `${route.textBody.description} (at most ${route.textBody.maxBytes} bytes)`,
            content: { [route.textBody.contentType]: { schema: { type: 'string' } } },
          },
        }
      : {}),
    responses,
  };
}

export function buildOpenApi(routes: readonly RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.url);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  const error = jsonSchema(errorBodySchema, 'output');
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'Herald HTTP API',
      version,
      description:
        'Send mail through Herald and operate it. Errors: {"error": {"code": "HERALD_…", "message", "details"}}.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'a tenant key (hk_…) or an admin key' },
      },
      schemas: { Error: error },
    },
    paths,
  };
}
