// Table-driven decoder: prefixes, REX, opcode maps (1-byte, 0F, 0F38, 0F3A), ModRM/SIB/displacement and
// immediates, into Insn records grouped in blocks. Instruction groups (ops/*.ts) register a decode function per
// opcode; the decode function reads its operands and picks the handler specialised for the form it found.
import { EXC_GP, EXC_UD, SEG_CS, SEG_FS, SEG_GS, SEG_NONE } from './constants.js';
import { Insn, REG_AH, type Handler } from './insn.js';
import { S_SEG_ATTR } from './state.js';
import { FAULT } from './interrupts.js';
import { handlerId } from './dispatch.js';
import type { X86Cpu } from './cpu.js';

/** A decode function: reads the rest of the instruction after the opcode and sets i.exec (and fields). */
export type DecodeFn = (d: Decoder, i: Insn) => void;

export const MAP1: (DecodeFn | undefined)[] = new Array<DecodeFn | undefined>(256).fill(undefined);
export const MAP0F: (DecodeFn | undefined)[] = new Array<DecodeFn | undefined>(256).fill(undefined);
export const MAP0F38: (DecodeFn | undefined)[] = new Array<DecodeFn | undefined>(256).fill(undefined);
export const MAP0F3A: (DecodeFn | undefined)[] = new Array<DecodeFn | undefined>(256).fill(undefined);

/** Longest block: long enough to amortise the lookup, short enough to keep interrupt latency low. */
const MAX_BLOCK_INSNS = 64;

export class Block {
  insns: Insn[] = [];
  byteLen = 0;
  valid = true;
  /** GPA page and key under which the block cache holds this block. */
  page = -1;
  key = 0;
  /** GPA page the last instruction spills into, or -1. */
  spillPage = -1;
  /**
   * Links to the blocks that ran next (the last two distinct successors, by linear RIP), valid while the TLB
   * generation and the CPL/mode context are those recorded: they skip the translation and the lookup.
   */
  link1: Block | null = null;
  link1Lo = 0;
  link1Hi = 0;
  link2: Block | null = null;
  link2Lo = 0;
  link2Hi = 0;
  linkGen = -1;
  linkCtx = -1;
}

/** Raises #UD when executed: undefined opcodes and forms invalid in the current mode decode to this. */
export const opUD: Handler = (cpu) => cpu.fault(EXC_UD);

export class Decoder {
  cpu!: X86Cpu;
  // Code reader: host offset of the next byte and of the end of its page, and bytes consumed in the block.
  private host = 0;
  private hostEnd = 0;
  private lo = 0;
  private hi = 0;
  pos = 0;
  /** Set when the current instruction's bytes reached a second page. */
  spillGpaPage = -1;
  private insnStart = 0;

  // Per-instruction prefix state.
  mode64 = true;
  /** Default operand size from CS.D (4) in compatibility mode; 64-bit mode defaults to 4 too. */
  defSize = 4;
  opsize = 4;
  asize = 8;
  rex = 0;
  rexW = false;
  rexR = 0;
  rexX = 0;
  rexB = 0;
  seg = SEG_NONE;
  rep = 0;
  lock = false;
  p66 = false;
  /** Last of 66/F3/F2 for SSE mandatory-prefix selection: 0 none, 1 66, 2 F3, 3 F2. */
  pfx = 0;
  /** A decode function sets this for instructions after which the block must end (branches, mode changes). */
  endBlock = false;

  begin(cpu: X86Cpu, lo: number, hi: number, gpa: number): void {
    this.cpu = cpu;
    this.lo = lo;
    this.hi = hi;
    const host = cpu.codeHost(gpa);
    if (host < 0) cpu.fault(EXC_GP, 0); // executing outside RAM: no sensible instruction stream
    this.host = host;
    this.hostEnd = host - (gpa % 4096) + 4096;
    this.pos = 0;
    this.mode64 = cpu.mode64;
    this.defSize = ((cpu.s[S_SEG_ATTR + SEG_CS] >> 14) & 1) !== 0 || cpu.mode64 ? 4 : 2;
  }

  /** Next code byte (crossing into the next page translates it, which may raise #PF). */
  byte(): number {
    if (this.host >= this.hostEnd) this.nextPage();
    if (this.pos - this.insnStart >= 15) this.cpu.fault(EXC_GP, 0); // longer than 15 bytes
    this.pos++;
    return this.cpu.u8[this.host++];
  }

