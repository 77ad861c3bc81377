// The local APIC seen from a freestanding guest booted with `hypatia run` (test/guests/apic.c): timer modes,
// HLT wake-up, self-IPI priority, TPR/CR8, x2APIC. Every check must pass, and two runs must print the same
// TSC readings (virtual time makes interrupts arrive at the same points of the instruction stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest } from '../support/guest-build.js';
import { runGuest } from '../support/guest-run.js';

const EXPECTED = [
  'CPUID.1 reports APIC, x2APIC and TSC-deadline',
  'IA32_APIC_BASE after reset',
  'version register',
  'reset',
  'one-shot timer fires once',
  'periodic timer fires repeatedly',
  'periodic expiries are one period apart',
  'IA32_TSC_DEADLINE reads back while armed',
  'HLT wakes at the TSC deadline',
  'IA32_TSC_DEADLINE reads 0 after it fired',
  'self-IPIs wait in IRR while IF=0',
  'pending interrupts are taken highest class first',
  'TPR 0x50 holds vector 0x55',
  'lowering TPR through CR8 lets it in',
  'x2APIC ID 0, LDR cluster 0 bit 0',
  'x2APIC SELF IPI',
  '#GP(0) on RDMSR of APR (no such register in x2APIC mode)',
  '#GP(0) on the x2APIC -> xAPIC transition',
];

test('guest apic: every check passes, and a second run prints identical output (TSC readings included)', () => {
  const elf = buildGuest('apic');
  const a = runGuest(elf), b = runGuest(elf);
  const failed = a.checks.filter((c) => !c.ok).map((c) => c.line);
  assert.deepEqual(failed, [], `${a.output}${a.stderr}`);
  assert.deepEqual(a.checks.map((c) => c.what), EXPECTED, a.output);
  assert.equal(a.reason, 'exit', a.output + a.stderr);
  assert.equal(a.exitValue, 0);
  assert.match(a.output, /^# periodic gap 1: \d+$/m, 'TSC readings are printed');
  assert.equal(b.output, a.output, 'deterministic: identical output, TSC readings included');
});
