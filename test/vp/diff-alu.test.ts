// Differential tests (host CPU vs the VP) for the integer ALU, data movement and stack groups.
import { AF, diffSuite, printTotals, type DiffForm } from '../support/diff/diff.js';

const forms: DiffForm[] = [
  { asm: 'add rax, rbx' },
  { asm: 'sub ecx, edx' },
  { asm: 'and al, ah', undefFlags: AF },
  { asm: 'add DWORD PTR [0x200010], esi' },
];

diffSuite('alu', forms);
printTotals('diff-alu');
