// The names /proc/cpuinfo gives feature bits, read from the guest kernel itself: Linux prints flag i of its
// capability words as x86_cap_flags[i] (a pointer array, NULL for unnamed bits, generated from cpufeatures.h),
// so the test derives the expected flags from the very table that prints them. The array is found in the ELF
// vmlinux inside the bzImage (LZ4 payload in Debian's build, decompressed with Debian's lz4, installed when
// missing) as the only run of pointers whose first two entries point at "fpu" and "vme".
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf64 } from '../../src/firmware/index.js';

/**
 * Capability words that are CPUID registers verbatim (cpufeatures.h: "word N" comments), as [word, leaf key
 * in a CpuidTable, register].
 */
export const CPUID_WORDS: readonly (readonly [number, string, 'eax' | 'ebx' | 'ecx' | 'edx'])[] = [
  [0, '1', 'edx'], [1, '80000001', 'edx'], [4, '1', 'ecx'], [6, '80000001', 'ecx'],
  [9, '7:0', 'ebx'], [16, '7:0', 'ecx'], [18, '7:0', 'edx'],
];
/** Words read from the table: enough for every word in CPUID_WORDS. */
const WORDS = 19;
/** Linux's kernel text/data live at 0xffffffff80000000 and up; anything else in the array is not a pointer. */
const KERNEL_BASE = 0xffffffff80000000n;

function ensureLz4(): void {
  if (spawnSync('lz4', ['--version']).status === 0) return;
  execFileSync('sh', ['-c', 'apt-get update && apt-get install -y --no-install-recommends lz4'], {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The ELF vmlinux from a bzImage (boot.rst: payload_offset at 0x248 from the protected-mode code, length at 0x24C). */
function vmlinuxOf(bzImage: Uint8Array): Buffer {
  const b = Buffer.from(bzImage.buffer, bzImage.byteOffset, bzImage.byteLength);
  const pm = ((b[0x1f1] === 0 ? 4 : b[0x1f1]) + 1) * 512;
  const off = pm + b.readUInt32LE(0x248), len = b.readUInt32LE(0x24c);
  if (b.readUInt32LE(off) !== 0x184c2102) throw new Error('the bzImage payload is not an LZ4 legacy frame (Debian builds CONFIG_KERNEL_LZ4)');
  ensureLz4();
  const dir = mkdtempSync(join(tmpdir(), 'hypatia-vmlinux-'));
  try {
    writeFileSync(join(dir, 'payload.lz4'), b.subarray(off, off + len - 4)); // the last 4 bytes: uncompressed size
    execFileSync('lz4', ['-d', '-f', '-q', join(dir, 'payload.lz4'), join(dir, 'vmlinux')]);
    return readFileSync(join(dir, 'vmlinux'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** names[word * 32 + bit]: the /proc/cpuinfo name of each capability bit of words 0..18, or null if unnamed. */
export function kernelCapFlagNames(bzImage: Uint8Array): (string | null)[] {
  const v = vmlinuxOf(bzImage);
  const segs = parseElf64(v).segments.filter((s) => s.vaddr >= KERNEL_BASE);
  const fileOffset = (va: bigint): number => {
    for (const s of segs) if (va >= s.vaddr && va < s.vaddr + BigInt(s.fileSize)) return s.offset + Number(va - s.vaddr);
    return -1;
  };
  const virtual = (off: number): bigint | null => {
    for (const s of segs) if (off >= s.offset && off < s.offset + s.fileSize) return s.vaddr + BigInt(off - s.offset);
    return null;
  };
  const cString = (va: bigint): string | null => {
    if (va < KERNEL_BASE) return null;
    const o = fileOffset(va);
    if (o < 0) return null;
    const end = v.indexOf(0, o);
    return end < 0 || end - o > 64 ? null : v.toString('latin1', o, end);
  };
  const tables: number[] = [];
  const needle = Buffer.from('fpu\0', 'latin1');
  for (let i = v.indexOf(needle); i >= 0; i = v.indexOf(needle, i + 1)) {
    const va = virtual(i);
    if (va === null) continue;
    const pattern = Buffer.alloc(8);
    pattern.writeBigUInt64LE(va);
    for (let j = v.indexOf(pattern); j >= 0; j = v.indexOf(pattern, j + 1)) {
      if (j % 8 === 0 && cString(v.readBigUInt64LE(j + 8)) === 'vme') tables.push(j);
    }
  }
  if (tables.length !== 1) throw new Error(`expected one x86_cap_flags array in the vmlinux, found ${tables.length}`);
  const names: (string | null)[] = [];
  for (let i = 0; i < WORDS * 32; i++) {
    const p = v.readBigUInt64LE(tables[0] + i * 8);
    if (p === 0n) { names.push(null); continue; }
    const s = cString(p);
    if (s === null || !/^[a-z0-9_]+$/.test(s)) throw new Error(`x86_cap_flags[${i}] is not a flag name (0x${p.toString(16)})`);
    names.push(s);
  }
  return names;
}
