/**
 * The body of one delivery worker thread (started by thread-host.ts). It builds its own Herald
 * from the relay's config (a plain object after structured clone, parsed again here), runs the
 * delivery workers, and forwards every event it emits to the host in one message per event-loop
 * turn. Its own event sink still writes the log lines and the Redis stream; a batch is posted only
 * once its stream write has finished (or failed, or taken longer than FORWARD_FLUSH_TIMEOUT_MS),
 * so a listener on the main thread that sees an event can read it back from the stream.
 * Every THREAD_METER_INTERVAL_MS it posts its delivery snapshot (`herald.deliverySnapshot()`:
 * shaping waits and connections per site, which no event carries, plus its event-loop delay p99),
 * and once more before `stopped`, so the main thread's /metrics sees them.
 * Protocol: the host sends `reload` with the relay's new effective config: the thread's Herald
 * swaps its live sections (shaping, tenants, DKIM, routes; files read again) and answers
 * `reloaded` with the version it runs. The host sends `stop`; the thread closes its Herald (in-flight deliveries get their
 * grace period), posts the last events and `stopped`, and exits. Uncaught errors reach the host
 * as the Worker's `error` event (the thread then exits with code 1).
 * Needs injected: `workerData.config`, a parsed HeraldConfig.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import {
  createHerald,
  type Herald,
  type HeraldConfig,
  type HeraldEvent,
  parseConfig,
} from '@herald/delivery-core';
import type { FastPath } from '@herald/delivery-core/delivery';
import type { DeliverySnapshot } from '@herald/delivery-core/metrics';
import { settlesWithin } from '@herald/delivery-core/util';
import { handedBodies, type LaneMessage } from './fast-lanes.js';

/** Bound on waiting for a batch's stream write before forwarding it anyway. */
const FORWARD_FLUSH_TIMEOUT_MS = 2_000;
/** How often a thread posts its delivery snapshot (how stale the main thread's gauges can be). */
export const THREAD_METER_INTERVAL_MS = 1_000;
/** Resolution of the event-loop delay histogram. */
const LAG_RESOLUTION_MS = 10;
const NS_PER_S = 1e9;

export interface DeliveryThreadData {
  config: HeraldConfig;
  /** The relay's run: the thread's connection leases are held in its name (node_id). */
  incarnation: string;
}

/** Messages from the host to a thread: stop, or the fast lane's (fast-lanes.ts). */
export type HostMessage = { type: 'stop' } | { type: 'reload'; config: HeraldConfig } | LaneMessage;

/** Messages from a thread to the host. */
export type ThreadMessage =
  | { type: 'ready' }
  | { type: 'events'; events: HeraldEvent[] }
  /** The fast lane's room now, and the jobs handed over that finished since the last one. */
  | { type: 'room'; room: number; done: number }
  /** The thread's delivery snapshot (cumulative counters, current connections, lag). */
  | { type: 'meter'; snapshot: DeliverySnapshot }
  | { type: 'reloaded'; ok: boolean; hash: string; error?: string | undefined }
  | { type: 'stopped' };

async function run(port: MessagePort, data: DeliveryThreadData): Promise<void> {
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  let fast: FastPath | undefined;
  /** Set once created; a thread still starting already got the new config from the host. */
  let running: Herald | undefined;
  port.on('message', (message: HostMessage) => {
    if (message.type === 'stop') requestStop();
    else if (message.type === 'reload') {
      const result = running?.reloadConfig(() => parseConfig(message.config, { source: 'delivery thread' }));
      if (result)
        post({
          type: 'reloaded',
          ok: result.ok,
          hash: result.hash,
          error: result.ok ? undefined : result.error,
        });
    } else if (message.type === 'jobs') {
      const bodies = handedBodies(message);
      message.messages.forEach(({ jobs }, i) => {
        fast?.accept(jobs, bodies[i]!);
      });
    } else if (message.type === 'room-seen') fast?.roomSeen();
  });
  const post = (message: ThreadMessage) => port.postMessage(message);

  const config = parseConfig(data.config, { source: 'delivery thread' });
  // Its events are counted once, by the main thread's metrics, which they are forwarded to.
  // Its own tracer provider (config.telemetry): its attempt spans are exported from this thread
  // and flushed by herald.close() before it exits.
  const herald = await createHerald(config, {
    incarnation: data.incarnation,
    countEvents: false,
    telemetryProcess: 'delivery-thread',
    takesSubmissions: false,
  });
  running = herald;
  let batch: HeraldEvent[] = [];
  let forwarded: Promise<void> = Promise.resolve();
  const forward = () => {
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    forwarded = forwarded
      .then(() => settlesWithin(herald.events.flush(), FORWARD_FLUSH_TIMEOUT_MS))
      .then(() => post({ type: 'events', events }));
  };
  herald.events.on((event) => {
    if (batch.length === 0) setImmediate(forward);
    batch.push(event);
  });
  herald.startWorkers();
  fast = herald.startFastPath((room, done) => post({ type: 'room', room, done }));
  post({ type: 'ready' });
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  const postMeter = () => {
    const p99 = lag.count > 0 ? lag.percentile(99) / NS_PER_S : 0;
    lag.reset();
    post({ type: 'meter', snapshot: { ...herald.deliverySnapshot(), eventLoopLagSeconds: p99 } });
  };
  const meterTimer = setInterval(postMeter, THREAD_METER_INTERVAL_MS);

  await stopRequested;
  await herald.close();
  clearInterval(meterTimer);
  lag.disable();
  forward();
  await forwarded;
  postMeter();
  post({ type: 'stopped' });
  process.exit(0);
}

if (!isMainThread && parentPort) await run(parentPort, workerData as DeliveryThreadData);
