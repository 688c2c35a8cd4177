/**
 * Tenant reputation: per-tenant hourly counters in Redis (accepted recipients, hard bounces,
 * complaints), rolling rates over a window, and the pause of a tenant's bulk streams when a rate
 * passes its threshold (`tenants.<name>` in herald.yaml), lifted by an operator. The spool counts
 * accepted recipients in its enqueue transaction; delivery and the bounce-processor count the rest.
 */

// The counters' key names live in the key registry; re-exported for reputation's users.
export { reputationKey } from '../keys/index.js';
export {
  REPUTATION_BUCKET_MS,
  REPUTATION_BUCKET_TTL_MS,
  REPUTATION_MAX_WINDOW_MS,
  type ReputationKind,
  reputationBucket,
  windowKeys,
} from './counters.js';
export {
  COUNT_ONCE_LUA,
  type PauseState,
  type ReputationRates,
  TenantReputation,
  type TenantStatus,
} from './reputation.js';
