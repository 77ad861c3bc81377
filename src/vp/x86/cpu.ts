// The software x86-64 virtual processor: architectural state, memory access through a software TLB over
// 4-level paging and the partition's second-level map, the decoded-block cache, and the run loop.
// Instruction semantics live in ops/*.ts; exception and interrupt delivery in interrupts.ts.
import {
  CR0_PG, CR0_WP, EFER_LMA, EFER_NXE, EXC_GP, EXC_PF, EXC_SS, FLAG_IF, PF_I, PF_P, PF_RSVD, PF_U, PF_W, SEG_CS,
} from './constants.js';
import {
  S_CPL, S_CR0, S_CR2, S_CR3, S_EFER, S_INT_SHADOW, S_RFLAGS, S_RIP, S_SEG_ATTR, STATE_INTS,
} from './state.js';
import type { Insn } from './insn.js';
import { Block, decodeBlock } from './decoder.js';
import { blockRunner, type BlockRunner } from './dispatch.js';
import { deliverException, deliverInterrupt, FAULT, type Fault } from './interrupts.js';
import {
  EXIT_BUDGET, EXIT_HLT, EXIT_STOP, EXIT_TRIPLE_FAULT, GPA_EXEC, GPA_READ, GPA_WRITE,
  type CpuidTable, type SecondLevelMap, type VpPlatform,
} from './platform.js';

const TLB_BITS = 12;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
/**
 * TLB tags are (page address | generation): the low 12 bits of a page address are free, so they carry the
 * generation the entry was filled in. A full flush just moves to the next generation (O(1), which matters
 * because Linux reloads CR3 on every kernel entry/exit with page-table isolation); entries from older
 * generations never match. 0 is never a generation, so 0 means "empty".
 */
const TLB_EMPTY = 0;
const TLB_MAX_GEN = 0xfff;

const JC_SIZE = 4096;
const JC_MASK = JC_SIZE - 1;

/** Record `next` (at linear lo, hi) as the most recent successor of `b`, keeping the previous one as link2. */
function link(b: Block, next: Block, lo: number, hi: number, gen: number, ctx: number): void {
  if (b.linkGen !== gen || b.linkCtx !== ctx) {
    b.link2 = null;
    b.linkGen = gen; b.linkCtx = ctx;
  } else {
    b.link2 = b.link1; b.link2Lo = b.link1Lo; b.link2Hi = b.link1Hi;
  }
  b.link1 = next; b.link1Lo = lo; b.link1Hi = hi;
}

/** Access kinds for translation. */
export const ACC_READ = 0;
export const ACC_WRITE = 1;
export const ACC_EXEC = 2;

/** One software TLB (kernel or user privilege): tags and host byte offsets per access kind. */
class Tlb {
  readonly rTagLo = new Int32Array(TLB_SIZE);
  readonly rTagHi = new Int32Array(TLB_SIZE);
  readonly rHost = new Int32Array(TLB_SIZE);
  readonly wTagLo = new Int32Array(TLB_SIZE);
  readonly wTagHi = new Int32Array(TLB_SIZE);
  readonly wHost = new Int32Array(TLB_SIZE);
  /** GPA page of each write entry, so marking a page as code can revoke fast writes to it. */
  readonly wGpaPage = new Int32Array(TLB_SIZE);
  readonly xTagLo = new Int32Array(TLB_SIZE);
  readonly xTagHi = new Int32Array(TLB_SIZE);
  readonly xGpaPage = new Int32Array(TLB_SIZE);

  clear(): void {
    this.rTagLo.fill(TLB_EMPTY);
    this.wTagLo.fill(TLB_EMPTY);
    this.xTagLo.fill(TLB_EMPTY);
  }

  flushPage(lo: number, hi: number, gen: number): void {
    const idx = (lo >>> 12) & TLB_MASK;
    const tag = (lo & ~0xfff) | gen;
    if (this.rTagLo[idx] === tag && this.rTagHi[idx] === hi) this.rTagLo[idx] = TLB_EMPTY;
    if (this.wTagLo[idx] === tag && this.wTagHi[idx] === hi) this.wTagLo[idx] = TLB_EMPTY;
    if (this.xTagLo[idx] === tag && this.xTagHi[idx] === hi) this.xTagLo[idx] = TLB_EMPTY;
  }

  revokeWritesTo(gpaPage: number): void {
    const g = this.wGpaPage, t = this.wTagLo;
    for (let k = 0; k < TLB_SIZE; k++) if (g[k] === gpaPage) t[k] = TLB_EMPTY;
  }
}

export class X86Cpu {
  /** Views of the hypervisor's system memory (guest RAM pages live somewhere inside it). */
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly u16: Uint16Array;
  readonly f64: Float64Array;
  /** This VP's architectural state (see state.ts), a view of the same memory. */
  readonly s: Int32Array;
  /** Float64 view of the state block, for the x87 registers. */
  readonly sf64: Float64Array;
  /** Float32 view of the state block, for single-precision XMM lanes. */
  readonly sf32: Float32Array;
  readonly slat: SecondLevelMap;
  readonly platform: VpPlatform;
  cpuid: CpuidTable;
  /** VP index within the partition (for diagnostics and APIC id). */
  readonly index: number;

