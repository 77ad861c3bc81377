// ClockPacer with a hand-driven wall clock: virtual time ahead of the wall is waited out; virtual time that fell
// behind (a busy guest on the software processor) is not paid back, so idle virtual time afterwards passes at
// the wall's rate, not faster (a guest clock set by time sync would otherwise race ahead of the host's).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ClockPacer } from '../../src/vmwp/clock-pacer.js';

const ref = (ms: number) => ms * 10_000; // reference time in 100 ns units

test('ahead is waited out; behind is forgiven, so later idle time is paced at 1x', () => {
  let wall = 1000;
  const p = new ClockPacer(() => wall);
  assert.equal(p.delayMs(ref(0)), 0);
  assert.equal(p.delayMs(ref(500)), 500, 'an idle guest that skipped 500 ms waits 500 ms');
  wall += 500;
  assert.equal(p.delayMs(ref(500)), 0);
  // Busy: 10 s of wall for 2 s of virtual time.
  wall += 10_000;
  assert.equal(p.delayMs(ref(2500)), 0);
  // Then idle: the guest skips 3 s; it must wait those 3 s, not run through them on the 8 s it lost.
  assert.equal(p.delayMs(ref(5500)), 3000);
  wall += 3000;
  assert.equal(p.delayMs(ref(5500)), 0);
  // Below the slack nothing is worth a sleep.
  assert.equal(p.delayMs(ref(5510)), 0);
  p.restart();
  assert.equal(p.delayMs(ref(100)), 100, 'a new boot starts again at 0');
});
