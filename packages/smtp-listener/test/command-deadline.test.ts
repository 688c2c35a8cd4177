/**
 * CommandDeadlines with a hand-moved clock: a client waited on past the deadline expires, a
 * whole command starts its clock over, the clock waits while the server owes the reply, and
 * stress (the listener at its stress level) shortens the deadline and lasts STRESS_HOLD_MS.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandDeadlines, STRESS_HOLD_MS } from '../src/command-deadline.js';

function setup(stressAt = 100) {
  const clock = { t: 0 };
  const expired: string[] = [];
  const deadlines = new CommandDeadlines({
    normalMs: 10_000,
    stressMs: 1_000,
    stressAt,
    now: () => clock.t,
    expire: (conn) => expired.push((conn as unknown as { name: string }).name),
  });
  const conn = (name: string, waiting = () => true) => ({ name, waitingForClient: waiting });
  return { clock, expired, deadlines, conn };
}

describe('CommandDeadlines', () => {
  it('expires a client waited on past the deadline; a command starts the clock over', () => {
    const { clock, expired, deadlines, conn } = setup();
    deadlines.start('a', conn('a'));
    deadlines.start('b', conn('b'));
    clock.t = 9_000;
    deadlines.commandArrived('b');
    clock.t = 10_000;
    deadlines.check();
    assert.deepEqual(expired, ['a']);
    clock.t = 19_000;
    deadlines.check();
    assert.deepEqual(expired, ['a', 'b']);
    deadlines.stop('a');
    deadlines.stop('b');
  });

  it('the clock waits while the server owes the reply', () => {
    const { clock, expired, deadlines, conn } = setup();
    let owed = true;
    deadlines.start(
      'a',
      conn('a', () => !owed),
    );
    clock.t = 60_000;
    deadlines.check();
    assert.deepEqual(expired, []);
    owed = false;
    clock.t = 65_000;
    deadlines.check();
    assert.deepEqual(expired, [], 'counted from the reply, not from the command');
    clock.t = 70_000;
    deadlines.check();
    assert.deepEqual(expired, ['a']);
    deadlines.stop('a');
  });

  it('at its stress level the listener uses the short deadline, for STRESS_HOLD_MS after', () => {
    const { clock, deadlines, conn } = setup(2);
    deadlines.start(
      'a',
      conn('a', () => false),
    );
    assert.equal(deadlines.currentMs, 10_000);
    deadlines.start(
      'b',
      conn('b', () => false),
    );
    assert.equal(deadlines.currentMs, 1_000);
    deadlines.stop('b');
    clock.t = STRESS_HOLD_MS - 1;
    assert.equal(deadlines.currentMs, 1_000);
    clock.t = STRESS_HOLD_MS;
    assert.equal(deadlines.currentMs, 10_000);
    deadlines.stop('a');
  });
});
