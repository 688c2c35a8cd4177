/**
 * A replica of a private redis-server (redis.ts), for tests of replicated deployments (strict
 * durability's WAIT): another redis-server on a free loopback port with `--replicaof` the primary,
 * resolved once the replication link is up on both sides (the replica's master_link_status, the
 * primary's replica state `online`). Stop it like any RedisHandle; freezing it (SIGSTOP / SIGCONT
 * its `pid`) is the caller's.
 */
import { Redis } from 'ioredis';
import { LOOPBACK_HOST } from './ports.js';
import { type RedisHandle, type StartRedisOptions, startRedis } from './redis.js';

const LINK_TIMEOUT_MS = 10_000;
const LINK_POLL_MS = 50;

/** Starts a replica of `primary` and waits until the primary counts it as online. */
export async function startReplica(
  primary: RedisHandle,
  opts: Omit<StartRedisOptions, 'extraArgs'> = {},
): Promise<RedisHandle> {
  const replica = await startRedis({
    ...opts,
    extraArgs: ['--replicaof', LOOPBACK_HOST, String(primary.port)],
  });
  const probe = new Redis({ host: LOOPBACK_HOST, port: primary.port, lazyConnect: true });
  probe.on('error', () => {});
  try {
    const deadline = Date.now() + LINK_TIMEOUT_MS;
    for (;;) {
      const info = await probe.info('replication').catch(() => '');
      if (new RegExp(`slave\\d+:ip=[^,]*,port=${replica.port},state=online`).test(info)) return replica;
      if (Date.now() > deadline) {
        await replica.stop();
        throw new Error(
          `replica on port ${replica.port} did not come online at ${primary.url} within ${LINK_TIMEOUT_MS} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, LINK_POLL_MS));
    }
  } finally {
    probe.disconnect();
  }
}