  private nextPage(): void {
    const lo = (this.lo + this.pos) | 0;
    const hi = this.mode64 && (lo >>> 0) < (this.lo >>> 0) ? (this.hi + 1) | 0 : this.hi;
    const gpa = this.cpu.translateCode(lo, this.mode64 ? hi : 0);
    const host = this.cpu.codeHost(gpa);
    if (host < 0) this.cpu.fault(EXC_GP, 0);
    this.host = host;
    this.hostEnd = host + 4096;
    this.spillGpaPage = Math.floor(gpa / 4096);
  }

  /** True when the next byte starts a new page (blocks end at page boundaries). */
  atPageEnd(): boolean {
    return this.host >= this.hostEnd;
  }

  s8(): number {
    return (this.byte() << 24) >> 24;
  }

  u16(): number {
    return this.byte() | (this.byte() << 8);
  }

  s32(): number {
    return this.byte() | (this.byte() << 8) | (this.byte() << 16) | (this.byte() << 24);
  }

  /** Byte-register operand number: without REX, 4..7 name AH, CH, DH, BH. */
  breg(n: number): number {
    return this.rex === 0 && n >= 4 && n < 8 ? REG_AH + n - 4 : n;
  }

  /**
   * Read ModRM (+SIB, displacement): sets i.reg (with REX.R) and either i.rm (register) or the memory
   * operand fields. Returns the raw ModRM byte.
   */
  modrm(i: Insn): number {
    const m = this.byte();
    const mod = m >> 6;
    const rm = m & 7;
    i.reg = ((m >> 3) & 7) | (this.rexR << 3);
    if (mod === 3) {
      i.rm = rm | (this.rexB << 3);
      return m;
    }
    i.rm = -1;
    i.seg = this.seg;
    i.asize = this.asize;
    if (this.asize === 2) {
      this.modrm16(i, mod, rm);
      return m;
    }
    this.modrm32(i, mod, rm);
    if ((i.base === 4 || i.base === 5) && this.seg === SEG_NONE) i.ss = true;
    return m;
  }

  private modrm32(i: Insn, mod: number, rm: number): void {
    if (rm === 4) {
      const sib = this.byte();
      i.scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | (this.rexX << 3);
      i.index = idx === 4 ? -1 : idx;
      const b = sib & 7;
      if (b === 5 && mod === 0) {
        i.base = -1;
        i.disp = this.s32();
        return;
      }
      i.base = b | (this.rexB << 3);
    } else if (rm === 5 && mod === 0) {
      i.base = -1;
      i.index = -1;
      i.disp = this.s32();
      i.ripRel = this.mode64;
      return;
    } else {
      i.base = rm | (this.rexB << 3);
      i.index = -1;
    }
    if (mod === 1) i.disp = this.s8();
    else if (mod === 2) i.disp = this.s32();
    else i.disp = 0;
    return;
  }

  /** 16-bit addressing (67 prefix in compatibility mode): BX+SI style forms. */
  private modrm16(i: Insn, mod: number, rm: number): void {
    // BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP (disp16 alone when mod 0), BX; the EA code masks to 16 bits.
    if (mod === 0 && rm === 6) {
      i.base = -1; i.index = -1; i.disp = this.u16();
      return;
    }
    i.base = BASE16[rm];
    i.index = INDEX16[rm];
    i.scale = 0;
    if (mod === 1) i.disp = this.s8();
    else if (mod === 2) i.disp = (this.u16() << 16) >> 16;
    else i.disp = 0;
  }

  /** Immediate of the operand size: imm8/16/32, and for size 8 a sign-extended imm32. */
  imm(i: Insn, size: number): void {
    switch (size) {
      case 1: i.immLo = this.byte(); i.immHi = 0; break;
      case 2: i.immLo = this.u16(); i.immHi = 0; break;
      case 4: i.immLo = this.s32(); i.immHi = 0; break;
      default: i.immLo = this.s32(); i.immHi = i.immLo >> 31; break;
    }
  }

  /** Sign-extended imm8 to the operand size (as lo/hi; for sizes below 8 the value is masked by handlers). */
  immS8(i: Insn): void {
    i.immLo = this.s8();
    i.immHi = i.immLo >> 31;
  }

