/**
 * The Redis client Herald's capabilities are given (`RedisClient`: one server or a cluster) and
 * the keyless commands that must reach every master of a cluster (SCAN; PING for readiness), or
 * one given master (`slotMaster`, `clusterNode`: strict durability's WAIT per master).
 * The connection factory is the composition root's (`redis-connect.ts`): capabilities that need
 * a connection of their own get a `connect` function injected.
 */
export { clusterNode, isCluster, masters, nodeKey, type RedisClient, slotMaster } from './client.js';
export { SCAN_COUNT, scanKeys } from './scan.js';
