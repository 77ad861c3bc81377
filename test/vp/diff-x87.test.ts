// Differential tests (host CPU vs the VP) for the x87 FPU (ops/x87*.ts): every implemented form, bit-exact 80-bit
// results, FSW (condition codes, exception flags, ES/B, TOP), the full tag word, FCW, stored memory operands and
// EFLAGS of FCOMI*. The forms, the operand generator and the state set-up/dump are in test/support/diff/x87.ts.
import { diffSuite, printTotals } from '../support/diff/diff.js';
import { forms } from '../support/diff/x87.js';

diffSuite('x87', forms);
printTotals('diff-x87');
