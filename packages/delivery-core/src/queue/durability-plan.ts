/**
 * How `redis.durability: strict` keeps its promise on a given Redis server, decided once at start
 * from what the server says about itself (INFO, CONFIG GET appendfsync): a pure function over
 * those facts and an ordered rule table, first match wins. The plans:
 * - on a Redis Cluster master with a replica, `wait-replica` before anything else: the cluster
 *   fails a dead master over to its replica, so a write only on the master's own disk (fsync,
 *   WAITAOF 1 0) is lost with the failover; it must be on the replica;
 * - `fsync-always`: AOF on with `appendfsync always` — Redis fsyncs before it answers the EXEC,
 *   nothing to add (preferred even where WAITAOF exists: no extra command at all);
 * - `waitaof`: Redis >= 7.2 with AOF on — `WAITAOF 1 0` (this server's fsync; a replica's fsync is
 *   not waited for, so a slow replica never holds a 250 back: Postfix's promise is its own disk);
 * - `wait-replica`: replicas connected — `WAIT 1` (the write is in a replica's memory);
 * - otherwise strict mode refuses to start, with the fix in the message.
 * A replica counts only where the master has AOF on (both `wait-replica` rules): a master without
 * persistence that restarts (a supervisor, `kill -9` and start) comes back empty and its replicas
 * resync from it, wiping the copy they held — every acknowledged message lost (attacker pass).
 * With AOF the restarted master loads what it wrote; a host crash can still cost its last second
 * unless a failover (the cluster's, Sentinel's) promotes the replica first.
 * Imports nothing; pure.
 */

export type DurabilityMode = 'fsync-always' | 'waitaof' | 'wait-replica';

/** What the server says about itself (INFO server / replication / persistence / cluster, CONFIG GET). */
export interface ServerFacts {
  /** INFO server `redis_version`, e.g. "7.0.15". */
  version: string;
  /** INFO persistence `aof_enabled`. */
  aofEnabled: boolean;
  /** CONFIG GET appendfsync; null when CONFIG is refused (managed Redis, ACL). */
  appendfsync: string | null;
  /** INFO replication `connected_slaves` (replicas attached to this server). */
  connectedReplicas: number;
  /** INFO cluster `cluster_enabled`: a Redis Cluster node, which a replica may replace. */
  clusterEnabled: boolean;
}

export type DurabilityPlan =
  | { ok: true; mode: DurabilityMode; why: string }
  | { ok: false; reason: string; fix: string };

/** The first Redis version with WAITAOF. */
export const WAITAOF_MIN_VERSION = [7, 2] as const;

interface Rule {
  mode: DurabilityMode;
  applies(facts: ServerFacts): boolean;
  why(facts: ServerFacts): string;
}

/** Ordered: the cheapest plan that keeps the promise comes first. */
export const DURABILITY_RULES: readonly Rule[] = [
  {
    mode: 'wait-replica',
    applies: (f) => f.clusterEnabled && f.aofEnabled && f.connectedReplicas >= 1,
    why: (f) =>
      `a cluster master with AOF and ${f.connectedReplicas} replica(s): WAIT 1 after each group commit ` +
      '(a failover promotes a replica, so the write must be on one)',
  },
  {
    mode: 'fsync-always',
    applies: (f) => f.aofEnabled && f.appendfsync === 'always',
    why: () => 'AOF with appendfsync always: Redis fsyncs each write before it answers',
  },
  {
    mode: 'waitaof',
    applies: (f) => f.aofEnabled && hasWaitaof(f.version),
    why: (f) => `Redis ${f.version} with AOF: WAITAOF 1 0 after each group commit (local fsync)`,
  },
  {
    mode: 'wait-replica',
    applies: (f) => f.aofEnabled && f.connectedReplicas >= 1,
    why: (f) =>
      `${f.connectedReplicas} replica(s) connected, AOF on: WAIT 1 after each group commit (on a replica)`,
  },
];

export function planDurability(facts: ServerFacts): DurabilityPlan {
  const rule = DURABILITY_RULES.find((r) => r.applies(facts));
  if (rule) return { ok: true, mode: rule.mode, why: rule.why(facts) };
  return {
    ok: false,
    reason: refusalReason(facts),
    fix: facts.clusterEnabled ? CLUSTER_REFUSAL_FIX : refusalFix(facts),
  };
}

const FAST_INSTEAD =
  'or set redis.durability: fast to accept up to about a second of acknowledged mail lost in a crash';

/** The refusal's fix for one server; AOF already on needs only `appendfsync always`. */
const refusalFix = (f: ServerFacts) =>
  f.aofEnabled
    ? 'fix one of: `CONFIG SET appendfsync always` (and the same in redis.conf), or attach a replica ' +
      `to this server, or run Redis >= 7.2 (WAITAOF); ${FAST_INSTEAD}`
    : 'fix one of: `CONFIG SET appendonly yes` and `CONFIG SET appendfsync always` (and the same in ' +
      'redis.conf), or turn AOF on and attach a replica to this server, or run Redis >= 7.2 with AOF on ' +
      `(WAITAOF); ${FAST_INSTEAD}`;

const CLUSTER_REFUSAL_FIX =
  'fix one of: give each such master AOF (`CONFIG SET appendonly yes`) and a replica (`redis-cli --cluster add-node <new node> <any node> ' +
  "--cluster-slave --cluster-master-id <the master's id from CLUSTER NODES>`; without the id redis-cli picks " +
  'a master itself; the replica also covers a failover), or `CONFIG SET appendonly yes` and ' +
  '`CONFIG SET appendfsync always` on it (and the same in redis.conf), or run Redis >= 7.2 with AOF ' +
  `on (WAITAOF); ${FAST_INSTEAD}`;

function refusalReason(f: ServerFacts): string {
  const replicas = 'no replica is connected';
  const waitaof = hasWaitaof(f.version) ? '' : `, Redis ${f.version} has no WAITAOF (needs 7.2)`;
  if (!f.aofEnabled && f.connectedReplicas >= 1)
    return (
      `AOF is off (appendonly no): its ${f.connectedReplicas} replica(s) do not protect the queue, ` +
      'since this server restarted comes back empty and its replicas resync from it, dropping their copy'
    );
  if (!f.aofEnabled) return `AOF is off (appendonly no), ${replicas}${waitaof}`;
  if (f.appendfsync === null)
    return (
      `CONFIG GET appendfsync is refused (a managed Redis or an ACL without +config|get), so ` +
      `Herald cannot check that each write is fsynced; ${replicas}${waitaof}` +
      " (or allow CONFIG GET for Herald's user if the server runs appendfsync always)"
    );
  return `appendfsync is ${f.appendfsync}, not always, ${replicas}${waitaof}`;
}

/** True when `version` ("7.2.4", "7.0.15") is at least WAITAOF_MIN_VERSION. */
export function hasWaitaof(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const [needMajor, needMinor] = WAITAOF_MIN_VERSION;
  return major > needMajor || (major === needMajor && minor >= needMinor);
}

/** ServerFacts from the text of INFO (server, replication, persistence) and CONFIG GET's answer. */
export function parseServerFacts(info: string, appendfsync: string | null): ServerFacts {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return {
    version: field('redis_version') ?? '0.0.0',
    aofEnabled: field('aof_enabled') === '1',
    appendfsync,
    connectedReplicas: Number.parseInt(field('connected_slaves') ?? '0', 10) || 0,
    clusterEnabled: field('cluster_enabled') === '1',
  };
}
