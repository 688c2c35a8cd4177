/**
 * A batch of plain Redis commands, all in one slot, sent as ONE script call (`EVALSHA` of
 * APPLY_LUA) instead of one ioredis command each in a MULTI or a pipeline. What it buys: per
 * command ioredis builds a `Command` (its promise, argument encoding, flag lookups) and, in a
 * MULTI, parses a `QUEUED` reply; per batch here it builds one (≈ 2 µs less client CPU per
 * command, docs/benchmarks.md). What it keeps: the commands run in order, atomically (a script,
 * like MULTI/EXEC, is one unit in the AOF and to replicas, so a durability barrier after it
 * means the same), and `exec` answers MULTI's shape, `[error, reply]` per command, a failed
 * command (e.g. WRONGTYPE) failing alone as in a MULTI.
 * Recording: the methods named in BATCH_COMMANDS, each with its key first (`del` of several keys
 * becomes one `del` per key), chainable, so code written against an ioredis MULTI
 * (`ChainableCommander`) records into it unchanged (`asCommander`). BullMQ's add-job scripts
 * (`runCommand`, enqueue-in-multi in queue/bullmq-internals.ts) cannot run inside a script: a
 * batch that recorded one is replayed onto the MULTI `fallback` gives, in the same order, and
 * executed there. Every key is declared (KEYS, once each; a command names its key by index), so a
 * cluster checks the slot as it does a MULTI's.
 * The script goes as ioredis's own `evalsha` (EVAL after a NOSCRIPT, which loads it), not as a
 * `defineCommand` one: ioredis's auto-pipelining groups a command by its first key, which it knows
 * for EVALSHA but not for a defined script whose key count varies (it took the key count for the
 * key, and on a cluster put the batch in another node's pipeline: "All keys in the pipeline should
 * belong to the same slots allocation group", the batch lost).
 * Needs injected: the client.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * KEYS: every key the batch touches, once. ARGV: per command its word count n (name, key index,
 * arguments), its name, the index of its key in KEYS, then its n - 2 arguments. Runs each in
 * order (redis.pcall: a failed command answers its error and the rest still run, as in a MULTI);
 * returns one reply per command.
 */
const APPLY_LUA = `
local out = {}
local i = 1
local last = #ARGV
while i <= last do
  local n = tonumber(ARGV[i])
  out[#out + 1] = redis.pcall(ARGV[i + 1], KEYS[tonumber(ARGV[i + 2])], unpack(ARGV, i + 3, i + n))
  i = i + n + 1
end
return out`;
const APPLY_SHA = createHash('sha1').update(APPLY_LUA).digest('hex');

/** Commands a batch records: each takes its key first and only one key. */
export const BATCH_COMMANDS = [
  'set',
  'persist',
  'hset',
  'hincrby',
  'sadd',
  'zadd',
  'zrem',
  'xadd',
  'rpush',
  'rpushx',
  'lpush',
  'ltrim',
  'pexpire',
  'pexpireat',
  'incrby',
  'pfadd',
  'del',
] as const;

/** Arguments of one command past which the batch goes as a MULTI (Lua's unpack has a bounded stack). */
const UNPACK_MAX_ARGS = 4_000;

type Arg = string | number | Buffer;
type Reply = [Error | null, unknown];

interface Recorded {
  name: string;
  key: string;
  args: Arg[];
}

interface RecordedScript {
  script: string;
  args: unknown;
}

function flatten(args: readonly unknown[]): Arg[] {
  const out: Arg[] = [];
  for (const arg of args) {
    if (Array.isArray(arg)) out.push(...flatten(arg));
    else if (Buffer.isBuffer(arg) || typeof arg === 'number') out.push(arg);
    else if (arg !== null && typeof arg === 'object')
      // HSET key {field: value}: ioredis's object form.
      for (const [field, value] of Object.entries(arg)) out.push(field, String(value));
    else out.push(String(arg));
  }
  return out;
}

export class CommandBatch {
  private readonly entries: (Recorded | RecordedScript)[] = [];
  private scripts = 0;
  private longest = 0;

  constructor(private readonly redis: RedisClient) {}

  /** Commands recorded so far (a MULTI's `length`). */
  get length(): number {
    return this.entries.length;
  }

  /** Records `name key ...args`; chainable. */
  add(name: string, key: string, ...args: unknown[]): this {
    const flat = flatten(args);
    this.longest = Math.max(this.longest, flat.length);
    this.entries.push({ name, key, args: flat });
    return this;
  }

  /**
   * BullMQ's way of queuing a script on a MULTI (the lean MULTI's `runCommand`,
   * queue/bullmq-internals.ts): recorded, and the batch will go as a MULTI; chainable like it.
   */
  runCommand(script: string, args: unknown): this {
    this.scripts += 1;
    this.entries.push({ script, args });
    return this;
  }

  /** This batch typed as the MULTI that code queuing commands expects (it records BATCH_COMMANDS). */
  asCommander(): ChainableCommander {
    return this as unknown as ChainableCommander;
  }

  /**
   * Runs the batch: one script call, or (a BullMQ script recorded, or a command too long for
   * unpack) on the MULTI `fallback` resolves to. Replies as MULTI's EXEC; null if it was aborted.
   */
  async exec(fallback?: () => Promise<ChainableCommander>): Promise<Reply[] | null> {
    if (this.entries.length === 0) return [];
    if (this.scripts > 0 || this.longest > UNPACK_MAX_ARGS) {
      if (!fallback) throw new Error('command batch: a MULTI is needed and none was given');
      return this.replay(await fallback());
    }
    const keyIndex = new Map<string, number>();
    const argv: Arg[] = [];
    for (const entry of this.entries as Recorded[]) {
      let index = keyIndex.get(entry.key);
      if (index === undefined) {
        index = keyIndex.size + 1;
        keyIndex.set(entry.key, index);
      }
      argv.push(entry.args.length + 2, entry.name, index);
      for (const arg of entry.args) argv.push(arg);
    }
    const args: Arg[] = [...keyIndex.keys(), ...argv];
    const replies = (await this.redis.evalsha(APPLY_SHA, keyIndex.size, ...args).catch((err: unknown) => {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(APPLY_LUA, keyIndex.size, ...args);
    })) as unknown[];
    return replies.map((reply): Reply => (reply instanceof Error ? [reply, null] : [null, reply]));
  }

  private replay(multi: ChainableCommander): Promise<Reply[] | null> {
    const commands = multi as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const entry of this.entries) {
      if ('script' in entry) commands.runCommand!.call(multi, entry.script, entry.args);
      else commands[entry.name]!.call(multi, entry.key, ...entry.args);
    }
    return multi.exec() as Promise<Reply[] | null>;
  }
}

for (const name of BATCH_COMMANDS) {
  const method =
    name === 'del'
      ? function (this: CommandBatch, ...keys: unknown[]) {
          for (const key of flatten(keys)) this.add('del', String(key));
          return this;
        }
      : function (this: CommandBatch, key: string, ...args: unknown[]) {
          return this.add(name, key, ...args);
        };
  Object.defineProperty(CommandBatch.prototype, name, { value: method, writable: true });
}
