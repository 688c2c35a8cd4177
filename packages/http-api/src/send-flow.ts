/**
 * The send path of `POST /v1/messages`: the tenant from the key (a different `tenant` field is
 * 403), the request as herald.send() input, its result or refusal as an answer, and the
 * Idempotency-Key around it: a stored answer is replayed (same status and body; another body under
 * the same key is 422), a duplicate in flight is 409, and the answer of a send that spools is
 * written in the enqueue's own MULTI (SendInput.idempotency), so it is there iff the message is.
 * Answers to keep: 2xx and the client's 4xx; a 5xx or 503 leaves the key free for a retry.
 * Each send is an `http.send` span, the parent of intake's `herald.accept`.
 */
import { createHash } from 'node:crypto';
import { IntakeRefusedError, type SendInput, type SendResult } from '@herald/delivery-core';
import { normaliseAddress } from '@herald/delivery-core/address';
import { DEFAULT_TENANT } from '@herald/delivery-core/config';
import { idempotencyScope, refuse } from '@herald/delivery-core/intake';
import { type Context, endSpan, SPAN_NAMES, SpanKind, withSpan } from '@herald/delivery-core/telemetry';
import { DeadlineExceeded, withDeadline } from '@herald/delivery-core/util';
import { base64Bytes } from './base64.js';
import { ApiError, errorBody, toApiError, unavailable } from './errors.js';
import type { RouteAnswer, RouteContext } from './route.js';
import type { SendBody } from './routes/messages.js';
import { IDEMPOTENCY_HEADER } from './routes/messages.js';

/** Printable US-ASCII, 1 to 255 characters. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;
const REPLAYED_HEADER = 'idempotent-replayed';
/** Redis answers a send (screen + enqueue) must give within this many api.redis_timeout. */
const SEND_TIMEOUTS = 2;

/** Redis did not acknowledge the enqueue in time: 503, and the message may still be spooled. */
class SendTimeout extends ApiError {
  constructor() {
    const { status, code, headers } = unavailable('');
    super(
      status,
      code,
      'Redis did not acknowledge the enqueue in time; retry with the same Idempotency-Key',
      undefined,
      headers,
    );
  }
}

interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: unknown;
}

type Ctx = RouteContext<SendBody, unknown, unknown>;

export async function sendMessage(ctx: Ctx): Promise<RouteAnswer> {
  const tenant = tenantOf(ctx);
  const key = idempotencyKey(ctx);
  if (key === undefined) return attempt(ctx, tenant, undefined);
  const { idempotency, api } = ctx.deps;
  const scope = idempotencyScope(tenant, key);
  const fingerprint = createHash('sha256').update(JSON.stringify(ctx.body)).digest('hex');
  const claim = await redisStep(ctx, idempotency.claim(scope));
  if (claim.state === 'busy')
    throw new ApiError(
      409,
      'HERALD_API_IDEMPOTENCY_CONFLICT',
      'a request with this Idempotency-Key is in flight',
    );
  if (claim.state === 'done') {
    const stored = JSON.parse(claim.record) as StoredAnswer;
    if (stored.fingerprint !== fingerprint)
      throw new ApiError(
        422,
        'HERALD_API_IDEMPOTENCY_MISMATCH',
        'this Idempotency-Key was used with another request body',
      );
    return { status: stored.status, body: stored.body, headers: { [REPLAYED_HEADER]: 'true' } };
  }
  const keep = { scope, ttlMs: api.idempotency_ttl, fingerprint };
  let answer: RouteAnswer;
  try {
    answer = await attempt(ctx, tenant, keep);
  } catch (err) {
    const error = toApiError(err, (e) => ctx.deps.logger.error({ err: e }, 'api send failed'));
    // A send that timed out may still be written (its MULTI was sent): its marker stays until the
    // lease ends, so a quick retry is 409, never a second message, and then finds the record iff
    // the message was spooled. Other failures free the key; a client's 4xx is kept.
    if (err instanceof SendTimeout) throw error;
    if (error.status >= 500) await settle(ctx, idempotency.release(scope));
    else
      await settle(
        ctx,
        idempotency.finish({
          scope,
          ttlMs: keep.ttlMs,
          value: stored(keep.fingerprint, error.status, errorBody(error)),
        }),
      );
    throw error;
  }
  await settle(
    ctx,
    idempotency.finish({ scope, ttlMs: keep.ttlMs, value: stored(fingerprint, answer.status, answer.body) }),
  );
  return answer;
}

