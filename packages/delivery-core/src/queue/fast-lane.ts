/**
 * The fast lane's contract on the spool's side: where the spool hands a job that can be attempted
 * at once, instead of adding it to BullMQ. The lane (the relay's delivery threads, thread-host)
 * grants slots; the spool `reserve`s one per job while building the enqueue MULTI, writes the
 * job's lease (leases.ts) in place of BullMQ's add-job script, and after the EXEC either `hand`s
 * the committed jobs over with the body already in memory, or `unreserve`s the slots of a failed
 * transaction. A job never waits in the lane: the lane grants only slots it can run now.
 */
import type { DeliveryJobData } from './types.js';

/**
 * Larger messages take BullMQ's path (the delivery thread reads the body from Redis): handing a
 * body to a thread copies it, and a big one would double the relay's memory for its attempt.
 * A body in shared memory (util's `isShared`: the relay's intake puts every message of 1 MiB and
 * more there) is handed at any size: the thread reads the same memory, nothing is copied.
 */
export const FAST_LANE_MAX_BODY_BYTES = 1024 * 1024;

export interface FastJob {
  id: string;
  data: DeliveryJobData;
}

export interface FastLane {
  /** Takes one slot for a job about to be spooled; false = no room (the job goes to BullMQ). */
  reserve(): boolean;
  /** Gives back `n` reserved slots whose transaction failed. */
  unreserve(n: number): void;
  /** Jobs of one message whose transaction committed (leases written), with the message's body. */
  hand(jobs: FastJob[], body: Buffer): void;
}

/** What the spool needs to write a lease: the lane, its lease time and the run that holds it. */
export interface FastLaneBinding {
  lane: FastLane;
  leaseTtlMs: number;
  node: string;
}
