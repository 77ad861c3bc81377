// Clock pacing against the host's wall clock: test/guests/idle.c halts for 1.5 s of virtual time. With
// `--clock host` (the default) the run must take at least that long in real time, because the guest may not see
// its clock run ahead of the host's; with `--clock virtual` the idle time is skipped and the same guest, which
// observes exactly the same virtual time either way, finishes well under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest } from '../support/guest-build.js';
import { runGuest } from '../support/guest-run.js';

test('an idle guest waits in real time under --clock host and not under --clock virtual', () => {
  const elf = buildGuest('idle');
  const paced = runGuest(elf, '64M', 60_000);
  assert.equal(paced.exitValue, 0, `${paced.reason}\n${paced.output}`);
  assert.ok(paced.checks.length === 1 && paced.checks[0].ok, paced.output);
  const free = runGuest(elf, '64M', 60_000, ['--clock', 'virtual']);
  assert.equal(free.exitValue, 0, `${free.reason}\n${free.output}`);
  assert.ok(free.checks.length === 1 && free.checks[0].ok, free.output);
  assert.ok(paced.ms >= 1500, `paced run took ${paced.ms} ms, less than the guest's 1.5 s sleep`);
  assert.ok(free.ms < paced.ms - 1000, `--clock virtual (${free.ms} ms) skips the sleep that --clock host (${paced.ms} ms) waits out`);
});
