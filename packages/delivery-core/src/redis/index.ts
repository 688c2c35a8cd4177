/**
 * The Redis client Herald's capabilities are given (`RedisClient`: one server or a cluster), the
 * keyless commands that must reach every master of a cluster (SCAN; PING for readiness), or one
 * given master (`slotMaster`, `clusterNode`: strict durability's WAIT per master), and riding out
 * an outage (`outage.ts`: a failover or restart — which errors mean "Redis did not answer now",
 * and retrying an operation that is safe to repeat through them, bounded), and the guards on every
 * cluster client against three ioredis faults (`cluster-guards.ts`: a slot refresh that outlives
 * its client, a pipeline that never settles, a `connect()` that never settles), and pipelines the
 * young-generation GC can free (`lean-pipelines.ts`, every client), and a MULTI/EXEC Herald
 * encodes itself and sends as one command on a standalone client (`resp.ts`, `raw-transaction.ts`:
 * the group commit without one ioredis `Command` per queued command; `corked.ts`: a turn's
 * transactions for several shards in one socket write).
 * The connection factory is the composition root's (`redis-connect.ts`): capabilities that need
 * a connection of their own get a `connect` function injected.
 */
export { clusterNode, isCluster, masters, nodeKey, type RedisClient, slotMaster } from './client.js';
export { guardCluster } from './cluster-guards.js';
export { inOneWrite } from './corked.js';
export { leanPipelinesActive, useLeanPipelines } from './lean-pipelines.js';
export {
  isRedisFull,
  isRedisOutage,
  OUTAGE_FIRST_RETRY_MS,
  OUTAGE_MAX_RETRY_MS,
  outageStopController,
  type RideOutageOptions,
  rideOutage,
} from './outage.js';
export { canGuardPipelineRouting, pipelineNode } from './pipeline-routing.js';
export {
  type AbortedTransaction,
  canRunRaw,
  runRawTransaction,
  type TransactionResults,
} from './raw-transaction.js';
export { RecordedMulti } from './recorded-multi.js';
export { type RespArg, RespWriter } from './resp.js';
export { SCAN_COUNT, scanKeys } from './scan.js';
export { canGuardSlotsRefresh } from './slots-refresh.js';
