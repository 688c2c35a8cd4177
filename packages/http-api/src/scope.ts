/**
 * Which tenant a tenant-scoped request acts on: a tenant key always acts on its own tenant (naming
 * another is 403, never a silent switch); an admin key on the tenant it names, else "default".
 * `canRead` is the check for a resource found by id (a message, an endpoint): a tenant key reading
 * another tenant's is told 404, as for an unknown id, so existence is never revealed.
 */
import { DEFAULT_TENANT, isTenantName } from '@herald/delivery-core/config';
import { ApiError } from './errors.js';
import type { Caller } from './route.js';

/** The tenant the request acts on; throws 400 for an impossible name, 403 for another tenant. */
export function scopedTenant(caller: Caller, requested: string | undefined): string {
  if (caller.kind === 'tenant') {
    if (requested !== undefined && requested !== caller.tenant)
      throw new ApiError(
        403,
        'HERALD_API_FORBIDDEN',
        "a tenant key reads and changes only its own tenant's data",
      );
    return caller.tenant;
  }
  return requested === undefined ? DEFAULT_TENANT : tenantNamed(requested);
}

/**
 * For a read over every tenant unless narrowed (events, webhook endpoints): a tenant key's own
 * tenant, an admin key's named one, or undefined (an admin naming none reads them all).
 */
export function tenantFilter(caller: Caller, requested: string | undefined): string | undefined {
  return caller.kind === 'tenant' || requested !== undefined ? scopedTenant(caller, requested) : undefined;
}

/** `name` when a tenant can have it, else 400. */
export function tenantNamed(name: string): string {
  if (isTenantName(name)) return name;
  throw new ApiError(
    400,
    'HERALD_API_BAD_REQUEST',
    `no tenant can be named ${JSON.stringify(name.slice(0, 128))} (letters, digits and _ . -)`,
  );
}

/** True when the caller may see a resource of `tenant` (admin: any; a tenant key: its own). */
export function canRead(caller: Caller, tenant: string): boolean {
  return caller.kind === 'admin' || (caller.kind === 'tenant' && caller.tenant === tenant);
}
