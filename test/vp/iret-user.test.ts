// IRETQ to CPL 3 with a user stack above 4 GiB, then SYSCALL back: the restored RSP must keep its upper half.
// (Regression: IRET read the CS descriptor's L bit after the SS descriptor lookup had overwritten the shared
// descriptor scratch, so RSP's upper half was dropped and Linux's first user process faulted at _start.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareMachine, CODE, PD, PDPT, PML4 } from '../support/bare-machine.js';
import { EXIT_HLT } from '../../src/vp/index.js';

test('IRETQ to user mode keeps a user RSP above 4 GiB; SYSCALL returns to the kernel', () => {
  const m = new BareMachine();
  const dv = m.dv;
  // User-accessible mappings: the identity map (PML4[0]) and an alias of it at 0x7f00_0000_0000 (PML4[254]).
  dv.setBigUint64(PML4, dv.getBigUint64(PML4, true) | 4n, true);
  dv.setBigUint64(PML4 + 254 * 8, BigInt(PDPT | 7), true);
  dv.setBigUint64(PDPT, dv.getBigUint64(PDPT, true) | 4n, true);
  for (let k = 0; k < 512; k++) dv.setBigUint64(PD + k * 8, dv.getBigUint64(PD + k * 8, true) | 4n, true);
  const userRsp = 0x7f00_0060_0000n;
  const user = CODE + 0x100, kernel = CODE + 0x200;
  // Kernel: push SS, RSP, RFLAGS, CS, RIP; iretq.
  const code = [
    0x6a, 0x1b, // push 0x1b (user data)
    0x48, 0xb8, ...le(userRsp, 8), 0x50, // mov rax, userRsp; push rax
    0x6a, 0x02, // push 2 (rflags)
    0x6a, 0x23, // push 0x23 (user code, 64-bit)
    0x68, ...le(BigInt(user), 4), // push user
    0x48, 0xcf, // iretq
  ];
  m.load(CODE, code);
  m.load(user, [0x0f, 0x05]); // syscall
  m.load(kernel, [0xf4]); // hlt
  m.engine.setRegister('lstar', BigInt(kernel));
  m.engine.setRegister('star', (0x10n << 48n) | (0x08n << 32n));
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rsp'), userRsp, 'RSP after IRETQ to CPL 3 and SYSCALL (which leaves RSP alone)');
  assert.equal(m.reg('rcx'), BigInt(user + 2), 'SYSCALL saved the user RIP');
});

function le(v: bigint, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(Number((v >> BigInt(8 * k)) & 0xffn));
  return out;
}