function stored(fingerprint: string, status: number, body: unknown): string {
  return JSON.stringify({ fingerprint, status, body } satisfies StoredAnswer);
}

/** attempt() as the request's `http.send` span (the accept span's parent). */
async function attempt(
  ctx: Ctx,
  tenant: string,
  keep: { scope: string; ttlMs: number; fingerprint: string } | undefined,
): Promise<RouteAnswer> {
  const span = ctx.deps.herald.telemetry.tracer.startSpan(SPAN_NAMES.httpSend, {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'POST', 'http.route': '/v1/messages', 'herald.tenant': tenant },
  });
  try {
    const answer = await attemptSend(ctx, tenant, keep, withSpan(span));
    span.setAttribute('http.response.status_code', answer.status);
    endSpan(span);
    return answer;
  } catch (err) {
    if (err instanceof ApiError) span.setAttribute('http.response.status_code', err.status);
    endSpan(span, err instanceof Error ? err.message : String(err));
    throw err;
  }
}

async function attemptSend(
  ctx: Ctx,
  tenant: string,
  keep: { scope: string; ttlMs: number; fingerprint: string } | undefined,
  trace: Context,
): Promise<RouteAnswer> {
  const limit = maxMessageSize(ctx);
  // The API's own limit is the catalogue's tooBig refusal too: one policy, one answer (413).
  if (contentBytes(ctx.body) > limit)
    throw new IntakeRefusedError(refuse('tooBig', { reason: `the message is larger than ${limit} bytes` }));
  const input = sendInput(ctx.body, tenant);
  input.trace = trace;
  if (keep)
    input.idempotency = {
      scope: keep.scope,
      ttlMs: keep.ttlMs,
      answer: (result) => {
        const answer = answerOf(result, ctx.body);
        return stored(keep.fingerprint, answer.status, answer.body);
      },
    };
  const timeout = ctx.deps.api.redis_timeout * SEND_TIMEOUTS;
  let result: SendResult;
  try {
    result = await withDeadline(ctx.deps.herald.send(input), timeout, 'send');
  } catch (err) {
    if (err instanceof DeadlineExceeded) throw new SendTimeout();
    throw err;
  }
  const answer = answerOf(result, ctx.body);
  // Nothing was queued: no message id to name, only each recipient's refusal.
  if (answer.status === 422)
    throw new ApiError(422, 'HERALD_API_NO_RECIPIENT_ACCEPTED', 'every recipient was refused', {
      recipients: (answer.body as { recipients: unknown[] }).recipients,
    });
  return answer;
}

export const maxMessageSize = (ctx: Pick<Ctx, 'deps'>): number =>
  ctx.deps.api.max_message_size ?? ctx.deps.config.smtp.max_message_size;

/** Bytes a header field takes beside its name and value: ": " and CRLF. */
const HEADER_FIELD_OVERHEAD = 4;

/**
 * Bytes of the message's content as given (decoded): raw, or the extra headers, subject, text,
 * html and attachments (an estimate from below: MIME encoding only adds).
 */
export function contentBytes(body: SendBody): number {
  if (body.raw !== undefined)
    return body.raw_encoding === 'base64' ? base64Bytes(body.raw) : Buffer.byteLength(body.raw);
  let bytes = Buffer.byteLength(body.text ?? '') + Buffer.byteLength(body.html ?? '');
  if (body.subject !== undefined) bytes += Buffer.byteLength(body.subject) + HEADER_FIELD_OVERHEAD;
  for (const [name, value] of Object.entries(body.headers ?? {}))
    bytes += name.length + Buffer.byteLength(value) + HEADER_FIELD_OVERHEAD;
  for (const a of body.attachments ?? []) bytes += base64Bytes(a.content);
  return bytes;
}

