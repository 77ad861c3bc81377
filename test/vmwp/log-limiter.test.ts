// The rate limit on guest-provoked diagnostics: a burst passes, then one line per interval; the dropped lines
// are counted and announced once with the next line that passes, and a flood stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogLimiter } from '../../src/vmwp/log-limiter.js';

test('a burst passes, then one line per refill interval, and the suppressed count is announced once', () => {
  let now = 1000;
  const out: string[] = [];
  const l = new LogLimiter((t) => out.push(t), 3, 1000, () => now);
  for (let i = 0; i < 10; i++) l.line(`refused ${i}`);
  assert.deepEqual(out, ['refused 0\n', 'refused 1\n', 'refused 2\n']);
  assert.equal(l.suppressed, 7);
  now += 999;
  l.line('still too soon');
  assert.equal(out.length, 3);
  now += 1;
  l.line('after a second');
  assert.deepEqual(out.slice(3), ['hypatia: (8 similar line(s) suppressed)\n', 'after a second\n']);
  assert.equal(l.suppressed, 0);
  assert.equal(l.suppressedTotal, 8);
  now += 60_000; // a quiet minute refills only up to the burst
  for (let i = 0; i < 5; i++) l.line(`x${i}`);
  assert.deepEqual(out.slice(5), ['x0\n', 'x1\n', 'x2\n']);
});

test('a flood of a million lines over ten seconds writes burst + ten lines, each drop counted', () => {
  let now = 0;
  let passed = 0, notices = 0;
  const l = new LogLimiter((t) => { if (t.startsWith('hypatia: (')) notices++; else passed++; }, 20, 1000, () => now);
  for (let i = 0; i < 1_000_000; i++) { now = Math.floor(i / 100); l.line('refused'); }
  assert.equal(passed, 20 + 9, 'the burst, then one per second for seconds 1..9');
  assert.equal(notices, 9);
  assert.equal(l.suppressedTotal, 1_000_000 - passed);
});
