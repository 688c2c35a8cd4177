/**
 * The `scanning` section (content scanning of submitted mail through rspamd's `/checkv2`, scan/)
 * and the `quarantine` section (held messages, quarantine/). `scanning` absent = no scanning.
 * Actions are per tenant by score: `actions.default` for every tenant without its own entry; an
 * entry replaces the default whole (a threshold left out means that action never applies).
 */
import { z } from 'zod';
import { duration, oneOf, section, text, timerDuration } from './fields.js';
import type { DeepReadonly } from './readonly.js';

/** What a scanner that is down or too slow means: accept the message (open) or answer 451 4.7.1 (closed). */
export const SCAN_FAIL_MODES = ['open', 'closed'] as const;
/**
 * Who hears of a held message that is deleted: `never`; `expiry` (a failure DSN to the sender when
 * the retention sweep deletes it); `always` (an operator's delete too).
 */
export const QUARANTINE_NOTIFY_MODES = ['never', 'expiry', 'always'] as const;
const TENANT_OR_DEFAULT = /^[a-z0-9][a-z0-9_.-]*$/i;

function httpUrl() {
  const message = 'expected an http:// URL (rspamd normal worker, e.g. http://127.0.0.1:11333)';
  return z
    .string({ error: message })
    .refine((url) => URL.canParse(url) && new URL(url).protocol === 'http:' && new URL(url).hostname !== '', {
      error: message,
    });
}

function score() {
  return z.number({ error: 'expected a score (a number)' }).finite();
}

/** Score thresholds: at or above `reject` 550 5.7.1, else `quarantine`, else `add_header`, else accepted. */
export const scanActionsSchema = section({
  add_header: score().optional(),
  quarantine: score().optional(),
  reject: score().optional(),
}).superRefine((t, ctx) => {
  const order = (['add_header', 'quarantine', 'reject'] as const).filter((k) => t[k] !== undefined);
  for (let i = 1; i < order.length; i++) {
    const low = order[i - 1] as (typeof order)[number];
    const high = order[i] as (typeof order)[number];
    if ((t[high] as number) < (t[low] as number))
      ctx.addIssue({
        code: 'custom',
        path: [high],
        message: `expected at least ${low} (${t[low]})`,
        input: undefined,
      });
  }
});

/** rspamd's own defaults for add header and reject, with quarantine between them. */
export const DEFAULT_SCAN_ACTIONS = { add_header: 6, quarantine: 10, reject: 15 } as const;

export const scanningSchema = section({
  rspamd: section({
    /** The normal worker's base URL; Herald POSTs to `<url>/checkv2`. */
    url: httpUrl(),
    /** The whole scan's deadline (connect, send, answer). */
    timeout: timerDuration().prefault('5s'),
    /** Sent as rspamd's `Password` header (a proxy or controller that asks for one). */
    password: text().optional(),
  }),
  fail: oneOf(SCAN_FAIL_MODES).default('open'),
  actions: z
    .record(z.string(), scanActionsSchema, {
      error: 'expected a mapping of tenant names (or default) to thresholds',
    })
    .superRefine((map, ctx) => {
      for (const key of Object.keys(map))
        if (!TENANT_OR_DEFAULT.test(key))
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'expected default or a tenant name',
            input: undefined,
          });
    })
    .default({ default: { ...DEFAULT_SCAN_ACTIONS } }),
});

export const quarantineSchema = section({
  /** How long a held message is kept; then it is deleted (each recipient ends `bounced`, operator delete). */
  retention: duration().prefault('30d'),
  /** How often one relay (a lease) sweeps expired messages. */
  sweep_interval: timerDuration().prefault('1h'),
  /**
   * A failure DSN (RFC 3464) to the sender of a held message that is deleted: `expiry` = only when
   * the retention passes (nobody decided; the sender learns the mail went nowhere), `always` = an
   * operator's delete too, `never`. Honours NOTIFY and the tenant's `dsn`; never to the null sender.
   */
  notify_sender: oneOf(QUARANTINE_NOTIFY_MODES).default('expiry'),
});

export type ScanningConfig = DeepReadonly<z.output<typeof scanningSchema>>;
export type ScanActions = DeepReadonly<z.output<typeof scanActionsSchema>>;

/** The thresholds in force for a tenant: its entry (names compare case-insensitively), else `default`, else none. */
export function scanActionsFor(scanning: ScanningConfig, tenant: string): ScanActions {
  const lower = tenant.toLowerCase();
  for (const [name, actions] of Object.entries(scanning.actions))
    if (name.toLowerCase() === lower) return actions;
  return scanning.actions.default ?? {};
}
