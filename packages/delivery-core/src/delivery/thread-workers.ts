/**
 * One delivery thread's BullMQ workers: one per queue shard (`queue.shards`), each on its own
 * blocking connection, sharing the thread's deps (its shaping gate) and one concurrency budget —
 * `delivery.concurrency`, less what the thread's fast path may hold (delivery/fast-path.ts) —
 * split over the shards (`splitConcurrency`: each shard keeps its running jobs and one free slot,
 * so a shard whose slots a slow destination holds still takes its next job; the rest evenly). To
 * the fast path the thread is one worker: its active jobs are summed and `setConcurrency`
 * re-splits the budget. `serve` starts the workers of
 * shards not served yet (another process raised `queue.shards`) and re-splits the budget.
 */
import type { DeliveryDeps } from './process.js';
import type { DeliveryWorker } from './worker.js';

/** What the fast path needs of the BullMQ side it shares slots with. */
export interface WorkerSlots {
  readonly activeJobs: number;
  /**
   * The least BullMQ concurrency it runs with whatever `setConcurrency` says (a worker per shard,
   * each at least 1); the fast path leaves it `activeJobs + minConcurrency` slots (a free one per
   * shard), so the two never exceed the total.
   */
  readonly minConcurrency: number;
  setConcurrency(n: number): void;
}

/**
 * Shard `shard`'s part of `total` concurrency over `shards` shards: the total split evenly, the
 * remainder to the first shards, at least 1 each (more shards than `total` → one job per shard).
 */
export function concurrencyShare(total: number, shards: number, shard: number): number {
  return Math.max(1, Math.floor(total / shards) + (shard < total % shards ? 1 : 0));
}

/**
 * Each shard's concurrency out of `total`, given the jobs each runs now: every shard keeps its
 * running jobs and one free slot (a slow destination holding a shard's slots never stalls the
 * rest of its queue), and what is left is split evenly (remainder to the first shards). A
 * `total` below that floor (the fast path's room not acknowledged yet) still gives the floor.
 */
export function splitConcurrency(total: number, active: readonly number[]): number[] {
  const floor = active.map((n) => n + 1);
  const left = total - floor.reduce((sum, n) => sum + n, 0);
  if (left <= 0) return floor;
  const each = Math.floor(left / floor.length);
  const rest = left % floor.length;
  return floor.map((n, i) => n + each + (i < rest ? 1 : 0));
}

export class ThreadWorkers implements WorkerSlots {
  private readonly byShard = new Map<number, DeliveryWorker>();
  private shards: number[] = [];

  constructor(
    /** The deps every worker of the thread runs jobs with (one gate), and its fast path too. */
    readonly deps: DeliveryDeps,
    /** BullMQ concurrency of the whole thread now. */
    private budget: number,
    /** Starts shard `shard`'s worker with `concurrency`. */
    private readonly startShard: (shard: number, deps: DeliveryDeps, concurrency: number) => DeliveryWorker,
  ) {}

  get activeJobs(): number {
    let sum = 0;
    for (const worker of this.byShard.values()) sum += worker.activeJobs;
    return sum;
  }

  get minConcurrency(): number {
    return Math.max(1, this.shards.length);
  }

  /** The thread's BullMQ concurrency from now on, split over its shards. */
  setConcurrency(n: number): void {
    this.budget = n;
    this.split();
  }

  /** Serves every shard of `shards` (starting the missing workers); returns those started now. */
  serve(shards: number[]): DeliveryWorker[] {
    this.shards = shards;
    const started: DeliveryWorker[] = [];
    for (const shard of shards) {
      if (this.byShard.has(shard)) continue;
      const worker = this.startShard(shard, this.deps, concurrencyShare(this.budget, shards.length, shard));
      this.byShard.set(shard, worker);
      started.push(worker);
    }
    this.split();
    return started;
  }

  private split(): void {
    const active = this.shards.map((shard) => this.byShard.get(shard)?.activeJobs ?? 0);
    const shares = splitConcurrency(this.budget, active);
    this.shards.forEach((shard, i) => {
      this.byShard.get(shard)?.setConcurrency(shares[i]!);
    });
  }
}
