/**
 * The spool's fast lane in the relay (delivery-core's `FastLane`): jobs the delivery threads have
 * room for are handed to them straight from memory after the enqueue's EXEC, instead of through
 * BullMQ. Each thread announces its room (how many jobs it may hold: handed and not reported done)
 * and reports finished jobs; `reserve` takes a slot of a thread with room (round robin), `hand`
 * collects the committed jobs with their body, and at the end of the synchronous stretch that
 * handed them (one microtask later: a group commit hands all its messages in one loop) each thread
 * gets one post with all of its jobs and one copy of their bodies, laid end to end in a buffer
 * that is transferred, not cloned again (one message per thread per commit instead of one per
 * spooled message: each post costs a structured clone and a wake-up of the thread). A large body
 * already in shared memory (delivery-core's `isShared`: 1 MiB and more) is posted as it is, a
 * view both threads read, and never copied. A room change
 * is acknowledged to the thread, which until then counts the old room as taken (its BullMQ worker
 * never runs into slots the lane may still fill). A thread that exits loses its lane: jobs handed to
 * it keep their leases, and a lease reaper re-queues them when they expire.
 */
import type { FastJob, FastLane } from '@herald/delivery-core/queue';
import { isShared } from '@herald/delivery-core/util';

/**
 * One spooled message's jobs; its body is `shared` when set (a view of shared memory), otherwise
 * `bodies` from `start` (inclusive) to `end`.
 */
export interface HandedMessage {
  jobs: FastJob[];
  start: number;
  end: number;
  shared?: Uint8Array;
}

/** What the host posts to a thread about its lane. */
export type LaneMessage =
  | { type: 'jobs'; messages: HandedMessage[]; bodies: Uint8Array }
  | { type: 'room-seen' };

/** The body of each handed message, a view of the batch's one buffer (no copy). */
export function handedBodies(message: { messages: HandedMessage[]; bodies: Uint8Array }): Buffer[] {
  const { bodies } = message;
  return message.messages.map(({ start, end, shared }) =>
    shared
      ? Buffer.from(shared.buffer, shared.byteOffset, shared.byteLength)
      : Buffer.from(bodies.buffer, bodies.byteOffset + start, end - start),
  );
}

type Post = (message: LaneMessage, transfer?: ArrayBuffer[]) => void;

interface Lane {
  room: number;
  /** Reserved or handed, not reported done. */
  held: number;
  post?: Post;
  /** Handed in the current synchronous stretch, posted together at its end. */
  outbox: { jobs: FastJob[]; body: Buffer }[];
}

export class ThreadLanes implements FastLane {
  private readonly lanes: Lane[];
  /** The lane of each reserved slot, in reserve order (the spool hands and unreserves in that order). */
  private readonly assigned: number[] = [];
  private next = 0;
  private flushQueued = false;

  constructor(count: number) {
    this.lanes = Array.from({ length: count }, () => ({ room: 0, held: 0, outbox: [] }));
  }

  /** A thread is running: its lane opens as soon as it announces room. */
  attach(index: number, post: Post): void {
    this.lanes[index] = { room: 0, held: 0, post, outbox: [] };
  }

  /** A thread exited: its lane closes; what it held is left to the lease reaper. */
  detach(index: number): void {
    this.lanes[index] = { room: 0, held: 0, outbox: [] };
  }

  /** A thread's announcement: its room now, and how many jobs it finished since the last one. */
  onRoom(index: number, room: number, done: number): void {
    const lane = this.lanes[index];
    if (!lane?.post) return;
    lane.held = Math.max(0, lane.held - done);
    if (room !== lane.room) {
      lane.room = room;
      lane.post({ type: 'room-seen' });
    }
  }

  reserve(): boolean {
    const n = this.lanes.length;
    for (let k = 0; k < n; k++) {
      const index = (this.next + k) % n;
      const lane = this.lanes[index]!;
      if (lane.post && lane.held < lane.room) {
        lane.held += 1;
        this.assigned.push(index);
        this.next = (index + 1) % n;
        return true;
      }
    }
    return false;
  }

  unreserve(n: number): void {
    for (const index of this.assigned.splice(0, n)) {
      const lane = this.lanes[index]!;
      lane.held = Math.max(0, lane.held - 1);
    }
  }

  hand(jobs: FastJob[], body: Buffer): void {
    const indexes = this.assigned.splice(0, jobs.length);
    const byLane = new Map<number, FastJob[]>();
    jobs.forEach((job, i) => {
      const index = indexes[i]!;
      const laneJobs = byLane.get(index);
      if (laneJobs) laneJobs.push(job);
      else byLane.set(index, [job]);
    });
    for (const [index, laneJobs] of byLane) {
      const lane = this.lanes[index]!;
      if (!lane.post) continue; // the thread exited: the leases expire and are re-queued
      lane.outbox.push({ jobs: laneJobs, body });
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** One post per thread with what was handed to it: one copy of exactly the bodies' bytes, moved (not cloned). */
  private flush(): void {
    this.flushQueued = false;
    for (const lane of this.lanes) {
      const outbox = lane.outbox;
      if (outbox.length === 0) continue;
      lane.outbox = [];
      if (!lane.post) continue; // the thread exited meanwhile: the leases expire and are re-queued
      let total = 0;
      for (const { body } of outbox) if (!isShared(body)) total += body.length;
      const bodies = new Uint8Array(total);
      const messages: HandedMessage[] = [];
      let at = 0;
      for (const { jobs, body } of outbox) {
        if (isShared(body)) {
          messages.push({ jobs, start: 0, end: 0, shared: body });
          continue;
        }
        bodies.set(body, at);
        messages.push({ jobs, start: at, end: at + body.length });
        at += body.length;
      }
      lane.post({ type: 'jobs', messages, bodies }, [bodies.buffer as ArrayBuffer]);
    }
  }
}
