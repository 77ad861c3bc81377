// Layout of one virtual processor's architectural state inside an Int32Array view of the hypervisor's memory
// (one SPA page per VP, never mapped into a partition). Keeping it in linear memory, not in JS object fields,
// lets a later WebAssembly JIT share it with the interpreter. 64-bit values are (lo, hi) int32 pairs.

/** GPRs occupy indices 0..31: register r is (2r = low half, 2r+1 = high half). */
export const S_RIP = 32; // 32/33: RIP of the next block to run (valid between blocks)
export const S_RFLAGS = 34; // non-arithmetic flag bits, plus arithmetic ones while S_LZ_OP is LZ_NONE
// Lazy arithmetic flags: the last flag-setting operation, its size and operands.
export const S_LZ_OP = 35;
export const S_LZ_SIZE = 36;
export const S_LZ_RES = 37; // 37/38
export const S_LZ_DST = 39; // 39/40
export const S_LZ_SRC = 41; // 41/42
export const S_LZ_AUX = 43; // carry-in for ADC/SBB, preserved CF for INC/DEC
export const S_CR0 = 44;
export const S_CR2 = 45; // 45/46
export const S_CR3 = 47; // 47/48
export const S_CR4 = 49;
export const S_CR8 = 50;
export const S_EFER = 51;
export const S_CPL = 52;
/** Segment registers: selector, base (lo, hi), limit, attributes (descriptor bits 40..55 as a 16-bit value). */
export const S_SEG_SEL = 56; // 56..61
export const S_SEG_BASE = 64; // 64..75 (lo, hi) per segment
export const S_SEG_LIMIT = 76; // 76..81
export const S_SEG_ATTR = 84; // 84..89
export const S_GDTR_BASE = 90; // 90/91
export const S_GDTR_LIMIT = 92;
export const S_IDTR_BASE = 93; // 93/94
export const S_IDTR_LIMIT = 95;
export const S_LDTR_SEL = 96;
export const S_LDTR_BASE = 97; // 97/98
export const S_LDTR_LIMIT = 99;
export const S_TR_SEL = 100;
export const S_TR_BASE = 101; // 101/102
export const S_TR_LIMIT = 103;
export const S_STAR = 104; // 104/105
export const S_LSTAR = 106; // 106/107
export const S_CSTAR = 108; // 108/109
export const S_SFMASK = 110;
export const S_KGS_BASE = 111; // 111/112
export const S_PAT = 113; // 113/114
export const S_TSC_AUX = 115;
export const S_APIC_BASE = 116; // 116/117
export const S_SYSENTER_CS = 118;
export const S_SYSENTER_ESP = 119; // 119/120
export const S_SYSENTER_EIP = 121; // 121/122
export const S_MISC_ENABLE = 123;
export const S_TSC_OFFSET = 124; // 124/125: guest TSC = virtual-time TSC + offset (set by WRMSR TSC)
/** Interrupt shadow: instructions remaining during which maskable interrupts stay blocked (STI, MOV SS). */
export const S_INT_SHADOW = 126;
/**
 * x87 control word, status word WITHOUT the TOP field (TOP is S_FPU_TOP), abridged tag word (bit p = physical
 * register p not empty, as FXSAVE stores it), MXCSR; last instruction opcode/pointer/operand pointer. Accessors
 * for other groups (FXSAVE/FXRSTOR): ops/x87-state.ts (readFsw/writeFsw, readSt80/writeSt80, fullTagWord).
 */
export const S_FCW = 128;
export const S_FSW = 129;
export const S_FTW = 130;
export const S_MXCSR = 131;
export const S_FOP = 132;
export const S_FIP = 133; // 133/134
export const S_FDP = 135; // 135/136
export const S_FPU_TOP = 137;
/** XMM0..15 as 4 int32 each (indices 160..223). */
export const S_XMM = 160;
/** Unused (reserved; an earlier float64 copy of the x87 registers). S_FPR_RAW is the x87 register file. */
export const S_FPR = 224;
/** x87 physical registers 0..7: 3 int32 each (significand lo, significand hi with the integer bit, sign << 15 | exponent). */
export const S_FPR_RAW = 240;
/** SSE scratch: two 128-bit operands (memory sources are loaded here so handlers see every source as a register). */
export const S_XMM_TMP = 1016; // 1016..1019, 1020..1023
/** Size of the state block in int32 units (fits one 4 KiB page with room to grow). */
export const STATE_INTS = 1024;
