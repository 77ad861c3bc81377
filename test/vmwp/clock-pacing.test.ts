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

// test/guests/busy.c spins reading the TSC until 1 s of its own clock has passed. Under --clock host its clock is
// stepped forward to the host's whenever the software processor falls behind, so it finishes after about 1 s of
// real time and saw steps of over 1 ms; under --clock virtual the same second costs 100 M instructions' worth of
// reads and the clock only ever moves by an instruction's worth at a time. Neither may see the clock go back.
test("a busy guest's clock keeps up with the host's under --clock host, stepping forward, never back", () => {
  const elf = buildGuest('busy');
  const stats = (r: ReturnType<typeof runGuest>): { reads: number; step: number } => {
    assert.equal(r.exitValue, 0, `${r.reason}\n${r.output}`);
    assert.ok(r.checks.length === 1 && r.checks[0].ok, r.output);
    const m = /# reads (\d+) largest-step (\d+)/.exec(r.output);
    assert.ok(m !== null, r.output);
    return { reads: Number(m[1]), step: Number(m[2]) };
  };
  const host = runGuest(elf, '64M', 60_000);
  const h = stats(host);
  assert.ok(host.ms >= 1000, `the guest's second passed in ${host.ms} ms of the host's: its clock ran ahead`);
  assert.ok(host.ms < 5000, `the guest's second took ${host.ms} ms of the host's: its clock fell behind`);
  assert.ok(h.step > 1_000_000, `largest step ${h.step} TSC ticks: the clock was never stepped forward`);
  const virt = runGuest(elf, '64M', 120_000, ['--clock', 'virtual']);
  const v = stats(virt);
  assert.ok(v.step < 1000, `largest step ${v.step} TSC ticks under --clock virtual`);
  assert.ok(v.reads > h.reads, `virtual time needed more reads (${v.reads}) than the host-paced run (${h.reads})`);
});
