/**
 * `POST /v1/messages`: one message into the intake pipeline (herald.send: the same stages as SMTP),
 * structured (from, to, cc, bcc, subject, text, html, headers, attachments) or `raw` (RFC 5322).
 * 202 with the message id and each recipient's acceptance, only after Redis acknowledged the
 * enqueue; an `Idempotency-Key` replays the first answer (send-flow.ts).
 */
import { z } from 'zod';
import { isBase64 } from '../base64.js';
import { defineRoute } from '../route.js';
import {
  address,
  addressList,
  headerName,
  headerText,
  INJECTION_MESSAGE,
  tenantName,
  trafficName,
} from '../schemas.js';
import { sendMessage } from '../send-flow.js';

export const MAX_ATTACHMENTS = 100;
export const MAX_METADATA_ENTRIES = 20;
export const MAX_EXTRA_HEADERS = 100;
const BASE64_EXPECTED = 'expected base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)';

/**
 * Header fields the structured fields own (or the relay writes): in `headers` they are a 400
 * naming the header, never silently dropped or doubled.
 */
export const OWNED_HEADERS: Readonly<Record<string, string>> = {
  from: 'use `from`',
  to: 'use `to`',
  cc: 'use `cc`',
  bcc: 'use `bcc`',
  subject: 'use `subject`',
  'reply-to': 'use `reply_to`',
  'message-id': 'Herald writes it',
  date: 'Herald writes it',
  'mime-version': 'Herald writes it',
  'content-type': 'set by `text`, `html` and `attachments`',
  'content-transfer-encoding': 'set by `text`, `html` and `attachments`',
  received: 'Herald writes it',
  'dkim-signature': 'Herald signs the message',
  'authentication-results': 'the receiving MTA writes it',
  'return-path': 'the envelope sender is `from`',
  'x-herald-stream': 'use `stream`',
  'x-herald-campaign': 'use `campaign`',
  'x-herald-metadata': 'use `metadata`',
};

/**
 * Name prefixes of header fields `headers` may not set either: Herald's own fields (those above
 * come from structured fields; any other X-Herald-* is Herald's to write), and ARC sets
 * (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results: written by forwarding MTAs).
 */
export const OWNED_HEADER_PREFIXES: Readonly<Record<string, string>> = {
  'x-herald-': "X-Herald-* fields are Herald's own",
  'arc-': 'ARC sets are written by the MTAs that forward a message',
};

/** Why `headers` may not set `name`, or undefined. */
export function ownedHeader(name: string): string | undefined {
  const lower = name.toLowerCase();
  const owner = OWNED_HEADERS[lower];
  if (owner) return owner;
  const prefix = Object.keys(OWNED_HEADER_PREFIXES).find((p) => lower.startsWith(p));
  return prefix === undefined ? undefined : OWNED_HEADER_PREFIXES[prefix];
}

const attachment = z.strictObject({
  filename: headerText(255).min(1),
  content: z.string().refine(isBase64, { error: BASE64_EXPECTED }).describe('the content, base64'),
  content_type: headerText(255).min(1).optional(),
});