  // Software TLBs: the active one follows CPL (user accesses may only use U=1 pages).
  private readonly kernelTlb = new Tlb();
  private readonly userTlb = new Tlb();
  rTagLo: Int32Array; rTagHi: Int32Array; rHost: Int32Array;
  wTagLo: Int32Array; wTagHi: Int32Array; wHost: Int32Array;
  private tlb: Tlb;
  /**
   * Jump cache: blocks by linear address, for successors the two per-block links miss (returns, indirect
   * jumps). Entries carry the TLB generation and context they were filled under (jcStamp), so a flush or a
   * mode change retires them without clearing anything.
   */
  private readonly jcLo = new Int32Array(JC_SIZE);
  private readonly jcHi = new Int32Array(JC_SIZE);
  private readonly jcStamp = new Int32Array(JC_SIZE).fill(-1);
  private readonly jcBlock: (Block | null)[] = new Array<Block | null>(JC_SIZE).fill(null);
  /** Current TLB generation (low 12 bits of every live tag); it also validates cached block-to-block links. */
  tlbGen = 1;

  // Decoded blocks, two-level: GPA page -> (offset * 4 + modeKey) -> block. Invalidation drops a whole page.
  private readonly pageBlocks: (Map<number, Block> | undefined)[];
  /** Blocks whose last instruction spills into a page, listed under that page too. */
  private readonly pageSpill: (Block[] | undefined)[];
  /** Nonzero for GPA pages holding decoded code: writes to them take the slow path and invalidate. */
  readonly codePage: Uint8Array;

  // Execution state of the running block.
  /** Next instruction pointer of the executing instruction (branches overwrite it). */
  nipLo = 0;
  nipHi = 0;
  /** Start of the executing block (linear), and the executing instruction. */
  blockLo = 0;
  blockHi = 0;
  /** The executing instruction (set by the block runner; null between instructions). */
  cur: Insn | null = null;
  /**
   * Set around stack references (PUSH/POP/CALL/RET/IRET/ENTER/LEAVE, interrupt frames): a non-canonical
   * address there raises #SS(0). Memory operands based on RSP/RBP are marked per instruction (Insn.ss).
   */
  stackAccess = false;
  /** Index in the running block of the instruction that faulted (set by the block runner). */
  faultIndex = 0;
  /** The block runner (dispatch.ts), refreshed when blocks are decoded. */
  private runner: BlockRunner = blockRunner();
  /** Set by a handler that changed state the rest of the block was decoded under (or hit SMC). */
  stopBlock = false;
  /** Set when `run` must return after the current instruction, with exitReason. */
  stopRun = false;
  exitReason = EXIT_BUDGET;
  /** Instructions retired since creation. */
  icount = 0;
  /** The partition has an interrupt pending for this VP (set by the platform, checked between blocks). */
  irqPending = false;
  /** NMI requested. */
  nmiPending = false;

  /** Scratch results: effective address, high halves of 64-bit reads. */
  eaLo = 0;
  eaHi = 0;
  rdHi = 0;
  /** Derived mode: 64-bit code segment in long mode. */
  mode64 = true;
  /**
   * Decode context of the code segment: 2 = 64-bit, 1 = 32-bit (CS.D=1), 0 = 16-bit. Blocks are cached and
   * linked per context, since the same bytes decode differently under each default operand size.
   */
  modeKey = 2;
  /** Scratch for the page walker (host offsets and GPAs of the entries it read). */
  private readonly walkHost = new Float64Array(4);
  private readonly walkGpa = new Float64Array(4);
  /** Scratch for platform calls returning 64-bit values. */
  readonly tmp64 = new Int32Array(2);

  /** Counters for inspection. */
  stats = { blocksDecoded: 0, blocksInvalidated: 0, exceptions: 0, interrupts: 0 };

  constructor(memory: ArrayBuffer, stateByteOffset: number, slat: SecondLevelMap, platform: VpPlatform,
    cpuid: CpuidTable, index = 0) {
    this.u8 = new Uint8Array(memory);
    this.i32 = new Int32Array(memory);
    this.u16 = new Uint16Array(memory);
    this.f64 = new Float64Array(memory);
    this.s = new Int32Array(memory, stateByteOffset, STATE_INTS);
    this.sf64 = new Float64Array(memory, stateByteOffset, STATE_INTS / 2);
    this.sf32 = new Float32Array(memory, stateByteOffset, STATE_INTS);
    this.slat = slat;
    this.platform = platform;
    this.cpuid = cpuid;
    this.index = index;
    const pages = slat.spaPage.length;
    this.pageBlocks = new Array(pages).fill(undefined);
    this.pageSpill = new Array(pages).fill(undefined);
    this.codePage = new Uint8Array(pages);
    this.tlb = this.kernelTlb;
    this.rTagLo = this.tlb.rTagLo; this.rTagHi = this.tlb.rTagHi; this.rHost = this.tlb.rHost;
    this.wTagLo = this.tlb.wTagLo; this.wTagHi = this.tlb.wTagHi; this.wHost = this.tlb.wHost;
  }

