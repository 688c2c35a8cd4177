/**
 * @herald/local-redis — a private redis-server on 127.0.0.1 (a free port, a temp data dir, AOF
 * everysec, or always on request) with stop / kill / restart, a replica of one (replica.ts), a private Redis Cluster of such servers (cluster.ts), and the registry that SIGKILLs, by PID, every child still
 * running when the process exits. Used at run time by `herald bench` (so the CLI carries no test
 * code) and re-exported by @herald/test-harness for the tests. Needs the redis-server binary.
 */
export * from './cluster.js';
export { onNode, replicaPortOf } from './cluster-info.js';
export * from './ports.js';
export * from './processes.js';
export * from './redis.js';
export * from './replica.js';