export const sendBodySchema = z
  .strictObject({
    from: address
      .describe('envelope sender and From (structured); "" or "<>" is the null sender')
      .or(z.literal('')),
    to: addressList.describe('recipients (envelope and To)'),
    cc: addressList.optional().describe('recipients (envelope and Cc)'),
    bcc: addressList.optional().describe('recipients (envelope only, never a header)'),
    reply_to: address.optional(),
    subject: headerText().optional(),
    text: z.string().optional(),
    html: z.string().optional(),
    headers: z
      .record(headerName, headerText())
      .optional()
      .describe(
        `up to ${MAX_EXTRA_HEADERS} extra header fields, name → value; not the fields the structured ones own (From, To, Subject, …, X-Herald-Stream: use \`stream\`), nor any other X-Herald-*, Authentication-Results, ARC-* or DKIM-Signature`,
      ),
    attachments: z.array(attachment).max(MAX_ATTACHMENTS).optional(),
    raw: z.string().min(1).optional().describe('a complete RFC 5322 message instead of the fields above'),
    raw_encoding: z.enum(['utf8', 'base64']).optional().describe('how `raw` is given (default utf8)'),
    tenant: tenantName
      .optional()
      .describe('admin keys only (default "default"); a tenant key sends as its tenant'),
    stream: trafficName.optional(),
    campaign: trafficName.optional(),
    dsn: z
      .strictObject({
        notify: z
          .array(z.enum(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']))
          .min(1)
          .optional()
          .describe('RFC 3461 NOTIFY for every recipient: ["NEVER"] or any of SUCCESS, FAILURE, DELAY'),
        ret: z
          .enum(['FULL', 'HDRS'])
          .optional()
          .describe('RFC 3461 RET: return the full message or its headers'),
        envid: z
          .string()
          .regex(/^[\x21-\x7e]{1,100}$/, { error: 'printable US-ASCII, no spaces, at most 100 characters' })
          .optional()
          .describe('RFC 3461 ENVID, echoed as Original-Envelope-Id'),
        orcpt: z
          .record(z.string(), z.string().max(500))
          .optional()
          .describe('RFC 3461 ORCPT per recipient: address → "rfc822;original@example.com"'),
      })
      .optional()
      .describe('delivery status notifications wanted (the SMTP DSN parameters)'),
    metadata: z
      .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), headerText(256))
      .optional()
      .describe(
        `up to ${MAX_METADATA_ENTRIES} string pairs, carried in the message as X-Herald-Metadata, form-encoded (order=42&name=Zo%C3%AB)`,
      ),
  })
  .superRefine((body, ctx) => {
    if (body.raw !== undefined)
      for (const key of ['subject', 'text', 'html', 'headers', 'attachments', 'reply_to'] as const)
        if (body[key] !== undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: 'not with raw (raw is the whole message)' });
    if (body.raw === undefined && body.raw_encoding !== undefined)
      ctx.addIssue({ code: 'custom', path: ['raw_encoding'], message: 'only with raw' });
    if (body.raw !== undefined && body.raw_encoding === 'base64' && !isBase64(body.raw))
      ctx.addIssue({ code: 'custom', path: ['raw'], message: BASE64_EXPECTED });
    const names = Object.keys(body.headers ?? {});
    if (names.length > MAX_EXTRA_HEADERS)
      ctx.addIssue({
        code: 'custom',
        path: ['headers'],
        message: `at most ${MAX_EXTRA_HEADERS} header fields`,
      });
    for (const name of names.slice(0, MAX_EXTRA_HEADERS)) {
      const owner = ownedHeader(name);
      if (owner)
        ctx.addIssue({
          code: 'custom',
          path: ['headers', name],
          message: `${name} is not an extra header: ${owner}`,
        });
    }
    const notify = body.dsn?.notify;
    if (notify?.includes('NEVER') && notify.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['dsn', 'notify'],
        message: 'NEVER cannot be combined with other values',
      });
    if (body.metadata && Object.keys(body.metadata).length > MAX_METADATA_ENTRIES)
      ctx.addIssue({
        code: 'custom',
        path: ['metadata'],
        message: `at most ${MAX_METADATA_ENTRIES} entries`,
      });
  })
  .describe(`a message; any header-bound field refuses control characters (${INJECTION_MESSAGE})`);

export type SendBody = z.output<typeof sendBodySchema>;

const recipientSchema = z.object({
  address: z.string(),
  accepted: z.boolean(),
  code: z.number().int().optional().describe('SMTP reply code of a refused recipient'),
  enhanced: z.string().optional().describe('enhanced status code of a refused recipient'),
  reason: z.string().optional(),
});

export const sendAnswerSchema = z.object({
  id: z.string().describe("Herald's message id"),
  message_id_header: z.string().describe('the Message-ID header of the spooled message'),
  recipients: z.array(recipientSchema),
});

export const IDEMPOTENCY_HEADER = 'idempotency-key';

export const messageRoutes = [
  defineRoute({
    method: 'POST',
    url: '/v1/messages',
    auth: 'tenant',
    tag: 'messages',
    summary: 'send a message',
    description:
      'Runs the intake pipeline (suppression, sender domains, DMARC pre-check, size, DKIM) and answers 202 once Redis acknowledged the enqueue.',
    body: sendBodySchema,
    headers: [
      {
        name: 'Idempotency-Key',
        description:
          'up to 255 printable characters; the same key (per tenant) within api.idempotency_ttl replays the first answer',
        schema: z.string().max(255),
      },
    ],
    responses: {
      202: { description: 'accepted and spooled', schema: sendAnswerSchema },
      403: {
        description:
          'sender/From domain not allowed, DMARC would fail, or another tenant (HERALD_SEND_*, HERALD_API_FORBIDDEN)',
      },
      409: { description: 'the same Idempotency-Key is in flight (HERALD_API_IDEMPOTENCY_CONFLICT)' },
      413: { description: 'the message is too large (HERALD_SEND_TOO_BIG, HERALD_API_TOO_LARGE)' },
      422: {
        description:
          'every recipient refused (HERALD_API_NO_RECIPIENT_ACCEPTED), or an Idempotency-Key reused with another body (HERALD_API_IDEMPOTENCY_MISMATCH)',
      },
    },
    handler: (ctx) => sendMessage(ctx),
  }),
];
