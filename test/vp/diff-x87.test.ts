// Differential tests (host CPU vs the VP) for the x87 FPU (ops/x87*.ts): every implemented form, bit-exact 80-bit
// results, FSW (condition codes, exception flags, ES/B, TOP), the full tag word, FCW, stored memory operands and
// EFLAGS of FCOMI*. The forms, the operand generator and the state set-up/dump are in test/support/diff/x87.ts.
// F2XM1/FYL2X/FYL2XP1/FPTAN/FPATAN/FSIN/FCOS/FSINCOS are approximations: runTolerance compares their results
// with the host within the documented tolerance (2^-51 relative) and everything else exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSuite, printTotals } from '../support/diff/diff.js';
import { forms, runTolerance, tolForms } from '../support/diff/x87.js';

diffSuite('x87', forms);

test('diff: x87 transcendental functions (tolerance)', () => {
  const rep = runTolerance(tolForms);
  console.log(`diff x87 transcendental: ${tolForms.length} forms, ${rep.cases} cases, max relative error ${rep.maxRel.toExponential(2)}`);
  assert.ok(rep.cases >= 200 * tolForms.length - 256);
  assert.equal(rep.failures.length, 0, rep.failures.filter(Boolean).join('\n'));
});

printTotals('diff-x87');
