/**
 * createApiServer: the HTTP API on its own fastify listener. It registers every route of
 * routes/index.ts the same way (authenticate in onRequest, before the body is read → validate
 * params, query and body with the route's zod schemas → handler → JSON answer), answers every
 * error in the one error shape (unknown routes 404, malformed URLs, JSON and wrong content types
 * 400/415, bodies over the limit 413, Redis down 503 with Retry-After, the HTTP parser's own
 * refusals too), caps connections (listener-guard.ts) and logs one line per request without its
 * headers or body (so no key is ever logged). A request refused before its body was read is
 * answered with `Connection: close`, so its body is never taken in. Needs injected: a Herald
 * (for send), the config with an `api` section, a pino logger; it opens one Redis connection of
 * its own for keys, limits and idempotency.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Herald, HeraldConfig, RedisClient } from '@herald/delivery-core';
import { connectRedis, HeraldError, redisTarget } from '@herald/delivery-core';
import { TenantKeyStore } from '@herald/delivery-core/apikeys';
import { parseListen } from '@herald/delivery-core/config';
import { IdempotencyStore } from '@herald/delivery-core/intake';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { Authenticator } from './auth.js';
import { ApiError, errorBody, frameworkError, toApiError } from './errors.js';
import { installJsonParser } from './json-body.js';
import {
  answerClientError,
  CONNECTIONS_CHECK_MS,
  guardListener,
  lingerAfterAnswer,
} from './listener-guard.js';
import { createMount, type MountHandler, type MountOptions, OPEN_CALLER_ID } from './mount.js';
import { buildOpenApi } from './openapi.js';
import type { ApiDeps, Caller, RouteDef } from './route.js';
import { ROUTES } from './routes/index.js';

/** Room for JSON syntax and base64 (4/3) around a message of api.max_message_size. */
const BODY_OVERHEAD_BYTES = 64 * 1024;
const BASE64_NUM = 4;
const BASE64_DEN = 3;
/** Body limit of every route but the send and the text imports (their own limits). */
export const SMALL_BODY_LIMIT_BYTES = 512 * 1024;
/** The one route whose body is a whole message (up to api.max_message_size, base64). */
const SEND_URL = '/v1/messages';
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const REDIS_CONNECT_TIMEOUT_MS = 10_000;
const ISSUES_REPORTED = 20;
/** Longest path parameter: a site name (`mx:<sorted MX hosts>`) can be long. */
const MAX_PARAM_CHARS = 1_024;
const VERSION = '1';
/** An unknown method and path: the answer quotes neither. */
const NO_ROUTE_MESSAGE = 'no route for this method and path';

export interface ApiServerOptions {
  herald: Herald;
  config: HeraldConfig;
  logger: Logger;
  /** Default: config.api.listen. */
  listen?: string;
}

export interface ApiServer {
  /** Listens on api.listen; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  readonly address: { host: string; port: number } | undefined;
  /** The routes served (and documented). */
  readonly routes: readonly RouteDef[];
  /**
   * A handler serving `options.routes` of this API for requests that arrive on another listener
   * (mount.ts); usable once `listen` resolved (before: 503 in the error shape).
   */
  mount(options: MountOptions): MountHandler;
}

