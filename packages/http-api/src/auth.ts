/**
 * Who is calling, decided in fastify's onRequest hook, before any body is read:
 * `Authorization: Bearer <key>` → a tenant key (delivery-core apikeys in Redis: one SHA-256
 * lookup) or an admin key (api.admin_keys: `key` compared in constant time, `key_hash` verified
 * with scrypt once, then remembered in memory by the SHA-256 of the presented key). `identify`
 * names the caller (401 / 429); `admit` applies the route's scope (a tenant key on an admin
 * route: 403) and the key's rate (api.rate_limit, a GCRA shared through Redis: 429).
 *
 * Failed authentications are counted per client (`clientKey`: IPv4 address, IPv6 /64) in Redis.
 * A token that needs verification (not a tenant key, not an admin key known to this process) is
 * counted BEFORE it is verified, so parallel requests cannot all pass the limit; past
 * api.auth_failure_limit within the window the client is blocked for api.block_time. While
 * blocked, only tokens that cost nothing to check still pass (a valid tenant key, an admin key
 * already verified here): a stranger behind a shared address cannot lock the others out, and a
 * blocked client never makes the relay run scrypt. At most one scrypt runs at once per process
 * (`VerifySlots`); past a short queue the answer is 429 at once. Keys are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HeraldConfig, RedisClient } from '@herald/delivery-core';
import { parseApiKey, type TenantKeyStore } from '@herald/delivery-core/apikeys';
import { clientKey } from '@herald/delivery-core/door';
import { apiAuthBlockKey, apiAuthFailuresKey, apiRateName } from '@herald/delivery-core/keys';
import { verifyPassword } from '@herald/delivery-core/passwords';
import { parseRate, RateLimiter } from '@herald/delivery-core/throttle';
import { withDeadline } from '@herald/delivery-core/util';
import { ApiError, unavailable } from './errors.js';
import type { Caller, RouteAuth } from './route.js';
import { VerifySlots } from './verify-slots.js';

type KeyCaller = Exclude<Caller, { kind: 'public' }>;

type ApiConfig = NonNullable<HeraldConfig['api']>;
const BEARER = /^Bearer[ \t]+(\S{1,1024})[ \t]*$/i;
const MS_PER_S = 1_000;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="herald"' };
/** Clients are counted by IPv6 /64 (one host owns a whole /64), as the SMTP door does. */
export const IPV6_CLIENT_PREFIX_BITS = 64;
/** scrypt verifications at once per process, and requests allowed to wait for one. */
const VERIFY_RUNNING = 1;
const VERIFY_WAITING = 8;
const VERIFY_BUSY_RETRY_S = 1;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export interface AuthenticatorParts {
  redis: RedisClient;
  prefix: string;
  api: ApiConfig;
  keys: TenantKeyStore;
}

export class Authenticator {
  /** SHA-256 (hex) of a presented admin key that verified → its index in api.admin_keys. */
  private readonly verifiedAdmins = new Map<string, number>();
  private readonly limiter: RateLimiter;
  private readonly rate;
  private readonly slots = new VerifySlots(VERIFY_RUNNING, VERIFY_WAITING);

  constructor(private readonly parts: AuthenticatorParts) {
    this.limiter = new RateLimiter(parts.redis, { keyPrefix: parts.prefix });
    this.rate = parseRate(parts.api.rate_limit, { burst: parts.api.rate_burst });
  }

  /** The caller presenting the request's key (public routes: public); throws 401 / 429 / 503. */
  async identify(auth: RouteAuth, header: string | undefined, address: string): Promise<Caller> {
    if (auth === 'public') return { kind: 'public' };
    const client = clientKey(address, IPV6_CLIENT_PREFIX_BITS);
    const presented = header === undefined ? undefined : BEARER.exec(header)?.[1];
    if (presented === undefined) return this.refuse(client, 'send Authorization: Bearer <API key>');
    if (parseApiKey(presented)) {
      // One cheap lookup: a valid tenant key passes even while its address is blocked.
      const caller = await this.tenantCaller(presented);
      return caller ?? this.refuse(client, 'unknown or revoked API key');
    }
    const cached = this.verifiedAdmins.get(sha256(presented).toString('hex'));
    if (cached !== undefined) return this.adminCaller(cached);
    // Needs verifying (perhaps scrypt): the attempt is counted first, atomically.
    const { count, blockedMs } = await this.countAttempt(client);
    if (blockedMs > 0) throw blocked(blockedMs);
    if (count > this.parts.api.auth_failure_limit) throw blocked(await this.block(client));
    const index = await this.verifyAdmin(presented);
    if (index !== undefined) {
      await this.redisStep(this.parts.redis.decr(apiAuthFailuresKey(this.parts.prefix, client)));
      return this.adminCaller(index);
    }
    if (count >= this.parts.api.auth_failure_limit) await this.block(client);
    throw unauthenticated('unknown or revoked API key');
  }

