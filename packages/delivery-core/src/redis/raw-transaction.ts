/**
 * A MULTI/EXEC Herald encodes itself (resp.ts) and sends as one command on an ioredis
 * connection, for the hot group commit: ioredis' own MULTI builds a `Command` (argument
 * flattening, encoding, a promise, the transaction's bookkeeping) for every queued command and
 * settles one promise per reply; measured on a loop of 3-message group commits of 8 commands each,
 * ≈ 90 µs of CPU per message against ≈ 16 µs here with plain ioredis clients; inside the relay,
 * whose clients have lean pipelines, ≈ 6 % of the main thread (docs/benchmarks.md). It is written
 * with the connection's own `sendCommand` (its state checks: not ready → rejected at once, no
 * offline queue), so it keeps its place among the connection's other commands, and takes every
 * one of its replies (`+OK`, one `+QUEUED` or error per command, EXEC's) by putting itself back at
 * the head of the connection's reply queue until the last has come, as ioredis' own subscribe
 * commands do. Settles as ioredis' `multi.exec()` does: `[error, result]` per command; an aborted
 * EXEC (`EXECABORT`, e.g. a full Redis refusing the queued writes) rejects with the queue-time
 * errors as `previousErrors`; a connection lost rejects with that error (Herald's command
 * connection, `maxRetriesPerRequest: 0`, flushes its reply queue then; a client that sends
 * unanswered commands again after a reconnect sends the whole transaction again, as it would its
 * own); a command timeout rejects at once, and the transaction still takes its replies when they
 * come, so the commands behind it get theirs.
 * Touchpoint (ARCHITECTURE "Private-API touchpoints", `ioredis-reply-queue`): a standalone
 * client's private `commandQueue` (`unshift`) and `condition.select`, and its data handler handing
 * each reply to the queue head's `resolve` / `reject`; `canRunRaw` checks the shape, and
 * test/raw-transaction.test.ts runs the contract on the installed ioredis. Not for a cluster
 * client (no one connection; it keeps ioredis' MULTI).
 */
import { Command, type Redis, ReplyError } from 'ioredis';
import { isCluster, type RedisClient } from './client.js';
import type { RespWriter } from './resp.js';

/** What ioredis keeps per command awaiting its reply (`select`: the database it was sent to). */
interface QueuedCommand {
  command: unknown;
  select?: number;
}

interface ReplyQueue {
  unshift(item: QueuedCommand): unknown;
}

/** The private members of a standalone client this relies on. */
interface ClientInternals {
  commandQueue?: Partial<ReplyQueue>;
  condition?: { select?: number } | null;
}

/** `[error, result]` per queued command, as ioredis' `exec()` answers. */
export type TransactionResults = [Error | null, unknown][];

/** An EXEC that Redis aborted, with the errors its commands got when queued. */
export interface AbortedTransaction extends Error {
  previousErrors?: Error[];
}

function replyQueueOf(redis: RedisClient): ReplyQueue | undefined {
  if (isCluster(redis)) return undefined;
  const queue = (redis as unknown as ClientInternals).commandQueue;
  return typeof queue?.unshift === 'function' ? (queue as ReplyQueue) : undefined;
}

/** True when transactions can be sent raw on `redis` (one server, an ioredis of the known shape). */
export function canRunRaw(redis: RedisClient): redis is Redis {
  return replyQueueOf(redis) !== undefined;
}

/** The transaction as one command that takes all of its replies. */
class RawTransaction extends Command {
  readonly settled: Promise<TransactionResults>;
  /** Replies still to come (set when written: a command sent again after a reconnect starts over). */
  private left = 0;
  private queueErrors: Error[] = [];
  private settle!: (results: TransactionResults) => void;
  private fail!: (err: Error) => void;

  constructor(
    private readonly payload: Buffer,
    private readonly commands: number,
    private readonly client: ClientInternals,
  ) {
    super('multi', []);
    this.settled = new Promise<TransactionResults>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    // Replaces Command's own: ioredis' data handler calls these with each raw reply. Any other
    // rejection (connection lost: the queue flushed; a command timeout: the replies still come
    // and are still taken, so the queue stays in step) fails the transaction.
    this.resolve = (reply: unknown) => this.take(reply);
    this.reject = (err: Error) => {
      if (isReplyError(err) && this.left > 0) this.take(err);
      else this.fail(err);
    };
  }

  /** Called by ioredis as it writes the command (again, should it resend it after a reconnect). */
  override toWritable(): Buffer {
    this.left = this.commands + 2;
    this.queueErrors = [];
    return this.payload;
  }

  private take(reply: unknown): void {
    this.left -= 1;
    if (this.left > 0) {
      if (reply instanceof Error) this.queueErrors.push(reply);
      // Back at the head of the reply queue, for the next of its replies (ioredis shifted it).
      // Looked up now: the client makes a new queue each time it connects.
      (this.client.commandQueue as ReplyQueue).unshift({
        command: this,
        select: this.client.condition?.select ?? 0,
      });
      return;
    }
    if (reply instanceof Error) {
      (reply as AbortedTransaction).previousErrors = this.queueErrors;
      this.fail(reply);
    } else if (Array.isArray(reply)) {
      this.settle(reply.map((r): [Error | null, unknown] => (r instanceof Error ? [r, null] : [null, r])));
    } else this.fail(new Error('transaction aborted'));
  }
}

/** An error reply of the server (as opposed to the client's own errors). */
function isReplyError(err: Error): boolean {
  return err instanceof ReplyError || err.name === 'ReplyError';
}

/**
 * Runs `commands` (a transaction's RespWriter) as one MULTI/EXEC on `redis`; resolves with each
 * command's `[error, result]` (results as the raw replies: Buffers, numbers, arrays).
 */
export function runRawTransaction(redis: Redis, commands: RespWriter): Promise<TransactionResults> {
  if (!canRunRaw(redis))
    return Promise.reject(new Error('raw transactions need a standalone ioredis client'));
  if (!commands.transaction) return Promise.reject(new Error('not a transaction RespWriter'));
  const client = redis as unknown as ClientInternals;
  const transaction = new RawTransaction(commands.toBuffer(), commands.commands, client);
  // Written now, queued offline (sent on connect) or rejected at once, as ioredis decides.
  redis.sendCommand(transaction);
  return transaction.settled;
}
