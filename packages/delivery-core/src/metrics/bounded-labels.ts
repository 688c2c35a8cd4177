/**
 * Bounded label values for per-site and per-tenant metrics, so one relay's series stay countable
 * whatever the traffic. Owns: the caps (named constants below) and the `other` bucket.
 * Guarantees: a `LabelCap` hands out at most `cap` distinct values plus OTHER_LABEL (values kept
 * first-come until the process restarts, except those `pinned` says are bounded elsewhere, e.g.
 * the shaping file's provider sites); `topN` keeps the `cap` largest entries of a gauge and sums
 * the rest into OTHER_LABEL. Needs injected: nothing.
 */

/** Distinct `site` label values per metric family (shaping-file providers do not count). */
export const MAX_SITE_LABELS = 50;
/** Distinct `tenant` label values per metric family. */
export const MAX_TENANT_LABELS = 50;
/** Distinct `endpoint` label values of the webhook outbox gauge (the deepest kept). */
export const MAX_ENDPOINT_LABELS = 50;
/** The label value every series past a cap is counted under. */
export const OTHER_LABEL = 'other';
/** The site label of a delivery that never reached a site (DNS failure before admission). */
export const NO_SITE_LABEL = 'none';

export class LabelCap {
  private readonly kept = new Set<string>();

  constructor(
    readonly cap: number,
    /** Values bounded by something else (a config file): always their own label, not counted. */
    private readonly pinned: (value: string) => boolean = () => false,
  ) {}

  /** `value` itself while there is room (or it already has a series, or is pinned), else `other`. */
  label(value: string): string {
    if (this.kept.has(value) || this.pinned(value)) return value;
    if (this.kept.size >= this.cap) return OTHER_LABEL;
    this.kept.add(value);
    return value;
  }
}

/** A site cap where `provider:<name>` sites (one per shaping-file provider) are always named. */
export function siteLabelCap(cap = MAX_SITE_LABELS): LabelCap {
  return new LabelCap(cap, (site) => site.startsWith('provider:'));
}

/**
 * The `cap` entries with the largest `weight`, and the rest merged into one OTHER_LABEL entry with
 * `merge` (absent when nothing was left over).
 */
export function topN<T>(
  entries: readonly [string, T][],
  cap: number,
  weight: (value: T) => number,
  merge: (a: T, b: T) => T,
): [string, T][] {
  if (entries.length <= cap) return [...entries];
  const sorted = [...entries].sort((a, b) => weight(b[1]) - weight(a[1]));
  const kept = sorted.slice(0, cap);
  const rest = sorted.slice(cap);
  let other = rest[0]![1];
  for (const [, value] of rest.slice(1)) other = merge(other, value);
  const existing = kept.findIndex(([label]) => label === OTHER_LABEL);
  if (existing >= 0) kept[existing] = [OTHER_LABEL, merge(kept[existing]![1], other)];
  else kept.push([OTHER_LABEL, other]);
  return kept;
}