  // ---------------------------------------------------------------- privilege and mode

  get cpl(): number {
    return this.s[S_CPL];
  }

  /** Change CPL and switch the active TLB with it. */
  setCpl(cpl: number): void {
    this.s[S_CPL] = cpl;
    const t = cpl === 3 ? this.userTlb : this.kernelTlb;
    if (t !== this.tlb) {
      this.tlb = t;
      this.rTagLo = t.rTagLo; this.rTagHi = t.rTagHi; this.rHost = t.rHost;
      this.wTagLo = t.wTagLo; this.wTagHi = t.wTagHi; this.wHost = t.wHost;
    }
  }

  /** Recompute mode64 after CS or EFER changes. */
  updateMode(): void {
    const lAttr = (this.s[S_SEG_ATTR + SEG_CS] >> 13) & 1; // descriptor bit 53 (L) is bit 13 of attr
    this.mode64 = (this.s[S_EFER] & EFER_LMA) !== 0 && lAttr === 1;
    this.modeKey = this.mode64 ? 2 : (this.s[S_SEG_ATTR + SEG_CS] >> 14) & 1; // D is bit 14 of attr
  }

  flushTlb(): void {
    if (++this.tlbGen > TLB_MAX_GEN) {
      this.tlbGen = 1;
      this.kernelTlb.clear();
      this.userTlb.clear();
    }
  }

  /** INVLPG: rare enough (hundreds per boot) that a full flush is cheaper than tracking large pages. */
  flushTlbPage(_lo: number, _hi: number): void {
    this.flushTlb();
  }

  // ---------------------------------------------------------------- faults

  /** Raise an exception: record it and unwind to the run loop (the thrown object is preallocated). */
  fault(vector: number, errorCode = -1): never {
    FAULT.vector = vector;
    FAULT.errorCode = errorCode;
    throw FAULT;
  }

  gp0(): never {
    return this.fault(EXC_GP, 0);
  }

  // ---------------------------------------------------------------- translation

  /**
   * Walk the guest page tables for a linear address. Returns the guest physical address (a JS number, exact up
   * to 2^53); raises #PF or #GP. `user` is the privilege of the access (CPL 3 data or instruction access).
   */
  walk(lo: number, hi: number, acc: number, user: boolean): number {
    const s = this.s;
    if ((s[S_CR0] & CR0_PG) === 0) {
      return (lo >>> 0) + (hi >>> 0) * 4294967296;
    }
    // Non-canonical: #SS(0) for stack references, #GP(0) otherwise.
    if (((hi << 16) >> 16) !== hi) this.fault(this.stackAccess || (this.cur !== null && this.cur.ss) ? EXC_SS : EXC_GP, 0);
    const nxe = (s[S_EFER] & EFER_NXE) !== 0;
    let table = (s[S_CR3] & ~0xfff) >>> 0;
    table += (s[S_CR3 + 1] & 0xfffff) * 4294967296;
    let writable = true, usr = true, nx = false;
    let level = 4;
    let pageBase = 0;
    let pageMask = 0; // offset bits within the final page beyond 4 KiB (for large pages)
    const entriesHost = this.walkHost;
    const entriesGpa = this.walkGpa;
    let depth = 0;
    for (; ;) {
      let idx: number;
      switch (level) {
        case 4: idx = (hi >>> 7) & 0x1ff; break;
        case 3: idx = ((hi & 0x7f) << 2) | (lo >>> 30); break;
        case 2: idx = (lo >>> 21) & 0x1ff; break;
        default: idx = (lo >>> 12) & 0x1ff; break;
      }
      const pteGpa = table + idx * 8;
      const host = this.ramHost(pteGpa, GPA_READ);
      if (host < 0) this.pageFault(lo, hi, 0, acc, user); // page tables outside RAM: treat as not present
      const eLo = this.i32[host >> 2], eHi = this.i32[(host >> 2) + 1];
      if ((eLo & 1) === 0) this.pageFault(lo, hi, 0, acc, user);
      if (eHi < 0 && !nxe) this.pageFault(lo, hi, PF_P | PF_RSVD, acc, user);
      // Address bits from 36 up: reserved at and above MAXPHYADDR (rare, so the exact check is off the fast path).
      if ((eHi & 0xffff0) !== 0 && (eHi & this.reservedAddressHigh()) !== 0) this.pageFault(lo, hi, PF_P | PF_RSVD, acc, user);
      if ((eLo & 2) === 0) writable = false;
      if ((eLo & 4) === 0) usr = false;
      if (eHi < 0) nx = true;
      entriesGpa[depth] = pteGpa;
      entriesHost[depth++] = host;
      const ps = (eLo & 0x80) !== 0;
      const addr = ((eLo & ~0xfff) >>> 0) + (eHi & 0xfffff) * 4294967296;
      if (level === 4 && ps) this.pageFault(lo, hi, PF_P | PF_RSVD, acc, user);
      if (level === 1 || ((level === 3 || level === 2) && ps)) {
        if (level === 3) { pageBase = addr - (addr % 0x40000000); pageMask = 0x3fffffff; if ((eLo & 0x3fffe000) !== 0) this.pageFault(lo, hi, PF_P | PF_RSVD, acc, user); }
        else if (level === 2) { pageBase = addr - (addr % 0x200000); pageMask = 0x1fffff; if ((eLo & 0x1fe000) !== 0) this.pageFault(lo, hi, PF_P | PF_RSVD, acc, user); }
        else { pageBase = addr; pageMask = 0xfff; }
        break;
      }
      table = addr;
      level--;
    }
    // Permission checks (supervisor writes honour CR0.WP; no SMEP/SMAP reported).
    if (user && !usr) this.pageFault(lo, hi, PF_P, acc, user);
    if (acc === ACC_WRITE && !writable && (user || (s[S_CR0] & CR0_WP) !== 0)) this.pageFault(lo, hi, PF_P, acc, user);
    if (acc === ACC_EXEC && nx) this.pageFault(lo, hi, PF_P, acc, user);
    // Accessed bits on every level; dirty on the leaf for writes.
    const i32 = this.i32;
    for (let k = 0; k < depth; k++) {
      const w = entriesHost[k] >> 2;
      let v = i32[w] | 0x20;
      if (k === depth - 1 && acc === ACC_WRITE) v |= 0x40;
      if (v !== i32[w]) {
        i32[w] = v;
        const p = Math.floor(entriesGpa[k] / 4096);
        if (this.codePage[p] !== 0) this.invalidateCodePage(p);
      }
    }
    return pageBase + ((lo & pageMask) >>> 0);
  }

