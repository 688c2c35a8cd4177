/**
 * The HTTP API's keys. Tenant API keys: one hash per key and an index of their ids, written
 * together (create, revoke), so both carry the hash tag `{apikeys}`. Idempotency records and their
 * in-flight markers sit in a queue shard (the one the scope picks, which is also the shard of the
 * send's message): the record is written in the spool's enqueue MULTI, and the claim script reads
 * the record and sets the marker together. Failed authentications and
 * blocks per client address are used alone. Pure key math.
 */
import { queueSlot } from './queue.js';

export const API_KEYS_TAG = '{apikeys}';

export interface ApiKeyKeys {
  /** One tenant API key (hash: tenant, label, created, secret hash). */
  key(id: string): string;
  /** The ids of every tenant API key (set). */
  index: string;
}

export function apiKeyKeys(prefix: string): ApiKeyKeys {
  return {
    key: (id) => `${prefix}:${API_KEYS_TAG}:key:${id}`,
    index: `${prefix}:${API_KEYS_TAG}:index`,
  };
}

/**
 * An Idempotency-Key's stored answer (string, JSON; PX idempotency_ttl) and its in-flight marker
 * (string; PX a short lease). `scope` is a hash of the tenant and the key the client sent.
 */
export function idempotencyKeys(
  prefix: string,
  scope: string,
  shard = 0,
): { record: string; inFlight: string } {
  return {
    record: `${queueSlot(prefix, shard)}:idem:${scope}`,
    inFlight: `${queueSlot(prefix, shard)}:idem:${scope}:lock`,
  };
}

/** Failed authentications of one client address in the current window (counter, PX window). */
export function apiAuthFailuresKey(prefix: string, client: string): string {
  return `${prefix}:api:authfail:${client}`;
}

/** A blocked client address (string, PX block_time). */
export function apiAuthBlockKey(prefix: string, client: string): string {
  return `${prefix}:api:authblock:${client}`;
}

/** The GCRA limiter name of one API key's request rate (`<prefix>:gcra:api:<key id>`). */
export function apiRateName(keyId: string): string {
  return `api:${keyId}`;
}
