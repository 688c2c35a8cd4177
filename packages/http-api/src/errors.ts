/**
 * The API's error answer, `{ "error": { "code": "HERALD_…", "message", "details"? } }`, and how
 * errors become one: an ApiError carries its status; an intake refusal maps through
 * REFUSAL_STATUS (refusal-status.ts, the one table); a HeraldError by its code; fastify's own
 * errors (bad JSON, content type, body too large) by their status; anything else is a 500
 * HERALD_INTERNAL that says nothing of its cause (the log has it).
 */
import { HeraldError, type HeraldErrorCode, IntakeRefusedError } from '@herald/delivery-core';
import { z } from 'zod';
import { refusalStatus } from './refusal-status.js';

/** Seconds a client is told to wait when Redis is unavailable. */
export const REDIS_RETRY_AFTER_S = 5;

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().describe('a stable HERALD_* code (README "Error codes")'),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

export type ErrorBody = z.infer<typeof errorBodySchema>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: HeraldErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const REDIS_UNAVAILABLE = 'Redis unavailable';

/**
 * 503 HERALD_REDIS_UNAVAILABLE with Retry-After. "Redis unavailable: <the client's error>" is
 * cut to "Redis unavailable": an answer never quotes the Redis client library (the log may).
 */
export const unavailable = (message: string): ApiError =>
  new ApiError(
    503,
    'HERALD_REDIS_UNAVAILABLE',
    message.startsWith(REDIS_UNAVAILABLE) ? REDIS_UNAVAILABLE : message,
    undefined,
    { 'retry-after': String(REDIS_RETRY_AFTER_S) },
  );

/** HERALD_* codes thrown by the library and the HTTP status each means. */
const HERALD_CODE_STATUS: Partial<Record<HeraldErrorCode, number>> = {
  HERALD_REDIS_UNAVAILABLE: 503,
  HERALD_SEND_NO_RECIPIENT: 400,
  HERALD_INPUT_INVALID: 400,
  HERALD_QUEUE_NOT_FOUND: 404,
  HERALD_MESSAGE_NOT_FOUND: 404,
  HERALD_DKIM_SIGN_FAILED: 500,
};

/** fastify's error statuses and the code each becomes. */
const FASTIFY_STATUS_CODE: Record<number, HeraldErrorCode> = {
  400: 'HERALD_API_BAD_REQUEST',
  404: 'HERALD_API_NOT_FOUND',
  413: 'HERALD_API_TOO_LARGE',
  415: 'HERALD_API_BAD_REQUEST',
};

/** Any error as an ApiError; `log` is called for the ones that are our fault. */
export function toApiError(err: unknown, log: (err: unknown) => void): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof IntakeRefusedError) {
    const status = refusalStatus(err.refusal.kind);
    const reply = { code: err.refusal.code, enhanced: err.refusal.enhanced };
    return status === 503
      ? new ApiError(503, err.code, err.message, reply, { 'retry-after': String(REDIS_RETRY_AFTER_S) })
      : new ApiError(status, err.code, err.message, reply);
  }
  if (err instanceof HeraldError) {
    const status = HERALD_CODE_STATUS[err.code] ?? 500;
    // The library's wording may quote its Redis client: the answer says only what happened.
    if (status === 503) return unavailable('Redis unavailable');
    if (status >= 500) log(err);
    return new ApiError(status, err.code, status >= 500 ? 'internal error' : err.message);
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && FASTIFY_STATUS_CODE[status])
    return new ApiError(status, FASTIFY_STATUS_CODE[status], fastifyMessage(err as Error, status));
  log(err);
  return new ApiError(500, 'HERALD_INTERNAL', 'internal error');
}

/** What a fastify 400 says, by its code: never fastify's message, which may quote input. */
const FASTIFY_400_MESSAGE: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty JSON body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed JSON body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_BAD_URL: 'malformed URL (bad percent-encoding)',
  FST_ERR_MAX_PARAM_LENGTH: 'a path parameter is too long',
};

/** fastify's error as our message, quoting nothing of the input. */
function fastifyMessage(err: Error, status: number): string {
  if (status === 413) return 'request body too large';
  if (status === 415) return 'unsupported content type: send application/json';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && FASTIFY_400_MESSAGE[code]) return FASTIFY_400_MESSAGE[code];
  return err instanceof SyntaxError ? 'malformed JSON body' : 'malformed request';
}

/** A fastify router refusal (frameworkErrors: a bad URL, an overlong parameter) as our 400. */
export function frameworkError(code: string): ApiError {
  return new ApiError(400, 'HERALD_API_BAD_REQUEST', FASTIFY_400_MESSAGE[code] ?? 'malformed request');
}

export function errorBody(err: ApiError): ErrorBody {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.details !== undefined ? { details: err.details } : {}),
    },
  };
}