  /** Mask of the high word's physical-address bits at or above MAXPHYADDR (CPUID 0x80000008, else 36). */
  private reservedAddressHigh(): number {
    const r = this.cpuid.get('80000008:0') ?? this.cpuid.get('80000008');
    const maxPhys = r !== undefined && (r.eax & 0xff) > 32 ? Math.min(r.eax & 0xff, 52) : 36;
    return (0xfffff << (maxPhys - 32)) & 0xfffff;
  }

  private pageFault(lo: number, hi: number, bits: number, acc: number, user: boolean): never {
    let err = bits;
    if (acc === ACC_WRITE) err |= PF_W;
    if (user) err |= PF_U;
    if (acc === ACC_EXEC && (this.s[S_EFER] & EFER_NXE) !== 0) err |= PF_I;
    this.s[S_CR2] = lo;
    this.s[S_CR2 + 1] = hi;
    return this.fault(EXC_PF, err);
  }

  /** Host byte offset of a GPA if it is RAM mapped with `right`, else -1. */
  ramHost(gpa: number, right: number): number {
    const page = Math.floor(gpa / 4096);
    if (page >= this.slat.spaPage.length) return -1;
    const spa = this.slat.spaPage[page];
    if (spa < 0 || (this.slat.rights[page] & right) === 0) return -1;
    return spa * 4096 + (gpa % 4096);
  }

  /** Fill the TLB for a data access and return the GPA (or raise). */
  private fill(lo: number, hi: number, acc: number): number {
    const user = this.s[S_CPL] === 3;
    const gpa = this.walk(lo, hi, acc, user);
    const page = Math.floor(gpa / 4096);
    const idx = (lo >>> 12) & TLB_MASK;
    const tag = (lo & ~0xfff) | this.tlbGen;
    if (page < this.slat.spaPage.length) {
      const spa = this.slat.spaPage[page];
      const rights = this.slat.rights[page];
      if (spa >= 0) {
        const t = this.tlb;
        if (acc === ACC_READ && (rights & GPA_READ) !== 0) {
          t.rTagLo[idx] = tag; t.rTagHi[idx] = hi; t.rHost[idx] = spa * 4096;
        } else if (acc === ACC_WRITE && (rights & GPA_WRITE) !== 0 && this.codePage[page] === 0) {
          t.wTagLo[idx] = tag; t.wTagHi[idx] = hi; t.wHost[idx] = spa * 4096; t.wGpaPage[idx] = page;
          if ((rights & GPA_READ) !== 0) { t.rTagLo[idx] = tag; t.rTagHi[idx] = hi; t.rHost[idx] = spa * 4096; }
        }
      }
    }
    return gpa;
  }

