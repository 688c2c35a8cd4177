/**
 * Attempts in flight per lane (a site, or site@source IP) in this process, capped at the lane's
 * max_connections so a dead or slow site cannot take the delivery slots other sites need.
 * A job over the cap of a FAST lane (its recent attempts end quickly) waits here, in memory, for
 * a slot (at most LOCAL_WAIT_MS): a healthy busy site costs no Redis work per message. Over the
 * cap of a slow lane, or after that wait, the caller parks the job (delayed set + ParkedJobs) and
 * a later release wakes it. A release hands its slot to a local waiter first, else wakes one job
 * parked from here. Attempt times per lane are an exponentially weighted mean.
 */
import type { ParkedJobs } from './connection-leases.js';

/** Longest a job waits in memory for a slot of a fast lane before it is parked. */
export const LOCAL_WAIT_MS = 2_000;
/** A lane whose attempts take longer than this on average is slow: over its cap, park at once. */
export const FAST_LANE_ATTEMPT_MS = 1_000;
/** Local waiters per lane at most, as a multiple of its cap (the rest park). */
const LOCAL_WAITERS_PER_SLOT = 8;
/** Weight of the newest attempt in the lane's mean attempt time. */
const EWMA_WEIGHT = 0.2;

/** Ends a slot; `attempted` false when no attempt was made with it (its time says nothing). */
export type SlotRelease = (attempted?: boolean) => void;

interface Lane {
  inFlight: number;
  /** The cap given by the latest `take` (a lane's window can shrink while jobs wait). */
  limit: number;
  /** Mean attempt time, ms; undefined until the first attempt ends. */
  meanMs: number | undefined;
  waiters: ((got: boolean) => void)[];
  /** Start times of the attempts in flight (a token per slot). */
  active: Set<{ started: number }>;
  /** Jobs parked from here and not woken yet (each release wakes one). */
  parked: number;
}

export class LaneSlots {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly parked: ParkedJobs | undefined,
    private readonly now: () => number,
    private readonly localWaitMs = LOCAL_WAIT_MS,
  ) {}

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      lane = { inFlight: 0, limit: 1, meanMs: undefined, waiters: [], active: new Set(), parked: 0 };
      this.lanes.set(name, lane);
    }
    return lane;
  }

  /**
   * A slot of `name` under `limit`: at once, or after a short local wait on a fast lane. Returns a
   * release (call once when the attempt ends), or undefined: park the job (then call `parkedOne`).
   */
  async take(name: string, limit: number): Promise<SlotRelease | undefined> {
    const lane = this.lane(name);
    lane.limit = limit;
    if (lane.inFlight < limit) {
      lane.inFlight++;
      return this.releaser(name, lane);
    }
    if (!this.isFast(lane) || lane.waiters.length >= limit * LOCAL_WAITERS_PER_SLOT) return undefined;
    const got = await new Promise<boolean>((resolve) => {
      const waiter = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => {
        lane.waiters.splice(lane.waiters.indexOf(waiter), 1);
        resolve(false);
      }, this.localWaitMs);
      lane.waiters.push(waiter);
    });
    // A slot handed over keeps inFlight as it was (the releaser's becomes ours).
    return got ? this.releaser(name, lane) : undefined;
  }

  /**
   * Fast: attempts end quickly on average, and none in flight has run longer than that bound
   * (a dead site's first attempts hang before any of them ends).
   */
  private isFast(lane: Lane): boolean {
    if (lane.meanMs !== undefined && lane.meanMs >= FAST_LANE_ATTEMPT_MS) return false;
    const now = this.now();
    for (const slot of lane.active) if (now - slot.started >= FAST_LANE_ATTEMPT_MS) return false;
    return true;
  }

  /** Notes that a job over `name`'s cap was parked from here: a later release wakes one. */
  parkedOne(name: string): void {
    this.lane(name).parked++;
  }

  private releaser(name: string, lane: Lane): SlotRelease {
    const slot = { started: this.now() };
    lane.active.add(slot);
    let released = false;
    return (attempted = true) => {
      if (released) return;
      released = true;
      lane.active.delete(slot);
      if (attempted) {
        const took = this.now() - slot.started;
        lane.meanMs = lane.meanMs === undefined ? took : lane.meanMs + EWMA_WEIGHT * (took - lane.meanMs);
      }
      // The slot goes to a local waiter only while the lane is under its cap (which may have
      // shrunk since the waiter came: concurrency feedback); the waiter keeps inFlight as it is.
      const waiter = lane.inFlight <= lane.limit ? lane.waiters.shift() : undefined;
      if (waiter) {
        waiter(true);
        return;
      }
      lane.inFlight--;
      if (lane.parked > 0) {
        lane.parked--;
        void this.parked?.wakeOne(name).catch(() => {});
      }
      if (lane.inFlight === 0 && lane.parked === 0 && lane.meanMs !== undefined && this.lanes.size > 10_000)
        this.lanes.delete(name);
    };
  }
}