/** The answer for a send's result: 202, or 422 when no recipient was accepted. */
function answerOf(result: SendResult, body: SendBody): RouteAnswer {
  const recipients = [
    ...result.accepted.map((address) => ({ address, accepted: true })),
    ...result.rejected.map((r) => ({
      address: r.address,
      accepted: false,
      code: r.code,
      enhanced: r.enhanced,
      reason: r.reason,
    })),
  ];
  // In the request's order (to, cc, bcc), whatever the intake's split into accepted and refused.
  const order = new Map<string, number>();
  for (const address of [body.to, body.cc ?? [], body.bcc ?? []].flat()) {
    const key = normaliseAddress(address);
    if (!order.has(key)) order.set(key, order.size);
  }
  const rank = (address: string) => order.get(normaliseAddress(address)) ?? order.size;
  recipients.sort((a, b) => rank(a.address) - rank(b.address));
  return {
    status: result.accepted.length > 0 ? 202 : 422,
    body: { id: result.messageId, message_id_header: result.messageIdHeader, recipients },
  };
}

/** The tenant the message belongs to: the key's, or for an admin key the `tenant` field. */
function tenantOf(ctx: Ctx): string {
  const { caller, body } = ctx;
  if (caller.kind === 'tenant') {
    if (body.tenant !== undefined && body.tenant !== caller.tenant)
      throw new ApiError(403, 'HERALD_API_FORBIDDEN', 'a tenant key sends only as its own tenant');
    return caller.tenant;
  }
  return body.tenant ?? DEFAULT_TENANT;
}

function idempotencyKey(ctx: Ctx): string | undefined {
  const value = ctx.request.headers[IDEMPOTENCY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value))
    throw new ApiError(400, 'HERALD_API_BAD_REQUEST', 'Idempotency-Key: 1 to 255 printable ASCII characters');
  return value;
}

/** The request as send() input; metadata becomes the X-Herald-Metadata header (form-encoded). */
export function sendInput(body: SendBody, tenant: string): SendInput {
  const metadata = body.metadata && metadataHeader(body.metadata);
  const envelope = {
    from: body.from,
    to: body.to,
    ...(body.cc !== undefined ? { cc: body.cc } : {}),
    ...(body.bcc !== undefined ? { bcc: body.bcc } : {}),
    tenant,
    ...(body.stream !== undefined ? { stream: body.stream } : {}),
    ...(body.campaign !== undefined ? { campaign: body.campaign } : {}),
    ...(body.dsn !== undefined ? { dsn: body.dsn } : {}),
  };
  if (body.raw !== undefined) {
    const raw = Buffer.from(body.raw, body.raw_encoding === 'base64' ? 'base64' : 'utf8');
    return {
      ...envelope,
      raw: metadata ? Buffer.concat([Buffer.from(`X-Herald-Metadata: ${metadata}\r\n`), raw]) : raw,
    };
  }
  const headers = { ...body.headers, ...(metadata ? { 'X-Herald-Metadata': metadata } : {}) };
  return {
    ...envelope,
    ...(body.reply_to !== undefined ? { replyTo: body.reply_to } : {}),
    ...(body.subject !== undefined ? { subject: body.subject } : {}),
    ...(body.text !== undefined ? { text: body.text } : {}),
    ...(body.html !== undefined ? { html: body.html } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(body.attachments
      ? {
          attachments: body.attachments.map((a) => ({
            filename: a.filename,
            content: Buffer.from(a.content, 'base64'),
            ...(a.content_type ? { contentType: a.content_type } : {}),
          })),
        }
      : {}),
  };
}

/**
 * Metadata as one ASCII header value, form-encoded (`order=42&name=Zo%C3%AB`): no quote or
 * non-ASCII character, so no MIME encoded-word; any URL query parser reads it back.
 */
export function metadataHeader(metadata: Record<string, string>): string {
  return new URLSearchParams(metadata).toString();
}

async function redisStep<T>(ctx: Ctx, work: Promise<T>): Promise<T> {
  try {
    return await withDeadline(work, ctx.deps.api.redis_timeout, 'Redis');
  } catch (err) {
    // A stable reason, never the client library's wording (logged instead).
    ctx.deps.logger.warn({ err }, 'api send: Redis step failed');
    throw unavailable(
      err instanceof DeadlineExceeded
        ? `Redis did not answer within ${ctx.deps.api.redis_timeout} ms`
        : 'Redis unavailable',
    );
  }
}

/**
 * A bookkeeping step after the answer is decided, within api.redis_timeout: its failure or a
 * stalled Redis must not change or delay the answer (an unsettled marker ends with its lease).
 */
async function settle(ctx: Ctx, work: Promise<unknown>): Promise<void> {
  await withDeadline(work, ctx.deps.api.redis_timeout, 'Redis').catch(() => {});
}
