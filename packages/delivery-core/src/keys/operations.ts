/**
 * Every Lua script, MULTI/EXEC and multi-key command in which Herald touches more than one key,
 * as data: where it runs and the keys of one run, built from sample names. On Redis Cluster the
 * keys of each must share a slot; the registry's test runs this table with `hashSlot`, so a new
 * multi-key operation belongs here. BullMQ's own scripts touch many keys of its queue at once;
 * they are covered by its prefix carrying its shard's tag. A queue operation runs within one
 * shard (`sample.shard`): a message's keys, its jobs' queue, its counters and markers share it.
 */
import { apiKeyKeys, idempotencyKeys } from './api.js';
import { behaviourCounterKey, behaviourMessageKey, behaviourSpreadScratchKey } from './behaviour.js';
import { quarantineKeys } from './quarantine.js';
import { DELIVERY_QUEUE, feedbackMarkerKey, queueKeys, reputationKey } from './queue.js';
import { connectionLeaseKey, laneOf, laneWindowKey, siteStateKey } from './shaping.js';
import { suppressionKeys } from './tenant.js';
import { semaphoreKey } from './throttle.js';
import { tlsRptDayKeys } from './tlsrpt.js';
import { webhookKeys } from './webhooks.js';

/** Names one run of an operation may involve (a test varies them). */
export interface KeySample {
  /** Two messages of one enqueue batch, each with two jobs. */
  messages: readonly [string, string];
  /** Two tenants of one enqueue batch. */
  tenants: readonly [string, string];
  site: string;
  /** An hour bucket (epoch ms / 1 h). */
  hour: number;
  /** The queue shard of the messages (queue.shards: 0 … shards-1). */
  shard: number;
}

export interface MultiKeyOperation {
  where: string;
  kind: 'lua' | 'multi' | 'command';
  keys(prefix: string, sample: KeySample): string[];
}

/** BullMQ keys its add-job, move and promote scripts touch (`<prefix>:{queue-<i>}:delivery:<name>`). */
const BULLMQ_QUEUE_KEYS = [
  'wait',
  'active',
  'delayed',
  'prioritized',
  'paused',
  'meta',
  'id',
  'events',
  'marker',
  'pc',
  'completed',
  'failed',
  'stalled',
  'limiter',
];

function bullmqKeys(prefix: string, shard: number, jobIds: readonly string[]): string[] {
  const base = `${queueKeys(prefix, shard).bullmqPrefix}:${DELIVERY_QUEUE}`;
  return [
    ...BULLMQ_QUEUE_KEYS.map((name) => `${base}:${name}`),
    ...jobIds.flatMap((id) => [`${base}:${id}`, `${base}:${id}:lock`]),
  ];
}

const jobIdsOf = (messages: readonly string[]) => messages.flatMap((m) => [`${m}.0`, `${m}.1`]);

