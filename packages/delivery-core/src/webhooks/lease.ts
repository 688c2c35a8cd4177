/**
 * The dispatcher's lease: one relay at a time runs the webhook fan-out and senders. `acquire` is
 * SET NX PX with a random token; `renew` extends it only while the token is still ours (Lua), so
 * a relay that stalled past the TTL learns it lost the lease instead of stealing it back;
 * `release` deletes it only if ours. Another relay takes over once it lapses.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/index.js';

/** KEYS[1] lease. ARGV[1] token, ARGV[2] ttl ms. 1 when renewed, 0 when not ours. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** KEYS[1] lease. ARGV[1] token. Deletes it if ours. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class Lease {
  readonly token = randomUUID();

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly ttlMs: number,
  ) {}

  async acquire(): Promise<boolean> {
    return (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async renew(): Promise<boolean> {
    return (await this.redis.eval(RENEW_LUA, 1, this.key, this.token, this.ttlMs)) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE_LUA, 1, this.key, this.token);
  }
}
