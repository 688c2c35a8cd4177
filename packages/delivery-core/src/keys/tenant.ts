/**
 * Per-tenant keys outside the queue slot. A tenant's suppression list is two keys that one Lua
 * script writes together, so both carry the tenant as hash tag (`{<tenant>}`: one slot per
 * tenant). The pause flag is used alone and has no tag. Pure key math.
 */

export interface SuppressionKeys {
  /** Lower-cased address → JSON entry (hash). */
  entries(tenant: string): string;
  /** Soft entries by expiry (sorted set). */
  expiries(tenant: string): string;
}

export function suppressionKeys(prefix: string): SuppressionKeys {
  return {
    entries: (tenant) => `${prefix}:suppress:{${tenant}}`,
    expiries: (tenant) => `${prefix}:suppress-expiry:{${tenant}}`,
  };
}

/** JSON {reason, at} while the tenant's bulk mail is paused (string, no expiry). */
export function tenantPausedKey(prefix: string, tenant: string): string {
  return `${prefix}:tenant:${tenant.toLowerCase()}:paused`;
}
