/**
 * Who is calling, decided once per request: `Authorization: Bearer <key>` → an admin key
 * (api.admin_keys: `key_hash` verified with scrypt once, then remembered in memory by the SHA-256
 * of the presented key; `key` compared in constant time) or a tenant key (delivery-core apikeys,
 * in Redis). Then the route's scope (a tenant key on an admin route: 403) and the key's rate
 * (api.rate_limit, a GCRA shared through Redis: 429 with Retry-After). Failed authentications
 * are counted per client address in Redis; past api.auth_failure_limit within the window the
 * address is answered 429 for api.block_time, even with a valid key. Keys are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HeraldConfig } from '@herald/delivery-core';
import { parseApiKey, type TenantKeyStore } from '@herald/delivery-core/apikeys';
import { apiAuthBlockKey, apiAuthFailuresKey, apiRateName } from '@herald/delivery-core/keys';
import { verifyPassword } from '@herald/delivery-core/passwords';
import { parseRate, RateLimiter } from '@herald/delivery-core/throttle';
import { withDeadline } from '@herald/delivery-core/util';
import type { Redis } from 'ioredis';
import { ApiError, unavailable } from './errors.js';
import type { Caller, RouteAuth } from './route.js';

type KeyCaller = Exclude<Caller, { kind: 'public' }>;

type ApiConfig = NonNullable<HeraldConfig['api']>;
const BEARER = /^Bearer[ \t]+(\S{1,1024})[ \t]*$/i;
const MS_PER_S = 1_000;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="herald"' };

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export interface AuthenticatorParts {
  redis: Redis;
  prefix: string;
  api: ApiConfig;
  keys: TenantKeyStore;
}

export class Authenticator {
  /** SHA-256 (hex) of a presented admin key that verified → its index in api.admin_keys. */
  private readonly verifiedAdmins = new Map<string, number>();
  private readonly limiter: RateLimiter;
  private readonly rate;

  constructor(private readonly parts: AuthenticatorParts) {
    this.limiter = new RateLimiter(parts.redis, { keyPrefix: parts.prefix });
    this.rate = parseRate(parts.api.rate_limit, { burst: parts.api.rate_burst });
  }

  /** The caller of a request to a route of `auth`; throws ApiError 401 / 403 / 429 / 503. */
  async authenticate(auth: RouteAuth, header: string | undefined, client: string): Promise<Caller> {
    if (auth === 'public') return { kind: 'public' };
    const { api, redis, prefix } = this.parts;
    const presented = header === undefined ? undefined : BEARER.exec(header)?.[1];
    // A tenant key's lookup goes out with the block check (one round trip); a blocked address is
    // still answered 429 before anything about its key is told. Admin keys (scrypt) are verified
    // only after the block check, so a blocked address cannot make the relay hash.
    const lookup =
      presented !== undefined && parseApiKey(presented)
        ? this.tenantCaller(presented).catch((err: unknown) => err as Error)
        : undefined;
    const blockedMs = await this.redisStep(redis.pttl(apiAuthBlockKey(prefix, client)));
    if (blockedMs > 0)
      throw new ApiError(
        429,
        'HERALD_API_RATE_LIMITED',
        'too many failed authentications from this address',
        undefined,
        {
          'retry-after': String(Math.ceil(blockedMs / MS_PER_S)),
        },
      );
    if (presented === undefined)
      throw new ApiError(
        401,
        'HERALD_API_UNAUTHENTICATED',
        'send Authorization: Bearer <API key>',
        undefined,
        CHALLENGE,
      );
    const caller = lookup ? await lookup : await this.adminCaller(presented);
    if (caller instanceof Error) throw caller;
    if (!caller) {
      await this.countFailure(client);
      throw new ApiError(
        401,
        'HERALD_API_UNAUTHENTICATED',
        'unknown or revoked API key',
        undefined,
        CHALLENGE,
      );
    }
    if (auth === 'admin' && caller.kind !== 'admin')
      throw new ApiError(403, 'HERALD_API_FORBIDDEN', 'this route needs an admin key');
    const { allowed, retryAfterMs } = await this.redisStep(
      this.limiter.tryAcquire(apiRateName(caller.keyId), this.rate),
    );
    if (!allowed)
      throw new ApiError(429, 'HERALD_API_RATE_LIMITED', `rate limit ${api.rate_limit} per key`, undefined, {
        'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / MS_PER_S))),
      });
    return caller;
  }

  private async tenantCaller(presented: string): Promise<KeyCaller | undefined> {
    const info = await this.redisStep(this.parts.keys.verify(presented));
    return info && { kind: 'tenant', keyId: info.id, tenant: info.tenant };
  }

  private async adminCaller(presented: string): Promise<KeyCaller | undefined> {
    const index = await this.adminIndex(presented);
    if (index === undefined) return undefined;
    return { kind: 'admin', keyId: `admin-${index}`, label: this.parts.api.admin_keys[index]?.label };
  }

  private async adminIndex(presented: string): Promise<number | undefined> {
    const digest = sha256(presented);
    const cacheKey = digest.toString('hex');
    const known = this.verifiedAdmins.get(cacheKey);
    if (known !== undefined) return known;
    const keys = this.parts.api.admin_keys;
    for (const [index, entry] of keys.entries()) {
      const ok =
        'key' in entry
          ? timingSafeEqual(sha256(entry.key), digest)
          : await verifyPassword(presented, entry.key_hash);
      if (ok) {
        this.verifiedAdmins.set(cacheKey, index);
        return index;
      }
    }
    return undefined;
  }

  /** One more failure of `client`; past the limit within the window, the client is blocked. */
  private async countFailure(client: string): Promise<void> {
    const { api, redis, prefix } = this.parts;
    const key = apiAuthFailuresKey(prefix, client);
    const [[, count] = []] =
      (await this.redisStep(redis.multi().incr(key).pexpire(key, api.auth_failure_window, 'NX').exec())) ??
      [];
    if (Number(count) >= api.auth_failure_limit)
      await this.redisStep(redis.set(apiAuthBlockKey(prefix, client), '1', 'PX', api.block_time));
  }

  private async redisStep<T>(work: Promise<T>): Promise<T> {
    try {
      return await withDeadline(work, this.parts.api.redis_timeout, 'Redis');
    } catch (err) {
      throw unavailable(`Redis unavailable: ${(err as Error).message}`);
    }
  }
}
