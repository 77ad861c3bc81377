// ELF64 executable parsing for direct kernel boot (System V gABI + the x86-64 psABI), validating every field we
// rely on: the file comes from the user, and a bad one must give a clear message, not a crash or a guest
// started on garbage.
import { BootError } from './boot-error.js';

export class ElfError extends BootError {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

export const PT_LOAD = 1;
const ET_EXEC = 2, ET_DYN = 3;
const EM_X86_64 = 62;
const PHDR_SIZE = 56;
export const PF_X = 1, PF_W = 2, PF_R = 4;

export interface ElfSegment {
  /** File offset and size of the bytes to copy. */
  offset: number;
  fileSize: number;
  /** Where it goes (physical) and how much memory it takes (the rest is zeroed). */
  paddr: number;
  /** Linked (virtual) address: a bigint, since Linux links at 0xffffffff8xxxxxxx, beyond exact numbers. */
  vaddr: bigint;
  memSize: number;
  flags: number;
}

export interface ElfImage {
  /** e_entry as linked: virtual for a freestanding identity-linked guest, and physical for Linux's vmlinux. */
  entry: bigint;
  /** Where the processor starts with paging identity-mapped: the entry translated through its segment. */
  physicalEntry: number;
  segments: ElfSegment[];
}

/** A u64 field that must fit in a JS number exactly. */
function u64(dv: DataView, off: number, what: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} 0x${v.toString(16)} is out of range`);
  return Number(v);
}

export function parseElf64(bytes: Uint8Array): ElfImage {
  if (bytes.length < 64) throw new ElfError(`not an ELF file: only ${bytes.length} bytes (an ELF64 header needs 64)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) throw new ElfError('not an ELF file (bad magic)');
  if (bytes[4] !== 2) throw new ElfError(`not a 64-bit ELF (class ${bytes[4]})`);
  if (bytes[5] !== 1) throw new ElfError('not a little-endian ELF');
  if (bytes[6] !== 1) throw new ElfError(`unsupported ELF version ${bytes[6]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, true);
  if (type === ET_DYN) throw new ElfError('position-independent ELF (ET_DYN) is not supported: link the kernel with -no-pie at a fixed address');
  if (type !== ET_EXEC) throw new ElfError(`not an executable ELF (e_type ${type})`);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_X86_64) throw new ElfError(`not an x86-64 ELF (e_machine ${machine})`);
  const entry = dv.getBigUint64(24, true);
  const phoff = u64(dv, 32, 'program header offset');
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phnum === 0) throw new ElfError('ELF has no program headers');
  if (phentsize !== PHDR_SIZE) throw new ElfError(`unexpected program header size ${phentsize} (ELF64 uses ${PHDR_SIZE})`);
  if (phoff + phnum * PHDR_SIZE > bytes.length) throw new ElfError('program headers extend past the end of the file');
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * PHDR_SIZE;
    if (dv.getUint32(h, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      flags: dv.getUint32(h + 4, true),
      offset: u64(dv, h + 8, `segment ${i} offset`),
      vaddr: dv.getBigUint64(h + 16, true),
      paddr: u64(dv, h + 24, `segment ${i} physical address`),
      fileSize: u64(dv, h + 32, `segment ${i} file size`),
      memSize: u64(dv, h + 40, `segment ${i} memory size`),
    };
    if (seg.fileSize > seg.memSize) throw new ElfError(`segment ${i}: file size ${seg.fileSize} exceeds memory size ${seg.memSize}`);
    if (seg.offset + seg.fileSize > bytes.length) throw new ElfError(`segment ${i}: file bytes 0x${seg.offset.toString(16)}+0x${seg.fileSize.toString(16)} extend past the end of the file`);
    if (seg.memSize === 0) continue;
    segments.push(seg);
  }
  if (segments.length === 0) throw new ElfError('ELF has no loadable (PT_LOAD) segments');
  // Linux's vmlinux links at 0xffffffff8xxxxxxx with physical load addresses and an e_entry that is already
  // physical (phys_startup_64); a freestanding guest links virtual == physical. Accept either.
  const exec = segments.filter((s) => (s.flags & PF_X) !== 0);
  const byVirt = exec.find((s) => entry >= s.vaddr && entry < s.vaddr + BigInt(s.memSize));
  const byPhys = exec.find((s) => entry >= BigInt(s.paddr) && entry < BigInt(s.paddr + s.memSize));
  if (byVirt === undefined && byPhys === undefined) throw new ElfError(`entry point 0x${entry.toString(16)} is not inside an executable segment`);
  const physicalEntry = byVirt !== undefined ? byVirt.paddr + Number(entry - byVirt.vaddr) : Number(entry);
  return { entry, physicalEntry, segments };
}
