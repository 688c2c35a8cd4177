/**
 * @herald/http-api — Herald's HTTP API: `createApiServer({ herald, config, logger })` serves the
 * routes of `routes/` (each a `defineRoute` with zod schemas, the one source of validation,
 * types and the OpenAPI 3.1 document at `GET /openapi.json`) on its own listener (`api.listen`).
 */
export { Authenticator } from './auth.js';
export { ApiError, errorBody, REDIS_RETRY_AFTER_S, toApiError } from './errors.js';
export { type MountHandler, type MountOptions, OPEN_CALLER_ID } from './mount.js';
export { buildOpenApi, OPENAPI_VERSION, openApiPath } from './openapi.js';
export { REFUSAL_STATUS, refusalStatus } from './refusal-status.js';
export type { ApiDeps, Caller, HttpMethod, RouteAnswer, RouteAuth, RouteContext, RouteDef } from './route.js';
export { defineRoute } from './route.js';
export { ROUTES } from './routes/index.js';
export { type ApiServer, type ApiServerOptions, createApiServer } from './server.js';
