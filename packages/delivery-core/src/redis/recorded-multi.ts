/**
 * A hot transaction (the spool's group commit, the event sink's batch) as its builders queue it
 * (queue/enqueue-multi.ts and what it calls: traces, activity, behaviour counters, leases, job
 * adds; events/redis-sink.ts), recorded as plain command tuples instead of ioredis commands, then
 * executed once: on one server encoded and sent as one raw MULTI/EXEC (raw-transaction.ts: no
 * ioredis `Command` per queued command); on a cluster, or when the transaction holds a command
 * only an ioredis MULTI can queue (`queueOn`: BullMQ's add-job script), replayed in order onto the
 * ioredis MULTI that `openMulti` gives. Either way one MULTI/EXEC with the same commands and an
 * `[error, result]` per command (raw: results as the server's raw replies, Buffers and numbers).
 * It has exactly the commands those builders use (test/recorded-multi.test.ts builds each kind of
 * batch both ways and compares); one it lacks fails at the call (a TypeError: nothing is sent).
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './client.js';
import { canRunRaw, runRawTransaction, type TransactionResults } from './raw-transaction.js';
import { type RespArg, RespWriter } from './resp.js';

type Command = readonly [name: string, ...args: RespArg[]];
/** A command queued by a function on the ioredis MULTI itself (returns how many it queued). */
type Opaque = (multi: ChainableCommander) => number;

export class RecordedMulti {
  private readonly queued: (Command | Opaque)[] = [];
  private opaque = 0;

  /** Commands queued so far (an opaque one counts one, as it does on ioredis' MULTI). */
  get length(): number {
    return this.queued.length;
  }

  /**
   * Queues one command that only an ioredis MULTI can build (BullMQ's add-job script:
   * queue/job-add.ts); the transaction then runs on ioredis' MULTI. Returns 1.
   */
  queueOn(build: Opaque): number {
    this.queued.push(build);
    this.opaque += 1;
    return 1;
  }

  set(key: string, value: RespArg, ...options: RespArg[]): this {
    return this.add(['set', key, value, ...options]);
  }
  persist(key: string): this {
    return this.add(['persist', key]);
  }
  del(...keys: string[]): this {
    return this.add(['del', ...keys]);
  }
  hset(key: string, fields: Readonly<Record<string, RespArg>>): this {
    const command: RespArg[] = ['hset', key];
    for (const [field, value] of Object.entries(fields)) {
      if (value === undefined || value === null)
        throw new TypeError(`hset ${key}: field ${field} has no value`);
      command.push(field, value);
    }
    return this.add(command as unknown as Command);
  }
  hincrby(key: string, field: string, by: number): this {
    return this.add(['hincrby', key, field, by]);
  }
  incrby(key: string, by: number): this {
    return this.add(['incrby', key, by]);
  }
  sadd(key: string, ...members: RespArg[]): this {
    return this.add(['sadd', key, ...members]);
  }
  zadd(key: string, ...scoresAndMembers: RespArg[]): this {
    return this.add(['zadd', key, ...scoresAndMembers]);
  }
  zrem(key: string, ...members: RespArg[]): this {
    return this.add(['zrem', key, ...members]);
  }
  xadd(key: string, ...args: RespArg[]): this {
    return this.add(['xadd', key, ...args]);
  }
  rpush(key: string, ...values: RespArg[]): this {
    return this.add(['rpush', key, ...values]);
  }
  rpushx(key: string, ...values: RespArg[]): this {
    return this.add(['rpushx', key, ...values]);
  }
  lpush(key: string, ...values: RespArg[]): this {
    return this.add(['lpush', key, ...values]);
  }
  ltrim(key: string, start: number, stop: number): this {
    return this.add(['ltrim', key, start, stop]);
  }
  pexpire(key: string, ms: number): this {
    return this.add(['pexpire', key, ms]);
  }
  pexpireat(key: string, at: number, ...options: RespArg[]): this {
    return this.add(['pexpireat', key, at, ...options]);
  }
  pfadd(key: string, ...elements: RespArg[]): this {
    return this.add(['pfadd', key, ...elements]);
  }

  /** This, typed as the builders take it (they call only the commands above). */
  asCommander(): ChainableCommander {
    return this as unknown as ChainableCommander;
  }

  /**
   * Executes the transaction on `redis`: raw where it can be, else on the ioredis MULTI from
   * `openMulti` (for BullMQ's script, one with BullMQ's scripts defined on it:
   * queue/bullmq-internals.ts `queueTransaction`). Null when ioredis' EXEC answered null.
   */
  async exec(
    redis: RedisClient,
    openMulti: () => ChainableCommander | Promise<ChainableCommander>,
  ): Promise<TransactionResults | null> {
    if (this.opaque === 0 && canRunRaw(redis)) {
      const writer = new RespWriter(true);
      for (const command of this.queued as Command[])
        writer.command(command[0], command.slice(1) as RespArg[]);
      return runRawTransaction(redis, writer);
    }
    const multi = await openMulti();
    const commands = multi as unknown as Record<string, (...args: RespArg[]) => unknown>;
    for (const item of this.queued) {
      if (typeof item === 'function') {
        if (item(multi) !== 1) throw new Error('an opaque command of a recorded MULTI queued other than one');
      } else {
        const [name, ...args] = item;
        commands[name]!.call(multi, ...args);
      }
    }
    return multi.exec();
  }

  private add(command: Command): this {
    this.queued.push(command);
    return this;
  }
}
