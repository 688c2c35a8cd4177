/**
 * connectRedis: one ioredis connection, connected within `timeoutMs` or a HERALD_REDIS_UNAVAILABLE
 * naming the first error Redis gave (a refused AUTH says WRONGPASS / NOAUTH, where ioredis's own
 * rejection says only "Connection is closed."), the URL's password masked. Used by createHerald's
 * command connection and by CLI commands that need a connection of their own (a blocking read).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { maskUrl } from './config/index.js';
import { HeraldError } from './errors/index.js';
import { withDeadline } from './util/index.js';

export interface ConnectRedisOptions {
  timeoutMs: number;
  /** ioredis options besides `lazyConnect` (always on: the connect is awaited here). */
  redis?: RedisOptions;
  /** Sees every connection error (e.g. to log it); the first one names a failed connect. */
  onError?(err: Error): void;
}

export async function connectRedis(url: string, options: ConnectRedisOptions): Promise<Redis> {
  const redis = new Redis(url, { ...options.redis, lazyConnect: true });
  let firstError: Error | undefined;
  redis.on('error', (err: Error) => {
    firstError ??= err;
    options.onError?.(err);
  });
  try {
    await withDeadline(redis.connect(), options.timeoutMs, 'connecting to Redis');
    return redis;
  } catch (err) {
    redis.disconnect();
    const reason = firstError ?? (err as Error);
    throw new HeraldError(
      'HERALD_REDIS_UNAVAILABLE',
      // Never the password: a URL with credentials is shown masked (Redis's replies never quote it).
      `cannot connect to Redis at ${maskUrl(url)}: ${maskUrl(reason.message)}`,
      { cause: reason },
    );
  }
}
