// Processor-level tests of the SSE groups on the BareMachine: the availability faults (#UD when CR0.EM is set
// or CR4.OSFXSR clear, #NM when CR0.TS is set), unmasked SIMD exceptions (#XM with CR4.OSXMMEXCPT, #UD
// without; destination unchanged, flags recorded), opcodes of extensions CPUID does not report (SSE3, SSSE3,
// SSE4; the MMX-register forms are MMX's, tested in mmx.test.ts) staying #UD, the FXSAVE fields the differential test cannot compare on this
// AMD host (MXCSR_MASK, FOP/FIP), LDMXCSR's reserved-bit #GP, and RCPPS/RSQRTPS accuracy (the SDM allows a
// relative error of at most 1.5 * 2^-12; checked against the exact value over many inputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareMachine, CODE } from '../support/bare-machine.js';
import { EXIT_HLT } from '../../src/vp/index.js';
import type { Fault } from '../../src/vp/x86/interrupts.js';
import { S_MXCSR, S_XMM } from '../../src/vp/x86/state.js';

const DATA = 0x200000;

interface Run { vector: number; errorCode: number; exit: number; m: BareMachine }

function machine(): { m: BareMachine; fault: { f: Fault | null } } {
  const m = new BareMachine();
  const box: { f: Fault | null } = { f: null };
  const cpu = m.engine.cpu;
  cpu.handleFault = (f: Fault): void => { box.f = { vector: f.vector, errorCode: f.errorCode } as Fault; cpu.requestExit(-1); };
  return { m, fault: box };
}

/** Run `code` (then HLT) on a fresh machine after `setup`; report the exception vector (-1: none). */
function run(code: number[], setup: (m: BareMachine) => void = () => undefined): Run {
  const { m, fault } = machine();
  setup(m);
  m.load(CODE, [...code, 0xf4]);
  const exit = m.run(1000);
  const f = fault.f;
  return { vector: f === null ? -1 : f.vector, errorCode: f === null ? -1 : f.errorCode, exit, m };
}

function setXmm(m: BareMachine, r: number, words: number[]): void {
  for (let k = 0; k < 4; k++) m.engine.cpu.s[S_XMM + 4 * r + k] = words[k] | 0;
}

function xmm(m: BareMachine, r: number): number[] {
  return [0, 1, 2, 3].map((k) => m.engine.cpu.s[S_XMM + 4 * r + k] >>> 0);
}

const ADDPS = [0x0f, 0x58, 0xca]; // addps xmm1, xmm2
const CR0_DEFAULT = 0x80050033n, CR4_DEFAULT = 0x220n;

test('SSE runs with CR4.OSFXSR set and CR0.EM/TS clear', () => {
  const r = run(ADDPS, (m) => { setXmm(m, 1, [0x3f800000, 0, 0, 0]); setXmm(m, 2, [0x40000000, 0, 0, 0]); });
  assert.equal(r.vector, -1);
  assert.equal(r.exit, EXIT_HLT);
  assert.equal(xmm(r.m, 1)[0], 0x40400000); // 1 + 2 = 3
});

test('SSE raises #UD when CR0.EM is set or CR4.OSFXSR is clear, #NM when CR0.TS is set', () => {
  assert.equal(run(ADDPS, (m) => m.engine.setRegister('cr0', CR0_DEFAULT | 4n)).vector, 6);
  assert.equal(run(ADDPS, (m) => m.engine.setRegister('cr4', CR4_DEFAULT & ~0x200n)).vector, 6);
  assert.equal(run(ADDPS, (m) => m.engine.setRegister('cr0', CR0_DEFAULT | 8n)).vector, 7);
  // #UD takes precedence over #NM.
  assert.equal(run(ADDPS, (m) => m.engine.setRegister('cr0', CR0_DEFAULT | 8n | 4n)).vector, 6);
  // MOVDQA and a memory form are checked before their memory access.
  assert.equal(run([0x66, 0x0f, 0x6f, 0x04, 0x25, 0x01, 0, 0x20, 0], (m) => m.engine.setRegister('cr0', CR0_DEFAULT | 8n)).vector, 7);
  // FXSAVE: #NM with TS or EM, but no OSFXSR requirement.
  const fxsave = [0x48, 0x0f, 0xae, 0x04, 0x25, 0, 0, 0x20, 0];
  assert.equal(run(fxsave, (m) => m.engine.setRegister('cr0', CR0_DEFAULT | 8n)).vector, 7);
  assert.equal(run(fxsave, (m) => m.engine.setRegister('cr0', CR0_DEFAULT | 4n)).vector, 7);
  assert.equal(run(fxsave, (m) => m.engine.setRegister('cr4', CR4_DEFAULT & ~0x200n)).vector, -1);
});

