// What a dynamically linked ELF64 program needs from the system to start: its program interpreter (PT_INTERP,
// the dynamic loader's absolute path) and the shared objects its dynamic section names (DT_NEEDED), read from
// the program headers (the section headers may be stripped; the loader does not use them either). The
// dynamic string table is found by DT_STRTAB, a virtual address, mapped to a file offset through PT_LOAD.
import { GuestImageError } from './errors.js';

const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EHDR64_SIZE = 64;
const PHDR64_SIZE = 56;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
/** Longest name we accept from a string table (sonames and paths are short; this only bounds the scan). */
const MAX_NAME = 4096;

export interface ElfDynamicInfo {
  /** PT_INTERP: the loader the kernel maps (e.g. /lib64/ld-linux-x86-64.so.2); absent for a shared library or a static program. */
  interpreter?: string;
  /** DT_NEEDED, in order. */
  needed: string[];
  soname?: string;
  /** DT_RUNPATH or DT_RPATH, if any (colon-separated). */
  runpath?: string;
}

export function isElf(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
}

/** Reads PT_INTERP and the dynamic section of an ELF64 little-endian file. A static program yields needed = []. */
export function readElfDynamic(elf: Uint8Array, what = 'program'): ElfDynamicInfo {
  const bad = (why: string) => new GuestImageError('bad-archive', `${what}: ${why}`);
  if (elf.length < EHDR64_SIZE || !isElf(elf)) throw bad('not an ELF file');
  if (elf[4] !== ELFCLASS64 || elf[5] !== ELFDATA2LSB) throw bad('not a 64-bit little-endian ELF file');
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true);
  const phnum = dv.getUint16(0x38, true);
  if (phnum > 0 && (phentsize < PHDR64_SIZE || phoff + phnum * phentsize > elf.length)) throw bad('program header table out of bounds');
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let interp: { offset: number; size: number } | undefined;
  let dyn: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const type = dv.getUint32(o, true);
    const offset = Number(dv.getBigUint64(o + 0x08, true));
    const vaddr = Number(dv.getBigUint64(o + 0x10, true));
    const filesz = Number(dv.getBigUint64(o + 0x20, true));
    if (type !== PT_LOAD && type !== PT_DYNAMIC && type !== PT_INTERP) continue;
    if (!Number.isSafeInteger(offset + filesz) || offset + filesz > elf.length) throw bad(`program header ${i} out of bounds`);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (type === PT_INTERP) interp = { offset, size: filesz };
    else dyn = { offset, size: filesz };
  }
  const cString = (start: number, limit: number): string => {
    let end = start;
    const stop = Math.min(limit, start + MAX_NAME);
    while (end < stop && elf[end] !== 0) end++;
    if (end >= stop) throw bad('unterminated string');
    return Buffer.from(elf.subarray(start, end)).toString('utf8');
  };
  const info: ElfDynamicInfo = { needed: [] };
  if (interp) info.interpreter = cString(interp.offset, interp.offset + interp.size);
  if (!dyn) return info;
  const entries: [number, number][] = [];
  let strtab: number | undefined;
  let strsz: number | undefined;
  for (let o = dyn.offset; o + 16 <= dyn.offset + dyn.size; o += 16) {
    const tag = Number(dv.getBigInt64(o, true));
    const val = Number(dv.getBigUint64(o + 8, true));
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_STRSZ) strsz = val;
    else if (tag === DT_NEEDED || tag === DT_SONAME || tag === DT_RPATH || tag === DT_RUNPATH) entries.push([tag, val]);
  }
  if (entries.length === 0) return info;
  if (strtab === undefined || strsz === undefined) throw bad('dynamic section names libraries but has no DT_STRTAB/DT_STRSZ');
  const seg = loads.find((l) => strtab! >= l.vaddr && strtab! + strsz! <= l.vaddr + l.filesz);
  if (!seg) throw bad('DT_STRTAB lies outside every loaded segment');
  const base = seg.offset + (strtab - seg.vaddr);
  for (const [tag, val] of entries) {
    if (val >= strsz) throw bad('dynamic string offset out of bounds');
    const s = cString(base + val, base + strsz);
    if (tag === DT_NEEDED) info.needed.push(s);
    else if (tag === DT_SONAME) info.soname = s;
    else if (tag === DT_RUNPATH || (tag === DT_RPATH && info.runpath === undefined)) info.runpath = s;
  }
  return info;
}
