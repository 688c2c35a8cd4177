/**
 * Registers a Lua script on an ioredis client (defineCommand: EVALSHA, falling back to EVAL once
 * on NOSCRIPT) and returns a typed caller. One Redis round trip per call.
 */
import type { RedisClient } from '../redis/index.js';

export type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

export function defineScript(
  redis: RedisClient,
  name: string,
  numberOfKeys: number,
  lua: string,
): ScriptCall {
  redis.defineCommand(name, { numberOfKeys, lua });
  const run = (redis as unknown as Record<string, ScriptCall>)[name]!;
  return (...keysThenArgs) => run.apply(redis, keysThenArgs);
}

/** ARGV value meaning "use the Redis server's TIME"; otherwise the caller's clock in ms. */
export const REDIS_TIME = '';

export function clockArg(now: (() => number) | undefined): string | number {
  return now ? now() : REDIS_TIME;
}

/** The Redis server's clock in ms. */
export async function redisNow(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
