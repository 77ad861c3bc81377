// The .modinfo section of a Linux kernel module (an ELF64 relocatable object): NUL-separated "key=value"
// strings written by the MODULE_* macros and modpost (Linux include/linux/moduleparam.h, scripts/mod/modpost.c).
// "depends=" names the modules whose symbols this one uses; that is what depmod turns into modules.dep, so we
// read it directly when a kernel package ships no modules.dep (Debian's run depmod in postinst).
import { GuestImageError } from './errors.js';

const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EHDR64_SIZE = 64;
const SHDR64_SIZE = 64;

export interface ModInfoField { key: string; value: string }

/** All key=value fields of an ELF64 little-endian object's .modinfo section, in order. */
export function readModInfo(elf: Uint8Array, what = 'module'): ModInfoField[] {
  const bad = (why: string) => new GuestImageError('bad-kernel', `${what}: ${why}`);
  if (elf.length < EHDR64_SIZE || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) throw bad('not an ELF file');
  if (elf[4] !== ELFCLASS64 || elf[5] !== ELFDATA2LSB) throw bad('not a 64-bit little-endian ELF file');
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shentsize < SHDR64_SIZE || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) throw bad('section header table out of bounds');
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    const offset = Number(dv.getBigUint64(o + 0x18, true));
    const size = Number(dv.getBigUint64(o + 0x20, true));
    const type = dv.getUint32(o + 4, true);
    const SHT_NOBITS = 8;
    if (type !== SHT_NOBITS && offset + size > elf.length) throw bad(`section ${i} out of bounds`);
    return { name: dv.getUint32(o, true), offset, size };
  };
  const strtab = section(shstrndx);
  const nameAt = (n: number) => {
    if (n >= strtab.size) throw bad('section name out of bounds');
    const start = strtab.offset + n;
    let end = start;
    const limit = strtab.offset + strtab.size;
    while (end < limit && elf[end] !== 0) end++;
    return Buffer.from(elf.buffer, elf.byteOffset + start, end - start).toString('latin1');
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameAt(s.name) !== '.modinfo') continue;
    const text = Buffer.from(elf.buffer, elf.byteOffset + s.offset, s.size).toString('utf8');
    const fields: ModInfoField[] = [];
    for (const str of text.split('\0')) {
      const eq = str.indexOf('=');
      if (eq > 0) fields.push({ key: str.slice(0, eq), value: str.slice(eq + 1) });
    }
    return fields;
  }
  throw bad('no .modinfo section (not a kernel module?)');
}

/** The module names in a "depends=" field (absent or empty means none). */
export function modInfoDepends(fields: readonly ModInfoField[]): string[] {
  const f = fields.find((x) => x.key === 'depends');
  return f && f.value ? f.value.split(',').filter((s) => s !== '') : [];
}
