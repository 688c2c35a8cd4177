/**
 * What a change of shaping file does to each site's limits, before it is applied (`herald shaping
 * diff OLD NEW`): for every provider, site and domain either file names, the effective limits
 * under each file (over the same built-in layer), and each limit whose value or layer changes,
 * old → new with the layer that sets it. Plus tenant rates and the automation rule count.
 * Pure; equal files give no changes.
 */
import { effectiveLimits, type LimitOrigin, type ShapingTarget } from './effective.js';
import { describeTenantRates, formatLimitValue } from './format.js';
import type { Shaping } from './schema.js';

export interface LimitChange {
  key: LimitOrigin['key'];
  /** Formatted as `herald shaping check` prints it ("unlimited", "5/s", "10m"). */
  old: string;
  new: string;
  oldLayer: string;
  newLayer: string;
}

export interface TargetDiff {
  /** `provider:<name>`, the site's name, or `domain:<name>`. */
  target: string;
  /** Named only by the old file (`removed`), only by the new (`added`), or by both. */
  presence: 'both' | 'added' | 'removed';
  changes: LimitChange[];
}

export interface ShapingDiff {
  /** Targets whose effective limits change, in name order. */
  targets: TargetDiff[];
  unchanged: number;
  /** Tenant rate changes: `name: old → new`. */
  tenants: string[];
  /** Rule counts, and whether the rules differ at all. */
  automation: { old: number; new: number; changed: boolean };
}

interface NamedTarget {
  name: string;
  target: ShapingTarget;
}

const PROVIDER = 'provider:';

function targetsOf(shaping: Shaping): NamedTarget[] {
  const providers = Object.keys(shaping.providers).map((name) => ({
    name: `${PROVIDER}${name}`,
    target: { domain: '', site: `${PROVIDER}${name}`, provider: name },
  }));
  const sites = Object.keys(shaping.sites).map((name) => ({
    name,
    target: {
      domain: '',
      site: name,
      ...(name.startsWith(PROVIDER) ? { provider: name.slice(PROVIDER.length) } : {}),
    },
  }));
  const domains = Object.keys(shaping.domains).map((name) => ({
    name: `domain:${name}`,
    target: { domain: name },
  }));
  return [...providers, ...sites, ...domains];
}

function limitChanges(before: Shaping, after: Shaping, target: ShapingTarget): LimitChange[] {
  const old = effectiveLimits(before, target).explain;
  const next = effectiveLimits(after, target).explain;
  return old.flatMap((origin, i) => {
    const now = next[i]!;
    const change = {
      key: origin.key,
      old: formatLimitValue(origin),
      new: formatLimitValue(now),
      oldLayer: origin.from,
      newLayer: now.from,
    };
    return change.old === change.new && change.oldLayer === change.newLayer ? [] : [change];
  });
}

function tenantRates(shaping: Shaping): Map<string, string> {
  return new Map(Object.entries(shaping.tenants).map(([name, t]) => [name, describeTenantRates(t)]));
}

export function diffShaping(before: Shaping, after: Shaping): ShapingDiff {
  const oldNames = new Map(targetsOf(before).map((t) => [t.name, t.target]));
  const newNames = new Map(targetsOf(after).map((t) => [t.name, t.target]));
  const names = [...new Set([...oldNames.keys(), ...newNames.keys()])].sort();
  const targets: TargetDiff[] = [];
  for (const name of names) {
    const target = (newNames.get(name) ?? oldNames.get(name))!;
    const presence = !oldNames.has(name) ? 'added' : !newNames.has(name) ? 'removed' : 'both';
    const changes = limitChanges(before, after, target);
    if (changes.length > 0) targets.push({ target: name, presence, changes });
  }
  const oldTenants = tenantRates(before);
  const newTenants = tenantRates(after);
  const tenants = [...new Set([...oldTenants.keys(), ...newTenants.keys()])].sort().flatMap((name) => {
    const was = oldTenants.get(name) ?? '(none)';
    const now = newTenants.get(name) ?? '(none)';
    return was === now ? [] : [`${name}: ${was} → ${now}`];
  });
  return {
    targets,
    unchanged: names.length - targets.length,
    tenants,
    automation: {
      old: before.automation.length,
      new: after.automation.length,
      changed: JSON.stringify(before.automation) !== JSON.stringify(after.automation),
    },
  };
}

/** True when the new file changes nothing the diff looks at. */
export function isEmptyDiff(diff: ShapingDiff): boolean {
  return diff.targets.length === 0 && diff.tenants.length === 0 && !diff.automation.changed;
}