  /** The route's scope and the key's rate for an identified caller; throws 403 / 429 / 503. */
  async admit(auth: RouteAuth, caller: Caller): Promise<void> {
    if (caller.kind === 'public') return;
    if (auth === 'admin' && caller.kind !== 'admin')
      throw new ApiError(403, 'HERALD_API_FORBIDDEN', 'this route needs an admin key');
    const { allowed, retryAfterMs } = await this.redisStep(
      this.limiter.tryAcquire(apiRateName(caller.keyId), this.rate),
    );
    if (!allowed)
      throw new ApiError(
        429,
        'HERALD_API_RATE_LIMITED',
        `rate limit ${this.parts.api.rate_limit} per key`,
        undefined,
        { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / MS_PER_S))) },
      );
  }

  /** A request without a usable key: counted; 429 while its client is blocked, else 401. */
  private async refuse(client: string, message: string): Promise<never> {
    const { count, blockedMs } = await this.countAttempt(client);
    if (blockedMs > 0) throw blocked(blockedMs);
    if (count >= this.parts.api.auth_failure_limit) await this.block(client);
    throw unauthenticated(message);
  }

  private async tenantCaller(presented: string): Promise<KeyCaller | undefined> {
    const info = await this.redisStep(this.parts.keys.verify(presented));
    return info && { kind: 'tenant', keyId: info.id, tenant: info.tenant };
  }

  private adminCaller(index: number): KeyCaller {
    return { kind: 'admin', keyId: `admin-${index}`, label: this.parts.api.admin_keys[index]?.label };
  }

  /** The index of the admin key `presented` is, checking hashed keys one scrypt at a time. */
  private async verifyAdmin(presented: string): Promise<number | undefined> {
    const keys = this.parts.api.admin_keys;
    const digest = sha256(presented);
    const hashed = keys.some((entry) => 'key_hash' in entry);
    const waiting = hashed ? this.slots.acquire() : Promise.resolve(() => {});
    if (!waiting)
      throw new ApiError(429, 'HERALD_API_RATE_LIMITED', 'too many key verifications at once', undefined, {
        'retry-after': String(VERIFY_BUSY_RETRY_S),
      });
    const release = await waiting;
    try {
      for (const [index, entry] of keys.entries()) {
        const ok =
          'key' in entry
            ? timingSafeEqual(sha256(entry.key), digest)
            : await verifyPassword(presented, entry.key_hash);
        if (ok) {
          this.verifiedAdmins.set(digest.toString('hex'), index);
          return index;
        }
      }
      return undefined;
    } finally {
      release();
    }
  }

  /** Counts one more attempt of `client`; answers the count and the block's time left (ms). */
  private async countAttempt(client: string): Promise<{ count: number; blockedMs: number }> {
    const { api, redis, prefix } = this.parts;
    const key = apiAuthFailuresKey(prefix, client);
    const [counted, blockedMs] = await this.redisStep(
      Promise.all([
        redis.multi().incr(key).pexpire(key, api.auth_failure_window, 'NX').exec(),
        redis.pttl(apiAuthBlockKey(prefix, client)),
      ]),
    );
    return { count: Number(counted?.[0]?.[1] ?? 0), blockedMs };
  }

  /** Blocks `client` for api.block_time (a block in place is kept, not extended); its ms left. */
  private async block(client: string): Promise<number> {
    const { api, redis, prefix } = this.parts;
    await this.redisStep(redis.set(apiAuthBlockKey(prefix, client), '1', 'PX', api.block_time, 'NX'));
    return api.block_time;
  }

  private async redisStep<T>(work: Promise<T>): Promise<T> {
    try {
      return await withDeadline(work, this.parts.api.redis_timeout, 'Redis');
    } catch (err) {
      throw unavailable(`Redis unavailable: ${(err as Error).message}`);
    }
  }
}

const unauthenticated = (message: string): ApiError =>
  new ApiError(401, 'HERALD_API_UNAUTHENTICATED', message, undefined, CHALLENGE);

const blocked = (ms: number): ApiError =>
  new ApiError(
    429,
    'HERALD_API_RATE_LIMITED',
    'too many failed authentications from this address',
    undefined,
    {
      'retry-after': String(Math.max(1, Math.ceil(ms / MS_PER_S))),
    },
  );