export const MULTI_KEY_OPERATIONS: Readonly<Record<string, MultiKeyOperation>> = {
  'spool enqueue (group commit of a batch)': {
    where: 'queue/spool.ts Spool.commitBatch',
    kind: 'multi',
    keys: (prefix, { messages, tenants, hour, shard }) => {
      const q = queueKeys(prefix, shard);
      return [
        ...messages.flatMap((m) => [q.body(m), q.message(m), q.pendingJobs(m), q.trace(m)]),
        ...bullmqKeys(prefix, shard, jobIdsOf(messages)),
        // A job handed to the fast lane is leased (in its message's shard) instead of added to
        // BullMQ (queue/leases.ts).
        q.leases,
        ...jobIdsOf(messages).map((id) => q.lease(id)),
        q.events,
        ...tenants.map((t) => reputationKey(prefix, t, 'sent', hour, shard)),
        q.hashedTenants,
        // The accepted recipients per minute (events/activity.ts).
        q.activity.minute(hour * 60_000),
        // An API send's Idempotency-Key record is written with its message, its marker dropped.
        ...messages.flatMap((m) => Object.values(idempotencyKeys(prefix, `scope-${m}`, shard))),
        // Behaviour (config `behaviour`): the accounts' counters and each message's account.
        ...tenants.flatMap((t) =>
          (['n', 'N', 'd'] as const).map((kind) => behaviourCounterKey(prefix, t, kind, hour, shard)),
        ),
        ...messages.map((m) => behaviourMessageKey(prefix, m, shard)),
        // A message released from quarantine: its held record is deleted with its enqueue.
        ...messages.map((m) => quarantineKeys(prefix, shard).message(m)),
        quarantineKeys(prefix, shard).claims,
      ];
    },
  },
  'event stream write (XADD, traces, activity counters and site replies, the batch marker; one MULTI per shard)':
    {
      where: 'events/redis-sink.ts RedisEventSink.commit (MULTI)',
      kind: 'multi',
      keys: (prefix, { messages, site, hour, shard }) => {
        const q = queueKeys(prefix, shard);
        const minute = hour * 60_000;
        return [
          q.events,
          q.eventBatch('run.0'),
          ...messages.map((m) => q.trace(m)),
          q.activity.minute(minute),
          q.activity.bounces(minute),
          q.activity.sites(minute),
          q.activity.siteReplies(site),
        ];
      },
    },
  'claim an Idempotency-Key (stored answer or in-flight marker)': {
    where: 'intake/idempotency.ts CLAIM_LUA, IdempotencyStore.finish (MULTI)',
    kind: 'lua',
    keys: (prefix, { messages: [m], shard }) => Object.values(idempotencyKeys(prefix, `scope-${m}`, shard)),
  },
  'quarantine hold (record, indexes, the message events) / claim / unclaim / drop / recover': {
    where:
      'quarantine/store.ts QuarantineStore.hold (with intake/scan-stage.ts events), unclaim, drop (MULTI); quarantine/claims.ts CLAIM_LUA, recoverClaims (MULTI)',
    kind: 'multi',
    keys: (prefix, { messages: [m], tenants: [t], shard, hour }) => {
      const k = quarantineKeys(prefix, shard);
      const q = queueKeys(prefix, shard);
      const minute = hour * 60;
      return [k.message(m), k.index, k.tenant(t), k.claims, q.events, q.trace(m), q.activity.minute(minute)];
    },
  },
  'tenant API key create / revoke (key + index)': {
    where: 'apikeys/store.ts TenantKeyStore.create, revoke (MULTI)',
    kind: 'multi',
    keys: (prefix) => {
      const k = apiKeyKeys(prefix);
      return [k.key('a1b2c3d4e5f6'), k.index];
    },
  },
  'finish a job (last one deletes the message)': {
    where: 'queue/spool.ts FINISH_JOB_LUA',
    kind: 'lua',
    keys: (prefix, { messages: [m], shard }) => {
      const q = queueKeys(prefix, shard);
      return [q.pendingJobs(m), q.body(m), q.message(m), q.operatorMarks(m), q.dsnReports(m), q.dsnDue];
    },
  },
  'claim delay notices (collector: claims and lines; delay-due zset)': {
    where: 'delivery/dsn-scripts.ts CLAIM_DELAY_LUA',
    kind: 'lua',
    keys: (prefix, { messages: [m], shard }) => {
      const q = queueKeys(prefix, shard);
      return [q.dsnReports(m), q.dsnDelayDue];
    },
  },
  'delay notices spooled (collector lines dropped; off the delay-due zset when none is left)': {
    where: 'delivery/dsn-scripts.ts DELAY_SENT_LUA',
    kind: 'lua',
    keys: (prefix, { messages: [m], shard }) => {
      const q = queueKeys(prefix, shard);
      return [q.dsnReports(m), q.dsnDelayDue];
    },
  },
  'finish a leased job (lease, pending set; the last job deletes the message)': {
    where: 'queue/leases.ts FINISH_LEASED_LUA',
    kind: 'lua',
    keys: (prefix, { messages: [m], shard }) => {
      const q = queueKeys(prefix, shard);
      const [job] = jobIdsOf([m!]);
      return [
        q.leases,
        q.lease(job!),
        q.pendingJobs(m!),
        q.body(m!),
        q.message(m!),
        q.operatorMarks(m!),
        q.dsnReports(m!),
        q.dsnDue,
      ];
    },
  },
  'hand a leased job to BullMQ (requeue, reaper: add-job + ZREM + DEL, under WATCH of the lease)': {
    where: 'queue/leases.ts JobLeases.requeue, reapOne (MULTI on the shard of the job)',
    kind: 'multi',
    keys: (prefix, { messages, shard }) => {
      const q = queueKeys(prefix, shard);
      const ids = jobIdsOf(messages);
      return [...bullmqKeys(prefix, shard, ids), q.leases, ...ids.map((id) => q.lease(id))];
    },
  },
  'renew leases (ZADD XX + PEXPIRE of each record, one pipeline per shard)': {
    where: 'queue/leases.ts JobLeases.renew (pipeline)',
    kind: 'command',
    keys: (prefix, { messages, shard }) => {
      const q = queueKeys(prefix, shard);
      return [q.leases, ...jobIdsOf(messages).map((id) => q.lease(id))];
    },
  },
  'BullMQ scripts (add, move to delayed, promote, remove, finish)': {
    where: 'bullmq, via queue/spool.ts, delivery/worker.ts, shaping/connection-leases.ts, queue-ops/',
    kind: 'lua',
    keys: (prefix, { messages, shard }) => bullmqKeys(prefix, shard, jobIdsOf(messages)),
  },
  'count a report once (marker + counter)': {
    where: 'reputation/reputation.ts COUNT_ONCE_LUA',
    kind: 'lua',
    keys: (prefix, { messages: [m], tenants: [t], hour, shard }) => [
      feedbackMarkerKey(prefix, 'complaint', m, 'abcd1234', shard),
      reputationKey(prefix, t, 'complaint', hour, shard),
    ],
  },
  'behaviour figures of an account (one MGET per shard, summed; one shard: its PFCOUNT too)': {
    where: 'behaviour/counters.ts readFigures (pipeline per shard)',
    kind: 'command',
    keys: (prefix, { tenants: [t], hour, shard }) =>
      (['n', 'h', 'c', 'd'] as const).flatMap((kind) => [
        behaviourCounterKey(prefix, t, kind, hour * 60, shard),
        behaviourCounterKey(prefix, t, kind, hour * 60 - 1, shard),
      ]),
  },
  "behaviour domain spread: a shard's minute HyperLogLogs merged and read back": {
    where: 'behaviour/spread.ts exactSpread (MULTI per shard > 0: PFMERGE scratch, GET, DEL)',
    kind: 'multi',
    keys: (prefix, { tenants: [t], hour, shard }) => [
      behaviourSpreadScratchKey(prefix, t, 'token', shard),
      behaviourCounterKey(prefix, t, 'd', hour * 60, shard),
      behaviourCounterKey(prefix, t, 'd', hour * 60 - 1, shard),
    ],
  },
  "behaviour domain spread: every shard's HyperLogLog counted in shard 0's slot": {
    where: 'behaviour/spread.ts exactSpread (MULTI on shard 0: SET PX scratch copies, PFCOUNT, DEL)',
    kind: 'multi',
    keys: (prefix, { tenants: [t], hour, shard }) => [
      behaviourCounterKey(prefix, t, 'd', hour * 60, 0),
      behaviourCounterKey(prefix, t, 'd', hour * 60 - 1, 0),
      behaviourSpreadScratchKey(prefix, t, 'token', 0, shard),
      behaviourSpreadScratchKey(prefix, t, 'token', 0, shard + 1),
    ],
  },
  'reputation rates over a window (one MGET per shard, summed)': {
    where: 'reputation/reputation.ts TenantReputation.rates (MGET)',
    kind: 'command',
    keys: (prefix, { tenants: [t], hour, shard }) =>
      (['sent', 'hard', 'complaint'] as const).flatMap((kind) => [
        reputationKey(prefix, t, kind, hour, shard),
        reputationKey(prefix, t, kind, hour - 1, shard),
      ]),
  },
  'suppression write (entries + expiries)': {
    where: 'suppression/list.ts SUPPRESS_ADD_LUA',
    kind: 'lua',
    keys: (prefix, { tenants: [t] }) => {
      const s = suppressionKeys(prefix);
      return [s.entries(t), s.expiries(t)];
    },
  },
  "a site's condition (read, lift)": {
    where: 'shaping/site-state.ts SiteState.condition (MGET), SiteState.resume (DEL)',
    kind: 'command',
    keys: (prefix, { site }) => [
      siteStateKey(prefix, site, 'suspended'),
      siteStateKey(prefix, site, 'slow'),
      siteStateKey(prefix, site, 'sources'),
    ],
  },
  "a lane's connection slot, taken under its window": {
    where: 'shaping/connection-leases.ts SiteConnectionLeases.acquire (semaphore-acquire.lua, capped)',
    kind: 'lua',
    keys: (prefix, { site, shard }) => {
      // One lane per run: the site's own, or the site's from a source IP (v4 or v6).
      const lane = [site, laneOf(site, '192.0.2.10'), laneOf(site, '2001:db8::1')][shard % 3]!;
      return [semaphoreKey(prefix, connectionLeaseKey(lane)), laneWindowKey(prefix, lane)];
    },
  },
  "a TLS outcome counted (the day's domain index + the domain's counters)": {
    where: 'tlsrpt/counter.ts TlsReportCounter.record (MULTI)',
    kind: 'multi',
    keys: (prefix, { hour, site }) => {
      const day = new Date(hour * 3_600_000).toISOString().slice(0, 10);
      const keys = tlsRptDayKeys(prefix, day);
      return [keys.domains, keys.counts(site), keys.counts('example.net')];
    },
  },
  'webhook fan-out commit (batches into outboxes + cursor advance)': {
    where: 'webhooks/fan-out.ts commit (WATCH lease + cursor, MGET, MULTI)',
    kind: 'multi',
    keys: (prefix, { messages: [a, b] }) => {
      const w = webhookKeys(prefix);
      return [w.lease, w.cursor, w.batch(a), w.outbox('ep1'), w.batch(b), w.dead('ep2')];
    },
  },
  'webhook batch delivered, dead-lettered, replayed or removed': {
    where:
      'webhooks/outbox.ts ack / deadLetter (MULTI), REPLAY_LUA; webhooks/orphans.ts purgeEndpointData (MULTI; removeEndpoint, herald webhook purge)',
    kind: 'multi',
    keys: (prefix, { messages: [m] }) => {
      const w = webhookKeys(prefix);
      return [w.outbox('ep1'), w.dead('ep1'), w.batch(m)];
    },
  },
};
