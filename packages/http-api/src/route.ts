/**
 * A route of the HTTP API as data: method, URL, who may call it (`auth`), its zod schemas and
 * its handler. The server registers exactly the routes of `routes/index.ts` and the OpenAPI
 * document is generated from the same list, so a route cannot exist without being documented.
 * `auth`: 'public' (no key), 'tenant' (a tenant key, acting as its tenant, or an admin key,
 * acting as any tenant), 'admin' (admin keys only: a tenant key gets 403).
 */
import type { Herald, HeraldConfig, RedisClient } from '@herald/delivery-core';
import type { TenantKeyStore } from '@herald/delivery-core/apikeys';
import type { IdempotencyStore } from '@herald/delivery-core/intake';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';

export type RouteAuth = 'public' | 'tenant' | 'admin';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who is calling: an admin key (by its index in api.admin_keys) or a tenant key. */
export type Caller =
  | { kind: 'admin'; keyId: string; label?: string | undefined }
  | { kind: 'tenant'; keyId: string; tenant: string }
  | { kind: 'public' };

/**
 * Who an operator action (a release, an unflag) is recorded as in its event's `by`: `api:<label>`
 * for an admin key with a label, else `api:<key id>` (`admin-<index>`, a tenant key's id).
 */
export function actorOf(caller: Caller): string {
  if (caller.kind === 'public') return 'api';
  return `api:${(caller.kind === 'admin' && caller.label) || caller.keyId}`;
}

/** What every handler may use. */
export interface ApiDeps {
  herald: Herald;
  config: HeraldConfig;
  api: NonNullable<HeraldConfig['api']>;
  redis: RedisClient;
  keys: TenantKeyStore;
  idempotency: IdempotencyStore;
  logger: Logger;
  /** The OpenAPI document (built once from the route list). */
  openapi(): unknown;
}

export interface RouteContext<B, P, Q> {
  body: B;
  params: P;
  query: Q;
  caller: Caller;
  request: FastifyRequest;
  deps: ApiDeps;
}

/** A handler's answer: status, JSON body, extra headers. Errors are thrown as ApiError. */
export interface RouteAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /** Default application/json; e.g. text/csv (then `body` is a string or a Readable). */
  contentType?: string;
}

/** A route whose body is not JSON but text of one content type, bounded (e.g. a CSV import). */
export interface TextBody {
  contentType: 'text/csv';
  maxBytes: number;
  description: string;
}

export interface RouteDef<
  B extends z.ZodType = z.ZodType,
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  /** fastify form: `/v1/keys/:id` (the OpenAPI document writes `{id}`). */
  url: string;
  auth: RouteAuth;
  summary: string;
  description?: string;
  tag: string;
  body?: B;
  /** Instead of `body`: the request body as a Buffer of this content type (any other is 415). */
  textBody?: TextBody;
  params?: P;
  query?: Q;
  /** Request headers the route reads, documented as parameters. */
  headers?: { name: string; description: string; schema: z.ZodType }[];
  /** Success and route-specific error answers; the common errors are added by the generator. */
  responses: Record<number, RouteResponse>;
  handler(ctx: RouteContext<z.output<B>, z.output<P>, z.output<Q>>): Promise<RouteAnswer>;
}

/** Declares a route with its handler typed by its schemas. */
export function defineRoute<B extends z.ZodType, P extends z.ZodType, Q extends z.ZodType>(
  def: RouteDef<B, P, Q>,
): RouteDef {
  return def as unknown as RouteDef;
}
