/**
 * Corked writes: `inOneWrite(redis, fn)` runs `fn` with a standalone client's socket corked, so
 * the commands `fn` sends synchronously (a group commit's one transaction per queue shard, an event
 * batch's one per shard stream) leave in one write instead of one syscall each. A cluster client
 * (its commands go to several sockets) or a client without a socket yet just runs `fn`.
 */
import type { Socket } from 'node:net';
import { isCluster, type RedisClient } from './client.js';

export function inOneWrite<T>(redis: RedisClient, fn: () => T): T {
  const stream = isCluster(redis) ? undefined : (redis as unknown as { stream?: Socket }).stream;
  if (!stream || typeof stream.cork !== 'function') return fn();
  stream.cork();
  try {
    return fn();
  } finally {
    stream.uncork();
  }
}
