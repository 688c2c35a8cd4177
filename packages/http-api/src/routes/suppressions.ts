/**
 * A tenant's suppression list over HTTP, as `herald suppression` manages it (the same
 * SuppressionList, CSV import/export and validation): list (paged, filtered by address prefix or
 * substring and reason), add (an operator's entry: source manual, replacing the one there), remove,
 * import CSV (`text/csv`, bounded) and export CSV (streamed). A tenant key acts on its own
 * tenant's list; an admin key on `?tenant=` (default "default").
 */
import { PassThrough, Readable } from 'node:stream';
import { parseHoldDuration } from '@herald/delivery-core';
import {
  CSV_COLUMNS,
  DEFAULT_MANUAL_REASON,
  SUPPRESSION_SOURCES,
  type SuppressionEntry,
} from '@herald/delivery-core/suppression';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { tenantName } from '../schemas.js';
import { scopedTenant } from '../scope.js';
import { searchSuppressions } from '../suppression-search.js';
import { BULK_TIMEOUT_MS, within } from '../within.js';

export const MAX_SUPPRESSION_PAGE = 1_000;
const DEFAULT_SUPPRESSION_PAGE = 100;
/** Largest CSV body an import takes (about 200 000 lines). */
export const MAX_IMPORT_BYTES = 16 * 1024 * 1024;
/** Bad lines an import answer lists at most (the count is always complete). */
const PROBLEMS_LISTED = 1_000;
const MAX_ADDRESS_CHARS = 998;

const tenantQuery = z.strictObject({
  tenant: tenantName.optional().describe('admin keys: the list of this tenant (default "default")'),
});

const entrySchema = z.object({
  address: z.string(),
  reason: z.string(),
  source: z.enum(SUPPRESSION_SOURCES),
  at: z.string().describe('ISO 8601: when it was suppressed'),
  expires_at: z.string().nullable().describe('ISO 8601; null: never'),
});

const asJson = (e: SuppressionEntry) => ({
  address: e.address,
  reason: e.reason,
  source: e.source,
  at: new Date(e.at).toISOString(),
  expires_at: e.expiresAt === undefined ? null : new Date(e.expiresAt).toISOString(),
});

function expiry(text: string | undefined, now: number): number | null {
  if (text === undefined || text === 'never') return null;
  try {
    return now + parseHoldDuration(text);
  } catch {
    throw new ApiError(
      400,
      'HERALD_API_BAD_REQUEST',
      `expires: expected a duration like 7d (at most 36500d) or "never"`,
    );
  }
}

