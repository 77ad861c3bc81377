// ClockPacer with a hand-driven wall clock: virtual time ahead of the wall is waited out; virtual time behind it
// (a busy guest on the software processor) is caught up by setting the clock forward to the wall's, after which
// idle virtual time passes at the wall's rate, not faster.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ClockPacer } from '../../src/vmwp/clock-pacer.js';

const ref = (ms: number) => ms * 10_000; // reference time in 100 ns units

test('ahead is waited out; behind is caught up at once, so later idle time is paced at 1x', () => {
  let wall = 1000;
  const p = new ClockPacer(() => wall);
  assert.equal(p.delayMs(ref(0)), 0);
  assert.equal(p.catchUpTo(ref(0)), -1);
  assert.equal(p.delayMs(ref(500)), 500, 'an idle guest that skipped 500 ms waits 500 ms');
  assert.equal(p.catchUpTo(ref(500)), -1, 'ahead is never caught "up"');
  wall += 500;
  assert.equal(p.delayMs(ref(500)), 0);
  // Busy: 10 s of wall for 2 s of virtual time. The clock is set to the wall's: 10.5 s.
  wall += 10_000;
  assert.equal(p.delayMs(ref(2500)), 0);
  assert.equal(p.catchUpTo(ref(2500)), ref(10_500));
  // Then idle from there: the guest skips 3 s; it must wait those 3 s.
  assert.equal(p.delayMs(ref(13_500)), 3000);
  wall += 3000;
  assert.equal(p.delayMs(ref(13_500)), 0);
  assert.equal(p.catchUpTo(ref(13_500)), -1);
  // Below the slack nothing is worth a sleep, below 1 ms nothing is worth a step.
  assert.equal(p.delayMs(ref(13_510)), 0);
  assert.equal(p.catchUpTo(ref(13_499.5)), -1);
  p.restart();
  assert.equal(p.delayMs(ref(100)), 100, 'a new boot starts again at 0');
});
