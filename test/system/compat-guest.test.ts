// Compatibility mode as a guest observes it (test/guests/compat.c, booted with `hypatia run`): 32-bit code
// segments entered at CPL 0 (far return) and CPL 3 (IRETQ, SYSRETL), exceptions and software interrupts taken
// from compatibility mode into 64-bit handlers and returned from with IRETQ, far JMP back to 64-bit code, and
// SYSCALL from compatibility mode being #UD on the GenuineIntel profile. The expectations live in the guest
// (Intel SDM vol. 3 5.2.1, 6.14, SYSCALL/SYSRET); this file checks that each ran and passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest } from '../support/guest-build.js';
import { runGuest } from '../support/guest-run.js';

const EXPECTED = [
  'far return to a 32-bit code segment at CPL 0 runs 32-bit code',
  '#UD in compatibility mode at CPL 0 reaches the 64-bit handler',
  'IRETQ from the handler resumes the 32-bit code after UD2',
  'far JMP ptr16:32 returns to 64-bit code',
  'IRETQ to a 32-bit code segment at CPL 3 runs 32-bit code',
  'INT 0x80 from compatibility mode enters the 64-bit handler',
  'code after INT3, INTO and SYSCALL ran in compatibility mode again',
  'SYSCALL in compatibility mode is #UD on the GenuineIntel profile (CSTAR not entered)',
  'INT3 at CPL 3 in compatibility mode',
  'SYSRETL enters the 32-bit user code segment',
];

test('guest compat: 32-bit code segments at CPL 0 and 3, exceptions from compatibility mode, SYSRETL', () => {
  const r = runGuest(buildGuest('compat'));
  const report = `run ended by ${r.reason} (exit value ${String(r.exitValue)}) after ${r.ms} ms; guest output:\n${r.output}${r.stderr}`;
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.line);
  assert.deepEqual(failed, [], `checks failed inside the guest:\n${failed.join('\n')}\n\n${report}`);
  assert.deepEqual(r.checks.map((c) => c.what), EXPECTED, report);
  assert.match(r.output, new RegExp(`^# done: ${EXPECTED.length} checks, 0 failed$`, 'm'), report);
  assert.equal(r.reason, 'exit', report);
  assert.equal(r.exitValue, 0, report);
});
