// x87 behaviour the differential tests cannot reach from user mode on the host: #NM from CR0.TS/CR0.EM (and
// FWAIT's MP rule), no #MF while CR0.NE is clear, and the FIP/FOP/FDP recorded for the last non-control
// instruction (SDM vol. 1, 8.1.8 and 8.6; vol. 3, 2.5 CR0.MP/EM/TS/NE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareMachine, CODE } from '../support/bare-machine.js';
import type { Fault } from '../../src/vp/x86/interrupts.js';
import { S_CR0 } from '../../src/vp/x86/state.js';

function machine(): { m: BareMachine; faults: number[] } {
  const m = new BareMachine();
  const faults: number[] = [];
  const cpu = m.engine.cpu;
  cpu.handleFault = (f: Fault): void => { faults.push(f.vector); cpu.requestExit(-1); };
  return { m, faults };
}

const FLD1 = [0xd9, 0xe8];
const FWAIT = [0x9b];
const HLT = [0xf4];

test('x87: CR0.TS and CR0.EM raise #NM; FWAIT only with TS and MP', () => {
  for (const [cr0bits, code, want] of [
    [0x8, FLD1, 7], [0x4, FLD1, 7], [0x8 | 0x2, FWAIT, 7], [0x4, FWAIT, -1], [0, FLD1, -1],
  ] as [number, number[], number][]) {
    const { m, faults } = machine();
    const cpu = m.engine.cpu;
    cpu.s[S_CR0] = (cpu.s[S_CR0] & ~0xe) | cr0bits;
    m.load(CODE, [...code, ...HLT]);
    m.run(100);
    assert.equal(faults.length === 0 ? -1 : faults[0], want, `CR0 bits ${cr0bits.toString(16)} code ${code}`);
  }
});

test('x87: a pending unmasked exception raises #MF at the next waiting instruction only when CR0.NE is set', () => {
  // fldcw [0x6000] (all unmasked); fldz; fld1; fdiv st(0), st(1) (ZE pending); fnstsw ax (no wait); fwait
  const code = [0xd9, 0x2c, 0x25, 0x00, 0x60, 0x00, 0x00, 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1, 0xdf, 0xe0, ...FWAIT, ...HLT];
  for (const ne of [true, false]) {
    const { m, faults } = machine();
    const cpu = m.engine.cpu;
    m.u8[0x6000] = 0x40; m.u8[0x6001] = 0x03;
    if (!ne) cpu.s[S_CR0] &= ~0x20;
    m.load(CODE, code);
    m.run(100);
    assert.equal(Number(m.reg('rax') & 0x80n), 0x80, 'FSW.ES after the unmasked zero divide');
    assert.deepEqual(faults, ne ? [16] : []);
  }
});

test('x87: FNSTENV reports FIP, FOP and FDP of the last non-control instruction', () => {
  // fld qword [0x6008]; fnstcw [0x6010] (control: not recorded); fnstenv [0x6100]
  const { m } = machine();
  const code = [0xdd, 0x04, 0x25, 0x08, 0x60, 0x00, 0x00, 0xd9, 0x3c, 0x25, 0x10, 0x60, 0x00, 0x00, 0xd9, 0x34, 0x25, 0x00, 0x61, 0x00, 0x00, ...HLT];
  m.load(CODE, code);
  m.run(100);
  const env = new DataView(m.memory, 0x6100, 28);
  assert.equal(env.getUint32(12, true), CODE, 'FIP');
  assert.equal((env.getUint32(16, true) >>> 16) & 0x7ff, 0x504, 'FOP = (DD & 7) << 8 | ModRM 04');
  assert.equal(env.getUint32(20, true), 0x6008, 'FDP');
});
