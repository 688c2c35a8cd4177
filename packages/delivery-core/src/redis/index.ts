/**
 * The Redis client Herald's capabilities are given (`RedisClient`: one server or a cluster) and
 * the keyless commands that must reach every master of a cluster (SCAN; PING for readiness).
 * The connection factory is the composition root's (`redis-connect.ts`): capabilities that need
 * a connection of their own get a `connect` function injected.
 */
export { isCluster, masters, type RedisClient } from './client.js';
export { SCAN_COUNT, scanKeys } from './scan.js';
