// Throwaway runner for test guests on the BareMachine, used until `hypatia run --kernel` exists: loads an
// ELF's PT_LOAD segments, enters at e_entry in 64-bit mode at CPL 0, collects COM1 output, stops on port 0xf4.
import { readFileSync } from 'node:fs';
import { BareMachine } from './bare-machine.js';
import { EXIT_BUDGET, EXIT_HLT, EXIT_TRIPLE_FAULT, type CpuidTable } from '../../src/vp/index.js';

export interface GuestRun { output: string; exitValue: number | undefined; reason: string; instructions: number }

export function runGuestBare(elfPath: string, cpuid: CpuidTable = new Map(), budget = 200_000_000): GuestRun {
  const m = new BareMachine(64 << 20, cpuid);
  const elf = readFileSync(elfPath);
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46 || elf[4] !== 2) throw new Error('not an ELF64 file');
  const entry = Number(dv.getBigUint64(24, true));
  const phoff = Number(dv.getBigUint64(32, true));
  const phentsize = dv.getUint16(54, true), phnum = dv.getUint16(56, true);
  for (let k = 0; k < phnum; k++) {
    const p = phoff + k * phentsize;
    if (dv.getUint32(p, true) !== 1) continue;
    const off = Number(dv.getBigUint64(p + 8, true));
    const paddr = Number(dv.getBigUint64(p + 24, true));
    const filesz = Number(dv.getBigUint64(p + 32, true));
    const memsz = Number(dv.getBigUint64(p + 40, true));
    m.u8.fill(0, paddr, paddr + memsz);
    m.load(paddr, elf.subarray(off, off + filesz));
  }
  m.engine.setRegister('rip', BigInt(entry));
  let out = '';
  let exitValue: number | undefined;
  const plat = m.platform;
  plat.ioRead = (port: number): number => (port === 0x3fd ? 0x60 : 0xff);
  plat.ioWrite = (port: number, _size: number, value: number): void => {
    if (port === 0x3f8) out += String.fromCharCode(value & 0xff);
    else if (port === 0xf4) { exitValue = value & 0xff; m.engine.requestStop(); }
  };
  let reason = 'budget';
  let left = budget;
  while (left > 0) {
    const before = m.engine.instructionsRetired;
    const r = m.run(Math.min(left, 1_000_000));
    left -= m.engine.instructionsRetired - before;
    if (exitValue !== undefined) { reason = 'exit'; break; }
    if (r === EXIT_HLT) { reason = 'hlt'; break; }
    if (r === EXIT_TRIPLE_FAULT) { reason = 'triple-fault'; break; }
    if (r !== EXIT_BUDGET) { reason = `exit ${r}`; break; }
  }
  if (process.env.GUEST_DEBUG) console.error(JSON.stringify(m.engine.inspect()));
  return { output: out, exitValue, reason, instructions: m.engine.instructionsRetired };
}