  /** Reset per-instruction state and decode one instruction into `i`. */
  decodeOne(i: Insn): void {
    this.insnStart = this.pos;
    this.rex = 0; this.rexW = false; this.rexR = 0; this.rexX = 0; this.rexB = 0;
    this.seg = SEG_NONE; this.rep = 0; this.lock = false; this.p66 = false; this.pfx = 0;
    let a67 = false;
    let b: number;
    for (; ;) {
      b = this.byte();
      switch (b) {
        case 0x66: this.p66 = true; this.pfx = 1; this.rex = 0; continue;
        case 0x67: a67 = true; this.rex = 0; continue;
        case 0xf0: this.lock = true; this.rex = 0; continue;
        case 0xf2: this.rep = 2; this.pfx = 3; this.rex = 0; continue;
        case 0xf3: this.rep = 1; this.pfx = 2; this.rex = 0; continue;
        case 0x26: case 0x2e: case 0x36: case 0x3e:
          // ES/CS/SS/DS overrides: no effect in 64-bit mode; in compatibility mode we model flat segments only.
          this.rex = 0;
          continue;
        case 0x64: this.seg = SEG_FS; this.rex = 0; continue;
        case 0x65: this.seg = SEG_GS; this.rex = 0; continue;
      }
      if (this.mode64 && (b & 0xf0) === 0x40) {
        this.rex = b;
        continue;
      }
      break;
    }
    if (this.rex !== 0) {
      this.rexW = (this.rex & 8) !== 0;
      this.rexR = (this.rex >> 2) & 1;
      this.rexX = (this.rex >> 1) & 1;
      this.rexB = this.rex & 1;
    }
    if (this.mode64) {
      this.opsize = this.rexW ? 8 : this.p66 ? 2 : 4;
      this.asize = a67 ? 4 : 8;
    } else {
      this.opsize = this.p66 ? (this.defSize === 4 ? 2 : 4) : this.defSize;
      this.asize = a67 ? (this.defSize === 4 ? 2 : 4) : this.defSize;
    }
    i.size = this.opsize;
    i.asize = this.asize;
    i.rep = this.rep;
    i.lock = this.lock;
    i.pfx = this.pfx;
    i.seg = this.seg;
    let fn: DecodeFn | undefined;
    if (b === 0x0f) {
      const b2 = this.byte();
      if (b2 === 0x38) { const b3 = this.byte(); i.opcode = 0x0f3800 | b3; fn = MAP0F38[b3]; }
      else if (b2 === 0x3a) { const b3 = this.byte(); i.opcode = 0x0f3a00 | b3; fn = MAP0F3A[b3]; }
      else { i.opcode = 0x0f00 | b2; fn = MAP0F[b2]; }
    } else {
      i.opcode = b;
      fn = MAP1[b];
    }
    if (fn === undefined) {
      i.exec = opUD;
      this.endBlock = true;
      return;
    }
    fn(this, i);
    // LOCK is valid only on read-modify-write forms with a memory destination. Decode functions that accept it
    // clear i.lock (the processor is one thread of control, so nothing else is needed); any left over is #UD.
    if (i.lock) i.exec = opUD;
  }
}

const BASE16 = [3, 3, 5, 5, 6, 7, 5, 3];
const INDEX16 = [6, 7, 6, 7, -1, -1, -1, -1];

const decoder = new Decoder();

/** Decode a block starting at linear (lo, hi), physical `gpa`. */
export function decodeBlock(cpu: X86Cpu, lo: number, hi: number, gpa: number): Block {
  const d = decoder;
  d.begin(cpu, lo, hi, gpa);
  d.spillGpaPage = -1;
  const b = new Block();
  for (; ;) {
    const i = new Insn(opUD);
    const start = d.pos;
    d.endBlock = false;
    const spillBefore = d.spillGpaPage;
    try {
      d.decodeOne(i);
    } catch (e) {
      if (e !== FAULT) throw e;
      if (b.insns.length === 0) throw e; // the first instruction itself cannot be fetched: fault now
      d.spillGpaPage = spillBefore; // stop before it; it faults when executed as the next block's first
      break;
    }
    i.start = start;
    i.end = d.pos;
    i.id = handlerId(i.exec);
    b.insns.push(i);
    if (d.endBlock || d.spillGpaPage >= 0 || b.insns.length >= MAX_BLOCK_INSNS || d.atPageEnd()) break;
  }
  b.byteLen = d.pos;
  b.spillPage = d.spillGpaPage;
  return b;
}

export { SEG_NONE };