export const suppressionRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/suppressions',
    auth: 'tenant',
    tag: 'suppressions',
    summary: "list a tenant's suppressed addresses (paged, filtered)",
    description:
      "Pages follow the list's scan: a page holds about `limit` entries (a little more, or fewer when a filter matches little); pass `next` as `cursor` until it is absent. An entry may repeat across pages.",
    query: tenantQuery.extend({
      prefix: z.string().min(1).max(MAX_ADDRESS_CHARS).optional().describe('addresses starting with this'),
      contains: z.string().min(1).max(MAX_ADDRESS_CHARS).optional().describe('addresses containing this'),
      reason: z.string().min(1).max(64).optional().describe('only entries with this reason'),
      limit: z.coerce.number().int().min(1).max(MAX_SUPPRESSION_PAGE).default(DEFAULT_SUPPRESSION_PAGE),
      cursor: z
        .string()
        .regex(/^\d{1,20}$/, { error: 'expected the `next` of a previous page' })
        .optional(),
    }),
    responses: {
      200: {
        description: 'a page of entries',
        schema: z.object({
          tenant: z.string(),
          entries: z.array(entrySchema),
          next: z.string().optional().describe('pass as `cursor` for the next page; absent on the last'),
        }),
      },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ query, caller, deps }) => {
      const tenant = scopedTenant(caller, query.tenant);
      const page = await within(
        deps,
        searchSuppressions(deps.herald.suppression, tenant, query, {
          cursor: query.cursor,
          limit: query.limit,
        }),
      );
      return {
        status: 200,
        body: { tenant, entries: page.entries.map(asJson), ...(page.next ? { next: page.next } : {}) },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/suppressions',
    auth: 'tenant',
    tag: 'suppressions',
    summary: 'suppress an address (source manual; replaces an entry there)',
    query: tenantQuery,
    body: z.strictObject({
      address: z.string().min(1).max(MAX_ADDRESS_CHARS),
      reason: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe(`a word: a-z 0-9 _ . - (default "${DEFAULT_MANUAL_REASON}")`),
      expires: z
        .string()
        .max(32)
        .optional()
        .describe('a duration (7d, 12h) after which it lifts; default never'),
    }),
    responses: {
      201: { description: 'suppressed', schema: entrySchema },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ query, body, caller, deps }) => {
      const tenant = scopedTenant(caller, query.tenant);
      const list = deps.herald.suppression;
      const input = {
        address: body.address,
        reason: body.reason ?? DEFAULT_MANUAL_REASON,
        source: 'manual' as const,
        expiresAt: expiry(body.expires, Date.now()),
      };
      const result = await within(deps, list.addMany(tenant, [input], { replace: true }));
      const bad = result.invalid[0];
      if (bad) throw new ApiError(400, 'HERALD_INPUT_INVALID', bad.problem);
      const entry = (await within(deps, list.check(tenant, [body.address]))).get(body.address);
      if (!entry) throw new ApiError(409, 'HERALD_API_CONFLICT', 'the entry was removed while being added');
      return { status: 201, body: asJson(entry) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/suppressions/:address',
    auth: 'tenant',
    tag: 'suppressions',
    summary: 'take an address off the list',
    params: z.strictObject({ address: z.string().min(1).max(MAX_ADDRESS_CHARS).describe('URL-encoded') }),
    query: tenantQuery,
    responses: {
      204: { description: 'removed' },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
      404: { description: 'the address was not suppressed (HERALD_API_NOT_FOUND)' },
    },
    handler: async ({ params, query, caller, deps }) => {
      const tenant = scopedTenant(caller, query.tenant);
      if (!(await within(deps, deps.herald.suppression.remove(tenant, params.address))))
        throw new ApiError(404, 'HERALD_API_NOT_FOUND', 'the address is not suppressed');
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/suppressions/import',
    auth: 'tenant',
    tag: 'suppressions',
    summary: 'import CSV (merging: an address suppressed for longer is kept)',
    query: tenantQuery,
    textBody: {
      contentType: 'text/csv',
      maxBytes: MAX_IMPORT_BYTES,
      description: `CSV with the header row ${CSV_COLUMNS.join(',')} (only address required; times ISO 8601; expires_at "never" or empty for the reason's default)`,
    },
    responses: {
      200: {
        description: 'imported; bad lines are listed by number, the rest imported',
        schema: z.object({
          tenant: z.string(),
          rows: z.number().int(),
          written: z.number().int(),
          kept: z.number().int().describe('already suppressed for at least as long'),
          expired: z.number().int(),
          problems: z.array(z.object({ line: z.number().int(), message: z.string() })),
          problems_total: z.number().int(),
        }),
      },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
      413: { description: `the body is over ${MAX_IMPORT_BYTES} bytes (HERALD_API_TOO_LARGE)` },
      415: { description: 'not text/csv (HERALD_API_BAD_REQUEST)' },
      422: { description: 'no row could be read: no or a bad header row (HERALD_INPUT_INVALID)' },
    },
    handler: async ({ query, body, caller, deps }) => {
      const tenant = scopedTenant(caller, query.tenant);
      const csv = body as Buffer;
      const result = await within(
        deps,
        deps.herald.suppression.importCsv(tenant, Readable.from([csv])),
        BULK_TIMEOUT_MS,
      );
      const problems = result.problems.slice(0, PROBLEMS_LISTED);
      if (result.rows === 0 && result.problems.length > 0)
        throw new ApiError(
          422,
          'HERALD_INPUT_INVALID',
          `nothing imported: line ${problems[0]?.line}: ${problems[0]?.message}`,
          {
            problems,
          },
        );
      return {
        status: 200,
        body: { tenant, ...result, problems, problems_total: result.problems.length },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/suppressions/export',
    auth: 'tenant',
    tag: 'suppressions',
    summary: 'export the list as CSV (streamed)',
    query: tenantQuery,
    responses: {
      200: {
        description: `CSV: ${CSV_COLUMNS.join(',')}`,
        contentType: 'text/csv',
        schema: z.string(),
      },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ query, caller, deps }) => {
      const tenant = scopedTenant(caller, query.tenant);
      const list = deps.herald.suppression;
      // Fail before the first byte when Redis is down; after it, a failure cuts the stream.
      await within(deps, list.count(tenant));
      const out = new PassThrough();
      // The response starts with the export's first write (or its end): a failure before it is
      // answered as an error of the API's own shape, one after it cuts the stream.
      let wrote = false;
      let started: () => void = () => {};
      const firstWrite = new Promise<void>((resolve) => {
        started = resolve;
      });
      // A client that goes away closes the stream: the export stops at its next write.
      const sink = {
        write(chunk: string) {
          if (out.destroyed) throw new Error('the client went away');
          wrote = true;
          started();
          return out.write(chunk);
        },
        once(_event: 'drain', listener: () => void) {
          out.once('drain', listener).once('close', listener);
        },
      };
      const exported = list.exportCsv(tenant, sink).then(
        () => out.end(),
        (err: Error) => {
          deps.logger.warn({ err: err.message, tenant }, 'suppression export failed');
          // Before the first write nobody reads `out` yet: the error goes to the caller instead.
          if (wrote) out.destroy(err);
          else out.destroy();
          throw err;
        },
      );
      // Settles with the first write, the end, or a failure before the first write.
      await within(deps, Promise.race([firstWrite, exported]), BULK_TIMEOUT_MS);
      exported.catch(() => {});
      return {
        status: 200,
        body: out,
        headers: {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="suppressions-${tenant}.csv"`,
        },
      };
    },
  }),
];
