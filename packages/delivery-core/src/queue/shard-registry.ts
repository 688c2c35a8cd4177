/**
 * The shard registry in Redis (`<prefix>:{queue}:shards`, keys/queue.ts): `max`, the highest
 * `queue.shards` any process used, and `since`, when ids began to carry their shard (the first
 * start with more than one shard). A process records its count at start (one Lua script; `max`
 * only grows) and re-reads the registry every REFRESH_MS, so a count raised by another process
 * reaches its workers and readers; listeners hear when `max` grew. Lowering `queue.shards` only
 * stops new messages going to the upper shards: they are still served until an operator, once
 * they are empty, lowers `max` (README "queue.shards").
 */

import { type ActivityKeys, queueKeys, shardRegistryKey } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { allShards, type ShardLayout } from './shards.js';

/** How often a process re-reads the registry (a raised count reaches it within this). */
export const SHARD_REGISTRY_REFRESH_MS = 5_000;

/** KEYS[1] registry. ARGV[1] this process's count, ARGV[2] now (ms). Returns {max, since or false}. */
const RECORD_LUA = `
local max = tonumber(redis.call('HGET', KEYS[1], 'max') or '1')
local count = tonumber(ARGV[1])
if count > max then redis.call('HSET', KEYS[1], 'max', count); max = count end
if count > 1 then redis.call('HSETNX', KEYS[1], 'since', ARGV[2]) end
return {max, redis.call('HGET', KEYS[1], 'since')}`;

export class ShardRegistry {
  private current: ShardLayout;
  private readonly listeners = new Set<(layout: ShardLayout) => void>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    layout: ShardLayout,
  ) {
    this.current = layout;
  }

  /** Records `count` (this process's `queue.shards`) and reads the registry. */
  static async open(
    redis: RedisClient,
    prefix: string,
    count: number,
    now = Date.now(),
  ): Promise<ShardRegistry> {
    const key = shardRegistryKey(prefix);
    const reply = (await redis.eval(RECORD_LUA, 1, key, String(count), String(now))) as [
      number,
      string | null,
    ];
    return new ShardRegistry(redis, key, layoutOf(count, reply[0], reply[1]));
  }

  get layout(): ShardLayout {
    return this.current;
  }

  /** Calls `listener` with the new layout whenever `max` grew; returns the unsubscribe. */
  onGrow(listener: (layout: ShardLayout) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads `max` and `since` (they only grow, resp. are set once). */
  async refresh(): Promise<void> {
    const [max, since] = await this.redis.hmget(this.key, 'max', 'since');
    const next = layoutOf(this.current.count, Number(max ?? 1), since ?? null);
    const grew = next.max > this.current.max;
    if (grew || next.since !== this.current.since) this.current = next;
    if (grew) for (const listener of this.listeners) listener(next);
  }

  /** Refreshes every `intervalMs` until `stop` (the timer does not keep the process alive). */
  start(onError: (err: unknown) => void, intervalMs = SHARD_REGISTRY_REFRESH_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * The registry as a reader sees it, recording nothing (a CLI command, a consumer of the event
 * streams): `count` is `max`.
 */
export async function readShardLayout(redis: RedisClient, prefix: string): Promise<ShardLayout> {
  const [max, since] = await redis.hmget(shardRegistryKey(prefix), 'max', 'since');
  const n = Math.max(1, Number(max ?? 1) || 1);
  return layoutOf(n, n, since ?? null);
}

/** Herald's event streams, one per shard of `layout`, in shard order (a merged cursor's order). */
export function eventStreamKeys(prefix: string, layout: ShardLayout): string[] {
  return allShards(layout).map((shard) => queueKeys(prefix, shard).events);
}

/** The activity counters' keys of every shard of `layout` (events/activity.ts). */
export function activityKeysOfShards(prefix: string, layout: ShardLayout): ActivityKeys[] {
  return allShards(layout).map((shard) => queueKeys(prefix, shard).activity);
}

/** The event streams of every shard the registry knows now. */
export async function readEventStreamKeys(redis: RedisClient, prefix: string): Promise<string[]> {
  return eventStreamKeys(prefix, await readShardLayout(redis, prefix));
}

function layoutOf(count: number, max: number, since: string | null): ShardLayout {
  const layout = { count, max: Math.max(count, max || 1) };
  return since === null ? layout : { ...layout, since: Number(since) };
}
