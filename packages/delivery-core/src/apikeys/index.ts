/**
 * Tenant API keys for the HTTP API: `hk_<id>_<secret>` with 32 random bytes of secret, shown once
 * at creation; Redis keeps the id, tenant, label, creation time and the SHA-256 of the secret
 * (never the secret), compared in constant time. A revoked key is deleted and fails at once on
 * every relay. `herald tenant key create|list|revoke` and the API's auth use this store.
 * Needs injected: an ioredis client and the key prefix.
 */
export {
  API_KEY_PREFIX,
  type CreatedKey,
  isApiKeyId,
  MAX_LABEL_CHARS,
  parseApiKey,
  type TenantKeyInfo,
  TenantKeyStore,
} from './store.js';
