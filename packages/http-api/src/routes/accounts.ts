/**
 * Accounts (compromised-account detection, config `behaviour`; `herald.behaviour`, the same data
 * as `herald account`), admin keys only: `GET /v1/accounts` lists the flagged accounts with what
 * each holds, `GET /v1/accounts/{account}` shows an account's counts as its rules read them, its
 * flag and what it holds against the caps (`held`),
 * `POST …/unflag` lifts a flag (its new mail is accepted again; held mail stays held) and
 * `POST …/release` releases every message held for it. Without a `behaviour` section: 404
 * HERALD_BEHAVIOUR_OFF.
 */
import type { AccountFlag, Behaviour, HeldState } from '@herald/delivery-core/behaviour';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import type { ApiDeps } from '../route.js';
import { actorOf, defineRoute } from '../route.js';
import { BULK_TIMEOUT_MS, within } from '../within.js';

/**
 * Longest account name the path takes (characters): an SMTP user name or a tenant, which may hold
 * spaces, colons and any printable character, so every listed account can be managed.
 */
const MAX_ACCOUNT_CHARS = 320;
/** No C0/C1 control characters (the path is percent-decoded before this is checked). */
const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]+$/u;
const params = z.strictObject({
  account: z
    .string()
    .min(1)
    .max(MAX_ACCOUNT_CHARS)
    .regex(NO_CONTROL_CHARACTERS, { error: 'expected an account name without control characters' })
    .describe('an SMTP user name, or a tenant (percent-encoded in the path)'),
});

const heldSchema = z
  .object({
    messages: z.number().describe('messages held in this flag episode'),
    bytes: z.number().describe('their bytes'),
    max_messages: z.number().describe('behaviour.max_held_messages'),
    max_bytes: z.number().describe('behaviour.max_held_bytes'),
    cap_reached: z
      .enum(['messages', 'bytes'])
      .nullable()
      .describe("the cap reached (flagged only): the account's new mail is refused 451 4.7.1"),
  })
  .describe('what the account holds in quarantine in its flag episode');

const asHeld = (h: HeldState) => ({
  messages: h.messages,
  bytes: h.bytes,
  max_messages: h.maxMessages,
  max_bytes: h.maxBytes,
  cap_reached: h.capReached ?? null,
});

const flagSchema = z.object({
  account: z.string(),
  tenant: z.string(),
  rule: z.string().describe('volume_spike, domain_spread, bounce_spike or complaint_spike'),
  reason: z.string(),
  figures: z.record(z.string(), z.number()),
  since: z.string().describe('ISO 8601'),
});

const asFlag = (f: AccountFlag) => ({
  account: f.account,
  tenant: f.tenant,
  rule: f.rule,
  reason: f.reason,
  figures: f.figures,
  since: new Date(f.since).toISOString(),
});

const statusSchema = z.object({
  account: z.string(),
  rules: z.record(z.string(), z.unknown()).describe('the rules in force for it (durations in ms)'),
  figures: z.object({
    recipients_per_minute: z.array(z.number()).describe('accepted recipients, newest minute first'),
    hard_per_minute: z.array(z.number()),
    complaints_per_minute: z.array(z.number()),
    recipients_per_hour: z.array(z.number()),
    domains: z.number().describe('distinct recipient domains in the domain_spread window'),
  }),
  flag: flagSchema.nullable(),
  held: heldSchema,
});

function watching(deps: ApiDeps): Behaviour {
  const behaviour = deps.herald.behaviour;
  if (!behaviour)
    throw new ApiError(
      404,
      'HERALD_BEHAVIOUR_OFF',
      'the config has no behaviour section: no account is watched',
    );
  return behaviour;
}

export const accountRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/accounts',
    auth: 'admin',
    tag: 'accounts',
    summary: 'the flagged accounts, oldest flag first',
    responses: {
      200: {
        description: 'read now',
        schema: z.object({ accounts: z.array(flagSchema.extend({ held: heldSchema })) }),
      },
      404: { description: 'no behaviour section (HERALD_BEHAVIOUR_OFF)' },
    },
    handler: async ({ deps }) => {
      const flags = await within(deps, watching(deps).flagged());
      return { status: 200, body: { accounts: flags.map((f) => ({ ...asFlag(f), held: asHeld(f.held) })) } };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/accounts/:account',
    auth: 'admin',
    tag: 'accounts',
    summary: "an account's counts over its rules' windows, and its flag",
    params,
    responses: {
      200: { description: 'read now', schema: statusSchema },
      404: { description: 'no behaviour section (HERALD_BEHAVIOUR_OFF)' },
    },
    handler: async ({ params, deps }) => {
      const {
        account,
        rules,
        figures: f,
        flag,
        held,
      } = await within(deps, watching(deps).status(params.account));
      return {
        status: 200,
        body: {
          account,
          rules: rules as Record<string, unknown>,
          figures: {
            recipients_per_minute: f.recipients,
            hard_per_minute: f.hard,
            complaints_per_minute: f.complaints,
            recipients_per_hour: f.hourly,
            domains: f.domains,
          },
          flag: flag ? asFlag(flag) : null,
          held: asHeld(held),
        },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/accounts/:account/unflag',
    auth: 'admin',
    tag: 'accounts',
    summary: "lift an account's flag: its new mail is accepted again (held mail stays held)",
    params,
    responses: {
      200: {
        description: '`changed` false: it was not flagged',
        schema: z.object({ account: z.string(), flagged: z.literal(false), changed: z.boolean() }),
      },
      404: { description: 'no behaviour section (HERALD_BEHAVIOUR_OFF)' },
    },
    handler: async ({ params, caller, deps }) => {
      const flag = await within(deps, watching(deps).unflag(params.account, actorOf(caller)));
      return {
        status: 200,
        body: { account: params.account.toLowerCase(), flagged: false, changed: !!flag },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/accounts/:account/release',
    auth: 'admin',
    tag: 'accounts',
    summary: 'release every message held for the account (delivered as if just accepted)',
    params,
    responses: {
      200: {
        description: 'the ids released',
        schema: z.object({ account: z.string(), released: z.array(z.string()) }),
      },
      404: { description: 'no behaviour section (HERALD_BEHAVIOUR_OFF)' },
    },
    handler: async ({ params, caller, deps }) => {
      watching(deps);
      const released = await within(
        deps,
        deps.herald.quarantine.releaseAccount(params.account, actorOf(caller)),
        BULK_TIMEOUT_MS,
      );
      return { status: 200, body: { account: params.account.toLowerCase(), released } };
    },
  }),
];
