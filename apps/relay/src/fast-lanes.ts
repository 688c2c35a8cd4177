/**
 * The spool's fast lane in the relay (delivery-core's `FastLane`): jobs the delivery threads have
 * room for are handed to them straight from memory after the enqueue's EXEC, instead of through
 * BullMQ. Each thread announces its room (how many jobs it may hold: handed and not reported done)
 * and reports finished jobs; `reserve` takes a slot of a thread with room (round robin), `hand`
 * posts the committed jobs with a copy of the body (transferred, not cloned again). A room change
 * is acknowledged to the thread, which until then counts the old room as taken (its BullMQ worker
 * never runs into slots the lane may still fill). A thread that exits loses its lane: jobs handed to
 * it keep their leases, and a lease reaper re-queues them when they expire.
 */
import type { FastJob, FastLane } from '@herald/delivery-core/queue';

/** What the host posts to a thread about its lane. */
export type LaneMessage = { type: 'jobs'; jobs: FastJob[]; body: Uint8Array } | { type: 'room-seen' };

type Post = (message: LaneMessage, transfer?: ArrayBuffer[]) => void;

interface Lane {
  room: number;
  /** Reserved or handed, not reported done. */
  held: number;
  post?: Post;
}

export class ThreadLanes implements FastLane {
  private readonly lanes: Lane[];
  /** The lane of each reserved slot, in reserve order (the spool hands and unreserves in that order). */
  private readonly assigned: number[] = [];
  private next = 0;

  constructor(count: number) {
    this.lanes = Array.from({ length: count }, () => ({ room: 0, held: 0 }));
  }

  /** A thread is running: its lane opens as soon as it announces room. */
  attach(index: number, post: Post): void {
    this.lanes[index] = { room: 0, held: 0, post };
  }

  /** A thread exited: its lane closes; what it held is left to the lease reaper. */
  detach(index: number): void {
    this.lanes[index] = { room: 0, held: 0 };
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
      byLane.set(index, [...(byLane.get(index) ?? []), job]);
    });
    for (const [index, laneJobs] of byLane) {
      const lane = this.lanes[index]!;
      if (!lane.post) continue; // the thread exited: the leases expire and are re-queued
      // One copy of exactly the body's bytes, moved (not cloned) to the thread.
      const copy = new Uint8Array(body);
      lane.post({ type: 'jobs', jobs: laneJobs, body: copy }, [copy.buffer as ArrayBuffer]);
    }
  }
}
