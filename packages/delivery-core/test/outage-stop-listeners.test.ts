/**
 * Endings riding a Redis outage (delivery/outage.ts) all sleep on their worker's or lane's stop
 * signal at once: with more than 10 jobs in flight when Redis went away, Node printed
 * "MaxListenersExceededWarning: Possible EventTarget memory leak detected. 11 abort listeners"
 * on the relay's stderr. `outageStopController` (redis/outage.ts) gives a signal that takes them
 * all; a plain AbortController still warns (the check below sees the warning when there is one).
 * The event sink's held batches: events-outage.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { rideEnding } from '../src/delivery/outage.js';
import { outageStopController } from '../src/redis/index.js';

const logger = pino({ level: 'silent' });

/** Warnings Node emits while `run` rides `endings` operations, each failing once as an outage. */
async function warningsWhileRiding(signal: AbortSignal, endings: number): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    await Promise.all(
      Array.from({ length: endings }, (_, i) => {
        let tries = 0;
        return rideEnding(
          'finish',
          async () => {
            tries += 1;
            if (tries === 1) throw new Error('Connection is closed.');
            return i;
          },
          { logger, jobId: `job-${i}`, signal },
        );
      }),
    );
    // process.emitWarning emits on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('the stop signal of endings riding an outage', () => {
  it('takes 30 endings retrying at once without a MaxListenersExceeded warning', async () => {
    const warnings = await warningsWhileRiding(outageStopController().signal, 30);
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
      [],
    );
  });

  it('(the check sees the warning a plain AbortController gives)', async () => {
    const warnings = await warningsWhileRiding(new AbortController().signal, 30);
    assert.ok(
      warnings.some((w) => w.startsWith('MaxListenersExceededWarning')),
      `expected the warning, got ${JSON.stringify(warnings)}`,
    );
  });
});
