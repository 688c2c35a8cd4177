/**
 * The tenant API key store (see index.ts). A key is `hk_<id>_<secret>`: `id` 16 hex characters
 * (names the key in lists and revocation), `secret` 32 random bytes base64url. The hash
 * `<prefix>:{apikeys}:key:<id>` holds tenant, label, created (epoch ms) and sha256 (hex of the
 * secret); the set `<prefix>:{apikeys}:index` lists the ids. Create and revoke are one MULTI.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isTenantName } from '../config/index.js';
import { HeraldError } from '../errors/index.js';
import { type ApiKeyKeys, apiKeyKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

export const API_KEY_PREFIX = 'hk_';
const ID_BYTES = 8;
const SECRET_BYTES = 32;
/** base64url of SECRET_BYTES without padding. */
const SECRET_CHARS = Math.ceil((SECRET_BYTES * 4) / 3);
export const MAX_LABEL_CHARS = 100;
const ID_PATTERN = /^[0-9a-f]{16}$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]+$/;
/** Printable characters only: a label is shown in terminals and JSON. */
const LABEL_PATTERN = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u;

export interface TenantKeyInfo {
  id: string;
  tenant: string;
  label?: string;
  /** Epoch ms. */
  created: number;
}

export interface CreatedKey {
  /** The whole key; the only time it exists outside the caller. */
  key: string;
  info: TenantKeyInfo;
}

export const isApiKeyId = (id: string): boolean => ID_PATTERN.test(id);

/** `{id, secret}` of a string shaped like a tenant key, else undefined (no Redis call needed). */
export function parseApiKey(presented: string): { id: string; secret: string } | undefined {
  if (!presented.startsWith(API_KEY_PREFIX)) return undefined;
  const rest = presented.slice(API_KEY_PREFIX.length);
  const cut = rest.indexOf('_');
  if (cut < 0) return undefined;
  const id = rest.slice(0, cut);
  const secret = rest.slice(cut + 1);
  if (!isApiKeyId(id) || secret.length !== SECRET_CHARS || !SECRET_PATTERN.test(secret)) return undefined;
  return { id, secret };
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export class TenantKeyStore {
  private readonly keys: ApiKeyKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = apiKeyKeys(prefix);
  }

  async create(tenant: string, label?: string): Promise<CreatedKey> {
    if (!isTenantName(tenant))
      throw new HeraldError('HERALD_INPUT_INVALID', `no tenant can be named ${JSON.stringify(tenant)}`);
    if (label !== undefined && (label.length > MAX_LABEL_CHARS || !LABEL_PATTERN.test(label)))
      throw new HeraldError(
        'HERALD_INPUT_INVALID',
        `a label is at most ${MAX_LABEL_CHARS} printable characters`,
      );
    const id = randomBytes(ID_BYTES).toString('hex');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const info: TenantKeyInfo = { id, tenant, created: Date.now(), ...(label ? { label } : {}) };
    const record = {
      tenant,
      created: String(info.created),
      sha256: sha256(secret).toString('hex'),
      ...(label ? { label } : {}),
    };
    const done = await this.redis.multi().hset(this.keys.key(id), record).sadd(this.keys.index, id).exec();
    const failed = done?.find(([err]) => err);
    if (!done || failed)
      throw new HeraldError(
        'HERALD_REDIS_UNAVAILABLE',
        `creating the key failed: ${failed?.[0]?.message ?? 'aborted'}`,
      );
    return { key: `${API_KEY_PREFIX}${id}_${secret}`, info };
  }

  /** Every key (of `tenant`, when given), oldest first; never a secret or its hash. */
  async list(tenant?: string): Promise<TenantKeyInfo[]> {
    const ids = await this.redis.smembers(this.keys.index);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.key(id));
    const replies = ids.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    const found: TenantKeyInfo[] = [];
    replies.forEach(([err, value], i) => {
      if (err) throw err;
      const info = toInfo(ids[i]!, value as Record<string, string>);
      if (info && (tenant === undefined || info.tenant === tenant)) found.push(info);
    });
    return found.sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  }

  /** Deletes a key; true when it existed. */
  async revoke(id: string): Promise<boolean> {
    if (!isApiKeyId(id)) return false;
    const done = await this.redis.multi().del(this.keys.key(id)).srem(this.keys.index, id).exec();
    return Number(done?.[0]?.[1] ?? 0) > 0;
  }

  /** The key's tenant when `presented` is a live tenant key, else undefined. Redis errors propagate. */
  async verify(presented: string): Promise<TenantKeyInfo | undefined> {
    const parsed = parseApiKey(presented);
    if (!parsed) return undefined;
    const stored = await this.redis.hgetall(this.keys.key(parsed.id));
    const info = toInfo(parsed.id, stored);
    const expected = Buffer.from(stored.sha256 ?? '', 'hex');
    if (!info || expected.length !== 32) return undefined;
    return timingSafeEqual(expected, sha256(parsed.secret)) ? info : undefined;
  }
}

function toInfo(id: string, record: Record<string, string>): TenantKeyInfo | undefined {
  if (!record.tenant || !record.created) return undefined;
  return {
    id,
    tenant: record.tenant,
    created: Number(record.created),
    ...(record.label ? { label: record.label } : {}),
  };
}