test('misaligned 16-byte operands of aligned forms raise #GP(0); MOVUPS and scalar forms do not', () => {
  const movapsLoad = [0x0f, 0x28, 0x04, 0x25, 0x08, 0, 0x20, 0]; // movaps xmm0, [0x200008]
  const r = run(movapsLoad);
  assert.equal(r.vector, 13);
  assert.equal(r.errorCode, 0);
  assert.equal(run([0x0f, 0x10, 0x04, 0x25, 0x08, 0, 0x20, 0]).vector, -1); // movups
  assert.equal(run([0xf3, 0x0f, 0x58, 0x04, 0x25, 0x03, 0, 0x20, 0]).vector, -1); // addss xmm0, [0x200003]
  assert.equal(run([0x66, 0x0f, 0xef, 0x04, 0x25, 0x04, 0, 0x20, 0]).vector, 13); // pxor xmm0, [0x200004]
});

test('an unmasked invalid or divide-by-zero exception raises #XM (OSXMMEXCPT) or #UD, leaving the destination', () => {
  const divss = [0xf3, 0x0f, 0x5e, 0xca]; // divss xmm1, xmm2
  const setup = (m: BareMachine, mxcsr: number, cr4 = CR4_DEFAULT | 0x400n): void => {
    m.engine.setRegister('cr4', cr4);
    m.engine.cpu.s[S_MXCSR] = mxcsr;
    setXmm(m, 1, [0x3f800000, 0x11111111, 0x22222222, 0x33333333]);
    setXmm(m, 2, [0, 0, 0, 0]); // 1 / 0
  };
  // Divide-by-zero masked: infinity, ZE recorded.
  let r = run(divss, (m) => setup(m, 0x1f80));
  assert.equal(r.vector, -1);
  assert.deepEqual(xmm(r.m, 1), [0x7f800000, 0x11111111, 0x22222222, 0x33333333]);
  assert.equal(r.m.engine.cpu.s[S_MXCSR], 0x1f84);
  // Unmasked (ZM clear): #XM, destination unchanged, ZE recorded.
  r = run(divss, (m) => setup(m, 0x1f80 & ~0x200));
  assert.equal(r.vector, 19);
  assert.deepEqual(xmm(r.m, 1), [0x3f800000, 0x11111111, 0x22222222, 0x33333333]);
  assert.equal(r.m.engine.cpu.s[S_MXCSR], (0x1f80 & ~0x200) | 4);
  assert.equal(r.m.reg('rip'), BigInt(CODE)); // a fault: RIP at the instruction
  // Without CR4.OSXMMEXCPT: #UD.
  assert.equal(run(divss, (m) => setup(m, 0x1f80 & ~0x200, CR4_DEFAULT)).vector, 6);
  // Invalid (0/0 in lane 0 of DIVPS) with IM clear: #XM; lane 1's masked precision exception is not recorded.
  r = run([0x0f, 0x5e, 0xca], (m) => {
    setup(m, 0x1f80 & ~0x80);
    setXmm(m, 1, [0, 0x3f800000, 0, 0]);
    setXmm(m, 2, [0, 0x40400000, 0x3f800000, 0x3f800000]); // 0/0, 1/3 (inexact), 0/1, 0/1
  });
  assert.equal(r.vector, 19);
  assert.equal(r.m.engine.cpu.s[S_MXCSR], (0x1f80 & ~0x80) | 1);
  assert.deepEqual(xmm(r.m, 1), [0, 0x3f800000, 0, 0]);
  // COMISS with a QNaN and IM clear: #XM, flags untouched.
  r = run([0x0f, 0x2f, 0xca], (m) => { setup(m, 0x1f80 & ~0x80); setXmm(m, 2, [0x7fc00000, 0, 0, 0]); });
  assert.equal(r.vector, 19);
});

test('opcodes of unreported extensions (SSE3, SSSE3, SSE4.x) are #UD', () => {
  const cases: [string, number[]][] = [
    ['pshufb xmm1, xmm2', [0x66, 0x0f, 0x38, 0x00, 0xca]],
    ['palignr xmm1, xmm2, 1', [0x66, 0x0f, 0x3a, 0x0f, 0xca, 0x01]],
    ['pcmpistri xmm1, xmm2, 0', [0x66, 0x0f, 0x3a, 0x63, 0xca, 0x00]],
    ['pabsb xmm1, xmm2', [0x66, 0x0f, 0x38, 0x1c, 0xca]],
    ['pminsd xmm1, xmm2', [0x66, 0x0f, 0x38, 0x39, 0xca]],
    ['ptest xmm1, xmm2', [0x66, 0x0f, 0x38, 0x17, 0xca]],
    ['roundps xmm1, xmm2, 0', [0x66, 0x0f, 0x3a, 0x08, 0xca, 0x00]],
    ['lddqu xmm1, [rax]', [0xf2, 0x0f, 0xf0, 0x08]],
    ['movddup xmm1, xmm2', [0xf2, 0x0f, 0x12, 0xca]],
    ['movsldup xmm1, xmm2', [0xf3, 0x0f, 0x12, 0xca]],
    ['movshdup xmm1, xmm2', [0xf3, 0x0f, 0x16, 0xca]],
    ['addsubps xmm1, xmm2', [0xf2, 0x0f, 0xd0, 0xca]],
    ['haddps xmm1, xmm2', [0xf2, 0x0f, 0x7c, 0xca]],
    ['movhlps with 66 (no such form)', [0x66, 0x0f, 0x12, 0xca]],
    ['psrlq xmm1, 1 as /1 (no such form)', [0x66, 0x0f, 0x73, 0xc9, 0x01]],
    ['lock addps', [0xf0, 0x0f, 0x58, 0xca]],
  ];
  for (const [name, code] of cases) {
    const r = run(code, (m) => m.engine.setRegister('rax', BigInt(DATA)));
    assert.equal(r.vector, 6, name);
  }
});