export function createApiServer(options: ApiServerOptions): ApiServer {
  const { herald, config, logger } = options;
  const api = config.api;
  if (!api) throw new HeraldError('HERALD_CONFIG_INVALID', 'api: the HTTP API is not configured');
  const maxMessage = api.max_message_size ?? config.smtp.max_message_size;
  const sendBodyLimit = Math.ceil((maxMessage * BASE64_NUM) / BASE64_DEN) + BODY_OVERHEAD_BYTES;
  const app = Fastify({
    logger: false,
    bodyLimit: SMALL_BODY_LIMIT_BYTES,
    requestTimeout: api.request_timeout,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: { headersTimeout: api.header_timeout, connectionsCheckingInterval: CONNECTIONS_CHECK_MS },
    clientErrorHandler: answerClientError,
    frameworkErrors: (err, _request, reply) => send(reply, frameworkError(err.code)),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
  });
  guardListener(app.server, {
    maxConnections: api.max_connections,
    maxConnectionsPerClient: api.max_connections_per_client,
  });
  // JSON (depth and token count bounded before parsing: json-body.ts), and text/csv for the
  // routes that declare it (`textBody`): any other content type is 415 (fastify also parses
  // text/plain by default).
  installJsonParser(app);
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/csv', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  let redis: RedisClient | undefined;
  let deps: ApiDeps | undefined;
  let auth: Authenticator | undefined;
  let bound: { host: string; port: number } | undefined;
  const document = buildOpenApi(ROUTES, VERSION);
  /** Requests of an open mount (mount.ts): without a key they are an admin caller. */
  const openRequests = new WeakSet<http.IncomingMessage>();

  const send = (reply: FastifyReply, error: ApiError) =>
    reply.code(error.status).headers(error.headers).send(errorBody(error));
  app.setErrorHandler((err, request, reply) => {
    const error = toApiError(err, (e) =>
      logger.error({ err: e, method: request.method, route: request.routeOptions.url }, 'api error'),
    );
    // Refused before its body was read: close, so the body is never taken in.
    if (state(request).early && bodyPending(request)) reply.header('connection', 'close');
    // Over the limit mid-body (fastify closes): linger so the client reads the 413 first.
    else if (error.status === 413 && !request.raw.complete) lingerAfterAnswer(request.raw.socket);
    return send(reply, error);
  });
  app.setNotFoundHandler((_request, reply) =>
    // Quotes nothing of the request (README: router errors quote nothing).
    send(reply, new ApiError(404, 'HERALD_API_NOT_FOUND', NO_ROUTE_MESSAGE)),
  );
  app.addHook('onResponse', async (request, reply) => {
    const { caller, actingAs } = state(request);
    logger.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unknown',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        client: request.ip,
        ...(caller?.kind === 'tenant' ? { tenant: caller.tenant, key: caller.keyId } : {}),
        ...(caller?.kind === 'admin'
          ? { key: caller.keyId, ...(caller.label ? { label: caller.label } : {}), tenant: actingAs }
          : {}),
      },
      'api request',
    );
  });
  for (const route of ROUTES)
    app.route({
      method: route.method,
      url: route.url,
      bodyLimit:
        route.textBody?.maxBytes ??
        (route.method === 'POST' && route.url === SEND_URL ? sendBodyLimit : SMALL_BODY_LIMIT_BYTES),
      // Before the body is read: a request without a valid key costs only its headers.
      onRequest: async (request) => {
        const at = state(request);
        at.early = true;
        if (!auth) throw new ApiError(503, 'HERALD_REDIS_UNAVAILABLE', 'starting');
        at.caller =
          openRequests.has(request.raw) && request.headers.authorization === undefined
            ? { kind: 'admin', keyId: OPEN_CALLER_ID, label: 'dashboard (http.ui.open_on_loopback)' }
            : await auth.identify(route.auth, request.headers.authorization, request.ip);
        await auth.admit(route.auth, at.caller);
        at.early = false;
      },
      handler: async (request, reply) => {
        const at = state(request);
        if (!deps || !at.caller) throw new ApiError(503, 'HERALD_REDIS_UNAVAILABLE', 'starting');
        const params = validate(route.params, request.params, 'path');
        const query = validate(route.query, request.query, 'query');
        const body = route.textBody ? textBody(route, request.body) : jsonBody(route, request.body);
        at.actingAs = namedTenant(body) ?? namedTenant(params) ?? namedTenant(query);
        const answer = await route.handler({ caller: at.caller, request, deps, params, query, body });
        reply.code(answer.status).headers(answer.headers ?? {});
        return answer.status === 204 ? reply.send() : reply.send(answer.body);
      },
    });

  return {
    routes: ROUTES,
    mount: (mountOptions) => createMount(mountOptions, (req, res) => app.routing(req, res), openRequests),
    get address() {
      return bound;
    },
    async listen() {
      redis = await connectRedis(redisTarget(config.redis), {
        timeoutMs: REDIS_CONNECT_TIMEOUT_MS,
        // Concurrent requests' auth, rate and idempotency commands share socket writes (as the
        // relay's command connection does); the API never blocks or WATCHes on this connection.
        redis: { enableOfflineQueue: false, maxRetriesPerRequest: 0, enableAutoPipelining: true },
        onError: (err) => logger.debug({ err: err.message }, 'api redis connection error'),
      });
      const keys = new TenantKeyStore(redis, config.redis.prefix);
      deps = {
        herald,
        config,
        api,
        redis,
        keys,
        idempotency: new IdempotencyStore(redis, config.redis.prefix, herald.shards),
        logger,
        openapi: () => document,
      };
      auth = new Authenticator({ redis, prefix: config.redis.prefix, api, keys });
      const { host, port } = parseListen(options.listen ?? api.listen);
      try {
        await app.listen({ host, port });
      } catch (err) {
        redis.disconnect();
        throw new HeraldError(
          'HERALD_LISTEN_FAILED',
          `api.listen: cannot listen on ${host}:${port}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      const address = app.server.address() as AddressInfo;
      bound = { host: address.address, port: address.port };
      return bound;
    },
    async close() {
      await app.close();
      redis?.disconnect();
    },
  };
}

/** What the server knows of a request, for its log line and its error answer. */
interface RequestState {
  caller?: Caller;
  /** The tenant an admin key names (body, path or query `tenant`), for the log. */
  actingAs?: string | undefined;
  /** Refused in onRequest, before the body was read. */
  early?: boolean;
}

function state(request: FastifyRequest): RequestState {
  const holder = request as { heraldState?: RequestState };
  holder.heraldState ??= {};
  return holder.heraldState;
}

/** Whether the request announced a body (which is unread if it was refused in onRequest). */
function bodyPending(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function namedTenant(part: unknown): string | undefined {
  const tenant = (part as { tenant?: unknown } | undefined)?.tenant;
  return typeof tenant === 'string' ? tenant : undefined;
}

/** The body of a `textBody` route: a Buffer of its content type, else 415. */
function textBody(route: RouteDef, body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  throw new ApiError(
    415,
    'HERALD_API_BAD_REQUEST',
    `unsupported content type: send ${route.textBody?.contentType}`,
  );
}

/** A JSON route's body, validated; a text body (text/csv) sent to it is 415. */
function jsonBody(route: RouteDef, body: unknown): unknown {
  if (Buffer.isBuffer(body))
    throw new ApiError(415, 'HERALD_API_BAD_REQUEST', 'unsupported content type: send application/json');
  return validate(route.body, body, 'body');
}

/** Parses a part of the request with its schema; a failure is a 400 naming each problem's path. */
function validate(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  // A JSON `null` body stays null, so the problem reads "expected object, received null".
  const parsed = schema.safeParse(where === 'body' ? value : (value ?? {}));
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, ISSUES_REPORTED).map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw new ApiError(400, 'HERALD_API_BAD_REQUEST', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
    issues,
  });
}
