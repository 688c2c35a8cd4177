/**
 * What a new config file does to a running one: which changed key paths apply live and which
 * need a restart. Policy as data: LIVE_PATHS lists the sections a reload swaps in place; every
 * other changed path is reported as "needs restart" and the running value is kept. Values are
 * never quoted (a path may hold a secret), only their paths.
 */
import { deepFreeze, type HeraldConfig } from '../config/index.js';

/** The config sections a running relay takes from a reloaded file (each with what reads it). */
export const LIVE_PATHS = [
  /** The shaping file and its provider defaults: gates, explain, live state. */
  'shaping',
  /** Per-tenant policy: intake, feedback thresholds, tenant status. */
  'tenants',
  /** DKIM keys: intake's signer (keys re-read from their files). */
  'dkim',
  /** SMTP submission users: AUTH of new sessions. */
  'smtp.users',
  /** Static routes: the next attempt's route. */
  'routes',
] as const;

export type LivePath = (typeof LIVE_PATHS)[number];

/**
 * What the bounce-processor also takes live: the VERP keys (a new secret is accepted at the next
 * RCPT, so it can learn a rotated secret before the relays sign with it), the token age limit
 * and the complaint address. The relays keep these until a restart (they sign with the secret
 * they started with). `bounce.listen` / `http_listen` / `domain` need a restart everywhere.
 */
export const BOUNCE_PROCESSOR_LIVE_PATHS = [
  ...LIVE_PATHS,
  'bounce.verp_secret',
  'bounce.verp_previous_secrets',
  'bounce.verp_max_age',
  'bounce.complaint_address',
] as const;

/** Changed paths are reported at most this deep (`smtp.client_limits.max_connections`). */
const MAX_REPORT_DEPTH = 3;

export interface ReloadPlan {
  /** The running config with the live sections of the new file: what the process runs next. */
  effective: HeraldConfig;
  /** Live sections that differ, in the order of the live paths. */
  applied: string[];
  /** Other changed key paths, sorted: kept as they run until a restart. */
  needsRestart: string[];
}

/** `live`: the paths this process takes from the new file (default LIVE_PATHS, a relay's). */
export function planReload(
  running: HeraldConfig,
  next: HeraldConfig,
  live: readonly string[] = LIVE_PATHS,
): ReloadPlan {
  const applied = live.filter((path) => !sameValue(at(running, path), at(next, path)));
  const changed = new Set<string>();
  collectChanges(running, next, [], changed);
  const needsRestart = [...changed]
    .filter((path) => !live.some((p) => path === p || path.startsWith(`${p}.`)))
    .sort();
  const effective = structuredClone(running) as Record<string, unknown>;
  for (const path of live) setAt(effective, path, structuredClone(at(next, path)));
  return { effective: deepFreeze(effective) as unknown as HeraldConfig, applied, needsRestart };
}

function at(value: unknown, path: string): unknown {
  let node = value;
  for (const part of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return node;
}

function setAt(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    // A section the running config lacks (e.g. `bounce`) is not created by one of its keys.
    if (!isObject(node[part])) return;
    node = node[part] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function collectChanges(a: unknown, b: unknown, path: string[], out: Set<string>): void {
  if (sameValue(a, b)) return;
  if (isObject(a) && isObject(b) && path.length < MAX_REPORT_DEPTH) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      collectChanges(a[key], b[key], [...path, key], out);
    return;
  }
  out.add(path.join('.'));
}