  // ---------------------------------------------------------------- physical access (slow paths)

  private physRead(gpa: number, size: number): number {
    const host = this.ramHost(gpa, GPA_READ);
    if (host < 0) return this.platform.mmioRead(gpa, size);
    const u8 = this.u8;
    switch (size) {
      case 1: return u8[host];
      case 2: return u8[host] | (u8[host + 1] << 8);
      default: return u8[host] | (u8[host + 1] << 8) | (u8[host + 2] << 16) | (u8[host + 3] << 24);
    }
  }

  private physWrite(gpa: number, size: number, v: number): void {
    const host = this.ramHost(gpa, GPA_WRITE);
    if (host < 0) { this.platform.mmioWrite(gpa, size, v); return; }
    const page = Math.floor(gpa / 4096);
    if (this.codePage[page] !== 0) this.invalidateCodePage(page);
    const u8 = this.u8;
    u8[host] = v;
    if (size > 1) u8[host + 1] = v >> 8;
    if (size > 2) { u8[host + 2] = v >> 16; u8[host + 3] = v >> 24; }
  }

  /** Linear read of 1, 2 or 4 bytes that missed the TLB fast path. */
  readSlow(lo: number, hi: number, size: number): number {
    const off = lo & 0xfff;
    if (off + size <= 4096) {
      const gpa = this.fill(lo, hi, ACC_READ);
      return this.physRead(gpa, size);
    }
    let v = 0;
    for (let k = 0; k < size; k++) {
      const l = (lo + k) | 0;
      const h = (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      v |= this.read8(l, h) << (8 * k);
    }
    return v;
  }

  writeSlow(lo: number, hi: number, size: number, v: number): void {
    const off = lo & 0xfff;
    if (off + size <= 4096) {
      const gpa = this.fill(lo, hi, ACC_WRITE);
      this.physWrite(gpa, size, v);
      return;
    }
    // Page-crossing: translate both pages for write before storing anything (no partial writes on #PF).
    const lo2 = (lo + size - 1) | 0;
    const hi2 = (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
    this.walk(lo, hi, ACC_WRITE, this.s[S_CPL] === 3);
    this.walk(lo2 & ~0xfff, hi2, ACC_WRITE, this.s[S_CPL] === 3);
    for (let k = 0; k < size; k++) {
      const l = (lo + k) | 0;
      const h = (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      this.write8(l, h, v >> (8 * k));
    }
  }

  // ---------------------------------------------------------------- linear access (fast paths)

  read8(lo: number, hi: number): number {
    const idx = (lo >>> 12) & TLB_MASK;
    if (this.rTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.rTagHi[idx] === hi) return this.u8[this.rHost[idx] + (lo & 0xfff)];
    return this.readSlow(lo, hi, 1);
  }

  read16(lo: number, hi: number): number {
    const idx = (lo >>> 12) & TLB_MASK;
    const off = lo & 0xfff;
    if (this.rTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.rTagHi[idx] === hi && off <= 4094) {
      const a = this.rHost[idx] + off;
      return (a & 1) === 0 ? this.u16[a >> 1] : this.u8[a] | (this.u8[a + 1] << 8);
    }
    return this.readSlow(lo, hi, 2);
  }

  read32(lo: number, hi: number): number {
    const idx = (lo >>> 12) & TLB_MASK;
    const off = lo & 0xfff;
    if (this.rTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.rTagHi[idx] === hi && off <= 4092) {
      const a = this.rHost[idx] + off;
      if ((a & 3) === 0) return this.i32[a >> 2];
      const u8 = this.u8;
      return u8[a] | (u8[a + 1] << 8) | (u8[a + 2] << 16) | (u8[a + 3] << 24);
    }
    return this.readSlow(lo, hi, 4);
  }

  /** 64-bit read: returns the low half, leaves the high half in `rdHi`. */
  read64(lo: number, hi: number): number {
    const idx = (lo >>> 12) & TLB_MASK;
    const off = lo & 0xfff;
    if (this.rTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.rTagHi[idx] === hi && off <= 4088) {
      const a = this.rHost[idx] + off;
      if ((a & 3) === 0) {
        this.rdHi = this.i32[(a >> 2) + 1];
        return this.i32[a >> 2];
      }
      const u8 = this.u8;
      this.rdHi = u8[a + 4] | (u8[a + 5] << 8) | (u8[a + 6] << 16) | (u8[a + 7] << 24);
      return u8[a] | (u8[a + 1] << 8) | (u8[a + 2] << 16) | (u8[a + 3] << 24);
    }
    const l = this.read32(lo, hi);
    const lo2 = (lo + 4) | 0;
    this.rdHi = this.read32(lo2, (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
    return l;
  }

  write8(lo: number, hi: number, v: number): void {
    const idx = (lo >>> 12) & TLB_MASK;
    if (this.wTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.wTagHi[idx] === hi) { this.u8[this.wHost[idx] + (lo & 0xfff)] = v; return; }
    this.writeSlow(lo, hi, 1, v);
  }

  write16(lo: number, hi: number, v: number): void {
    const idx = (lo >>> 12) & TLB_MASK;
    const off = lo & 0xfff;
    if (this.wTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.wTagHi[idx] === hi && off <= 4094) {
      const a = this.wHost[idx] + off;
      if ((a & 1) === 0) this.u16[a >> 1] = v;
      else { this.u8[a] = v; this.u8[a + 1] = v >> 8; }
      return;
    }
    this.writeSlow(lo, hi, 2, v);
  }

  write32(lo: number, hi: number, v: number): void {
    const idx = (lo >>> 12) & TLB_MASK;
    const off = lo & 0xfff;
    if (this.wTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.wTagHi[idx] === hi && off <= 4092) {
      const a = this.wHost[idx] + off;
      if ((a & 3) === 0) this.i32[a >> 2] = v;
      else { const u8 = this.u8; u8[a] = v; u8[a + 1] = v >> 8; u8[a + 2] = v >> 16; u8[a + 3] = v >> 24; }
      return;
    }
    this.writeSlow(lo, hi, 4, v);
  }

  write64(lo: number, hi: number, vLo: number, vHi: number): void {
    const idx = (lo >>> 12) & TLB_MASK;
    const off = lo & 0xfff;
    if (this.wTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.wTagHi[idx] === hi && off <= 4088) {
      const a = this.wHost[idx] + off;
      if ((a & 3) === 0) { this.i32[a >> 2] = vLo; this.i32[(a >> 2) + 1] = vHi; return; }
      const u8 = this.u8;
      u8[a] = vLo; u8[a + 1] = vLo >> 8; u8[a + 2] = vLo >> 16; u8[a + 3] = vLo >> 24;
      u8[a + 4] = vHi; u8[a + 5] = vHi >> 8; u8[a + 6] = vHi >> 16; u8[a + 7] = vHi >> 24;
      return;
    }
    const lo2 = (lo + 4) | 0;
    const hi2 = (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
    if (off > 4088) {
      // Crosses a page: make sure both halves are writable before changing memory.
      this.walk(lo, hi, ACC_WRITE, this.s[S_CPL] === 3);
      this.walk(((lo + 7) | 0) & ~0xfff, (((lo + 7) | 0) >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, ACC_WRITE, this.s[S_CPL] === 3);
    }
    this.write32(lo, hi, vLo);
    this.write32(lo2, hi2, vHi);
  }

  /** Check that a linear range is writable (for read-modify-write and multi-part stores) without writing. */
  probeWrite(lo: number, hi: number, size: number): void {
    const idx = (lo >>> 12) & TLB_MASK;
    if (this.wTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && this.wTagHi[idx] === hi && (lo & 0xfff) + size <= 4096) return;
    const user = this.s[S_CPL] === 3;
    this.walk(lo, hi, ACC_WRITE, user);
    const lo2 = (lo + size - 1) | 0;
    if (((lo2 ^ lo) & ~0xfff) !== 0) this.walk(lo2, (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, ACC_WRITE, user);
  }

  /**
   * Host byte offset of linear (lo, hi) for a bulk access of kind `acc` (ACC_READ or ACC_WRITE) that the caller
   * keeps within this 4 KiB page (string instructions' fast paths). Translates like an access would, so it may
   * raise #PF/#GP. Returns -1 when the page is not plain RAM for that access — MMIO, or for writes a page holding
   * decoded code — and the caller must then use the per-access paths (which reach the platform and invalidate
   * code). A write through the returned offset needs no further checks.
   */
  hostOffset(lo: number, hi: number, acc: number): number {
    const idx = (lo >>> 12) & TLB_MASK;
    const tag = (lo & ~0xfff) | this.tlbGen;
    if (acc === ACC_WRITE) {
      if (this.wTagLo[idx] !== tag || this.wTagHi[idx] !== hi) {
        this.fill(lo, hi, ACC_WRITE);
        if (this.wTagLo[idx] !== tag || this.wTagHi[idx] !== hi) return -1;
      }
      return this.wHost[idx] + (lo & 0xfff);
    }
    if (this.rTagLo[idx] !== tag || this.rTagHi[idx] !== hi) {
      this.fill(lo, hi, ACC_READ);
      if (this.rTagLo[idx] !== tag || this.rTagHi[idx] !== hi) return -1;
    }
    return this.rHost[idx] + (lo & 0xfff);
  }

  /** Read a linear address with supervisor privilege regardless of CPL (descriptor tables, TSS). */
  readSystem32(lo: number, hi: number): number {
    const cpl = this.s[S_CPL];
    if (cpl !== 3) return this.read32(lo, hi);
    this.setCpl(0);
    try { return this.read32(lo, hi); } finally { this.setCpl(cpl); }
  }

  // ---------------------------------------------------------------- code

  /** Translate RIP for instruction fetch: returns the GPA. */
  translateCode(lo: number, hi: number): number {
    const t = this.tlb;
    const idx = (lo >>> 12) & TLB_MASK;
    if (t.xTagLo[idx] === ((lo & ~0xfff) | this.tlbGen) && t.xTagHi[idx] === hi) return t.xGpaPage[idx] * 4096 + (lo & 0xfff);
    const gpa = this.walk(lo, hi, ACC_EXEC, this.s[S_CPL] === 3);
    const page = Math.floor(gpa / 4096);
    if (page < this.slat.spaPage.length && this.slat.spaPage[page] >= 0 && (this.slat.rights[page] & GPA_EXEC) !== 0) {
      t.xTagLo[idx] = (lo & ~0xfff) | this.tlbGen; t.xTagHi[idx] = hi; t.xGpaPage[idx] = page;
    }
    return gpa;
  }

  /** Host offset of an executable RAM GPA, or -1 (code outside RAM: the guest faults). */
  codeHost(gpa: number): number {
    return this.ramHost(gpa, GPA_EXEC);
  }

  /** Record that a block was decoded from a GPA page: fast-path writes to it must now be revoked. */
  markCodePage(page: number): void {
    if (this.codePage[page] !== 0) return;
    this.codePage[page] = 1;
    this.kernelTlb.revokeWritesTo(page);
    this.userTlb.revokeWritesTo(page);
  }

  /** Drop every decoded block on a GPA page (a write hit it, or the hypervisor changed it). */
  invalidateCodePage(page: number): void {
    const m = this.pageBlocks[page];
    if (m !== undefined) {
      for (const b of m.values()) b.valid = false;
      this.stats.blocksInvalidated += m.size;
      this.pageBlocks[page] = undefined;
    }
    const spill = this.pageSpill[page];
    if (spill !== undefined) {
      for (const b of spill) {
        if (!b.valid) continue;
        b.valid = false;
        this.pageBlocks[b.page]?.delete(b.key);
      }
      this.pageSpill[page] = undefined;
    }
    this.codePage[page] = 0;
    this.stopBlock = true; // the running block may be among them
  }

  /** Find or decode the block at the current RIP. */
  private lookupBlock(): Block {
    const s = this.s;
    const lo = s[S_RIP], hi = s[S_RIP + 1];
    const gpa = this.translateCode(lo, hi);
    const page = Math.floor(gpa / 4096);
    const key = ((gpa & 0xfff) << 2) | this.modeKey;
    let m = this.pageBlocks[page];
    if (m !== undefined) {
      const b = m.get(key);
      if (b !== undefined) return b;
    } else if (page < this.pageBlocks.length) {
      m = new Map();
      this.pageBlocks[page] = m;
    }
    const b = decodeBlock(this, lo, hi, gpa);
    b.page = page;
    b.key = key;
    if (m !== undefined) m.set(key, b);
    this.markCodePage(page);
    if (b.spillPage >= 0) {
      let l = this.pageSpill[b.spillPage];
      if (l === undefined) { l = []; this.pageSpill[b.spillPage] = l; }
      l.push(b);
      this.markCodePage(b.spillPage);
    }
    this.stats.blocksDecoded++;
    this.runner = blockRunner();
    return b;
  }

  // ---------------------------------------------------------------- run loop

  /**
   * Run until `budget` instructions have retired or something needs the VP's owner. Returns an EXIT_* reason.
   * The inner loop chains blocks through their cached links; anything unusual (an instruction that changes
   * mode or translations, SMC, an interrupt request, a link miss) drops back to the outer loop.
   */
  run(budget: number): number {
    const s = this.s;
    const limit = this.icount + budget;
    this.stopRun = false;
    this.exitReason = EXIT_BUDGET;
    let prev: Block | null = null;
    while (this.icount < limit && !this.stopRun) {
      // An STI/MOV SS shadow covers the next instruction; the block it starts then ends the chain below, so a
      // pending interrupt is taken right after it rather than whenever a later block stops.
      let shadowed = false;
      if (s[S_INT_SHADOW] !== 0) { s[S_INT_SHADOW] = 0; shadowed = true; }
      else if (this.irqPending || this.nmiPending) { this.checkInterrupts(); prev = null; }
      let k = 0;
      let insns: Insn[] | null = null;
      try {
        let lo = s[S_RIP], hi = s[S_RIP + 1];
        const ctx = (s[S_CPL] << 2) | this.modeKey;
        const gen = this.tlbGen;
        let b: Block | null = null;
        if (prev !== null && prev.linkGen === gen && prev.linkCtx === ctx) {
          if (prev.link1Lo === lo && prev.link1Hi === hi && prev.link1 !== null && prev.link1.valid) b = prev.link1;
          else if (prev.link2Lo === lo && prev.link2Hi === hi && prev.link2 !== null && prev.link2.valid) b = prev.link2;
        }
        const stamp = (gen << 4) | ctx;
        if (b === null) {
          b = this.jumpCacheGet(lo, hi, stamp);
          if (b === null) {
            b = this.lookupBlock();
            if (this.tlbGen === gen) this.jumpCachePut(lo, hi, stamp, b);
          }
          if (prev !== null && prev.valid && this.tlbGen === gen) link(prev, b, lo, hi, gen, ctx);
        }
        const runner = this.runner;
        for (; ;) {
          insns = b.insns;
          this.blockLo = lo;
          this.blockHi = hi;
          this.nipHi = hi;
          this.stopBlock = false;
          // Right after an interrupt shadow with an interrupt waiting, run just the shadowed instruction.
          const n = shadowed && (this.irqPending || this.nmiPending) ? 1 : insns.length;
          k = runner(this, insns, 0, n, lo, hi, (lo >>> 0) + b.byteLen > 0xffffffff);
          this.icount += k;
          lo = this.nipLo;
          hi = this.nipHi;
          if (this.stopBlock || this.icount >= limit || shadowed) break;
          // Follow a link recorded under the same translations and privilege.
          let next: Block | null = null;
          if (b.linkGen === gen && b.linkCtx === ctx) {
            if (b.link1Lo === lo && b.link1Hi === hi) next = b.link1;
            else if (b.link2Lo === lo && b.link2Hi === hi) next = b.link2;
          }
          if (next === null || !next.valid) {
            // Not a linked successor (returns and indirect jumps with many targets): the jump cache by
            // linear address still avoids the translation and the lookup.
            next = this.jumpCacheGet(lo, hi, stamp);
            if (next === null) break;
            link(b, next, lo, hi, gen, ctx);
          }
          b = next;
        }
        insns = null;
        s[S_RIP] = lo;
        s[S_RIP + 1] = hi;
        prev = b.valid ? b : null;
      } catch (e) {
        if (e !== FAULT) throw e;
        prev = null;
        this.stackAccess = false;
        if (insns !== null) {
          k = this.faultIndex;
          this.icount += k;
          if (k < insns.length) {
            // Faults are precise: RIP points at the faulting instruction.
            const l = (this.blockLo + insns[k].start) | 0;
            s[S_RIP] = l;
            s[S_RIP + 1] = this.mode64 && (l >>> 0) < (this.blockLo >>> 0) ? (this.blockHi + 1) | 0 : this.blockHi;
          }
        }
        this.handleFault(FAULT);
      }
    }
    return this.exitReason;
  }

  /** The block the jump cache holds for linear (lo, hi) under `stamp` (TLB generation and context), or null. */
  private jumpCacheGet(lo: number, hi: number, stamp: number): Block | null {
    const idx = ((lo >>> 2) ^ (lo >>> 14)) & JC_MASK;
    if (this.jcLo[idx] !== lo || this.jcHi[idx] !== hi || this.jcStamp[idx] !== stamp) return null;
    const b = this.jcBlock[idx];
    return b !== null && b.valid ? b : null;
  }

  private jumpCachePut(lo: number, hi: number, stamp: number, b: Block): void {
    const idx = ((lo >>> 2) ^ (lo >>> 14)) & JC_MASK;
    this.jcLo[idx] = lo; this.jcHi[idx] = hi; this.jcStamp[idx] = stamp; this.jcBlock[idx] = b;
  }

  /** Deliver the recorded exception (escalating to #DF and triple fault as the SDM's table 6-5 says). */
  handleFault(f: Fault): void {
    this.stats.exceptions++;
    if (f.vector === -1) return; // an exit, not an exception (see requestExit)
    deliverException(this, f.vector, f.errorCode);
  }

  /** Stop the run loop after the current instruction with an exit reason (used by HLT and the platform). */
  requestExit(reason: number): void {
    this.exitReason = reason;
    this.stopRun = true;
    this.stopBlock = true;
  }

  triple(): void {
    this.requestExit(EXIT_TRIPLE_FAULT);
  }

  private checkInterrupts(): void {
    const s = this.s;
    if (this.nmiPending) {
      this.nmiPending = false;
      try { deliverInterrupt(this, 2); } catch (e) { if (e !== FAULT) throw e; this.handleFault(FAULT); }
      return;
    }
    if ((s[S_RFLAGS] & FLAG_IF) === 0) return;
    const v = this.platform.acknowledgeInterrupt();
    if (v < 0) { this.irqPending = false; return; }
    this.stats.interrupts++;
    try { deliverInterrupt(this, v); } catch (e) { if (e !== FAULT) throw e; this.handleFault(FAULT); }
  }

  /** HLT: stop running until an interrupt arrives (the owner decides how to wait). */
  halt(): void {
    this.requestExit(EXIT_HLT);
  }

  /** Stop requested from outside (another thread of control: device, signal). */
  stop(): void {
    this.requestExit(EXIT_STOP);
  }
}