test('LDMXCSR with a reserved bit raises #GP(0); FXSAVE reports MXCSR_MASK 0xFFFF and the last x87 opcode/IP', () => {
  // ldmxcsr [0x200000] with bit 16 set
  let r = run([0x0f, 0xae, 0x14, 0x25, 0, 0, 0x20, 0], (m) => m.u8.set([0x80, 0x1f, 0x01, 0x00], DATA));
  assert.equal(r.vector, 13);
  assert.equal(r.m.engine.cpu.s[S_MXCSR], 0x1f80);
  // DAZ (bit 6) is accepted.
  r = run([0x0f, 0xae, 0x14, 0x25, 0, 0, 0x20, 0], (m) => m.u8.set([0xc0, 0x1f, 0x00, 0x00], DATA));
  assert.equal(r.vector, -1);
  assert.equal(r.m.engine.cpu.s[S_MXCSR], 0x1fc0);
  // fninit; fld1; fxsave64 [0x200000]
  r = run([0xdb, 0xe3, 0xd9, 0xe8, 0x48, 0x0f, 0xae, 0x04, 0x25, 0, 0, 0x20, 0]);
  assert.equal(r.vector, -1);
  const dv = new DataView(r.m.memory, DATA, 512);
  assert.equal(dv.getUint32(28, true), 0xffff);
  assert.equal(dv.getUint32(24, true), 0x1f80);
  assert.equal(dv.getUint16(0, true), 0x37f);
  assert.equal(dv.getUint8(4), 0x80); // abridged tags: the pushed register is physical 7
  assert.equal(dv.getUint16(6, true), 0x1e8); // FOP of FLD1 (D9 E8)
  assert.equal(Number(dv.getBigUint64(8, true)), CODE + 2); // FIP: the FLD1
  assert.equal(dv.getBigUint64(32, true), 0x8000000000000000n); // ST0 = 1.0
  assert.equal(dv.getUint16(40, true), 0x3fff);
  // Misaligned FXRSTOR: #GP(0).
  assert.equal(run([0x48, 0x0f, 0xae, 0x0c, 0x25, 0x08, 0, 0x20, 0]).vector, 13);
});

/** Exact 1/x or 1/sqrt(x) vs the VP's RCPPS/RSQRTPS over many normal inputs: relative error within 1.5 * 2^-12. */
test('RCPPS and RSQRTPS stay within the architectural error bound', () => {
  const { m, fault } = machine();
  const code = [0x0f, 0x53, 0xca, 0x0f, 0x52, 0xda, 0xf4]; // rcpps xmm1, xmm2; rsqrtps xmm3, xmm2; hlt
  m.load(CODE, code);
  const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  const bound = 1.5 * 2 ** -12;
  let worst = 0, checked = 0, seed = 12345;
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) | 0; return seed >>> 0; };
  for (let n = 0; n < 2000; n++) {
    const words = [0, 1, 2, 3].map(() => ((1 + (rnd() % 252)) << 23) | (rnd() & 0x7fffff)); // positive normals
    setXmm(m, 2, words);
    m.engine.setRegister('rip', BigInt(CODE));
    assert.equal(m.run(10), EXIT_HLT);
    assert.equal(fault.f, null);
    const rcp = xmm(m, 1), rsq = xmm(m, 3);
    for (let k = 0; k < 4; k++) {
      u32[0] = words[k]; const x = f32[0];
      const exactR = 1 / x, exactS = 1 / Math.sqrt(x);
      u32[0] = rcp[k]; const gotR = f32[0];
      u32[0] = rsq[k]; const gotS = f32[0];
      if (Math.abs(exactR) >= 2 ** -126) { worst = Math.max(worst, Math.abs(gotR - exactR) / exactR); checked++; }
      worst = Math.max(worst, Math.abs(gotS - exactS) / exactS);
      checked++;
    }
  }
  assert.ok(checked > 15000);
  assert.ok(worst <= bound, `worst relative error ${worst} > ${bound}`);
});
