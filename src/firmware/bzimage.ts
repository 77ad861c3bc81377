// A Linux bzImage as the x86 boot protocol describes it (Documentation/arch/x86/boot.rst): a real-mode setup
// part of (setup_sects + 1) sectors whose header starts at 0x1F1, followed by the protected-mode kernel (here
// the decompressor with the compressed kernel inside). We never run the real-mode part: the 64-bit entry is at
// the protected-mode kernel's load address + 0x200 (XLF_KERNEL_64).
import { BootError, hex } from './boot-error.js';
import {
  BOOT_FLAG, HDR, HDRS_MAGIC, LOADED_HIGH, XLF_CAN_BE_LOADED_ABOVE_4G, XLF_KERNEL_64,
} from './boot-params.js';

/** 2.12 is the first protocol with xloadflags, where XLF_KERNEL_64 says the 64-bit entry exists. */
export const MIN_PROTOCOL = 0x020c;
/** Offset of the 64-bit entry point from the protected-mode kernel's start. */
export const ENTRY_64_OFFSET = 0x200;
const SECTOR = 512;

export interface BzImage {
  version: number;
  /** The setup header, file bytes 0x1F1 up to its end (0x202 + the jump's displacement byte at 0x201). */
  setupHeader: Uint8Array;
  /** The protected-mode kernel: what gets loaded. */
  kernel: Uint8Array;
  relocatable: boolean;
  kernelAlignment: number;
  prefAddress: number;
  /** Memory the kernel needs from its runtime start before it reads the memory map (decompression buffer). */
  initSize: number;
  /** Highest address the initrd's last byte may occupy. */
  initrdAddrMax: number;
  /** Longest command line the kernel accepts, without the NUL. */
  cmdlineSize: number;
  loadableAbove4G: boolean;
}

/** True when the bytes carry the boot protocol's "HdrS" signature at 0x202. */
export function looksLikeBzImage(bytes: Uint8Array): boolean {
  return bytes.length >= HDR.header + 4 && bytes[0x202] === 0x48 && bytes[0x203] === 0x64 && bytes[0x204] === 0x72 && bytes[0x205] === 0x53;
}

export function parseBzImage(bytes: Uint8Array): BzImage {
  if (!looksLikeBzImage(bytes)) throw new BootError('not a Linux bzImage (no "HdrS" signature at 0x202)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(HDR.header, true) !== HDRS_MAGIC) throw new BootError('not a Linux bzImage');
  const version = dv.getUint16(HDR.version, true);
  const vs = `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
  if (version < MIN_PROTOCOL) throw new BootError(`Linux boot protocol ${vs} is too old: the 64-bit entry needs 2.12 or later (kernel 3.8+)`);
  const headerEnd = 0x202 + bytes[0x201];
  if (headerEnd < HDR.init_size + 4) throw new BootError(`setup header ends at ${hex(headerEnd)}, too short for protocol ${vs}`);
  if (bytes.length < headerEnd) throw new BootError(`bzImage truncated: ${bytes.length} bytes, its setup header alone ends at ${hex(headerEnd)}`);
  if (dv.getUint16(HDR.boot_flag, true) !== BOOT_FLAG) throw new BootError(`bzImage boot_flag is ${hex(dv.getUint16(HDR.boot_flag, true))}, not 0xaa55`);
  const xloadflags = dv.getUint16(HDR.xloadflags, true);
  if ((xloadflags & XLF_KERNEL_64) === 0) throw new BootError('kernel has no 64-bit entry point (XLF_KERNEL_64 clear): a 32-bit kernel cannot run here');
  if ((bytes[HDR.loadflags] & LOADED_HIGH) === 0) throw new BootError('zImage (not LOADED_HIGH) kernels are not supported');
  const setupSects = bytes[HDR.setup_sects] === 0 ? 4 : bytes[HDR.setup_sects];
  const kernelOffset = (setupSects + 1) * SECTOR;
  const syssize = dv.getUint32(HDR.syssize, true) * 16;
  if (bytes.length <= kernelOffset) throw new BootError(`bzImage truncated: ${bytes.length} bytes, the protected-mode kernel should start at ${hex(kernelOffset)}`);
  if (syssize === 0) throw new BootError('bzImage syssize is 0: no protected-mode kernel');
  if (bytes.length < kernelOffset + syssize) throw new BootError(`bzImage truncated: ${bytes.length} bytes, the header promises ${kernelOffset + syssize}`);
  const kernelAlignment = dv.getUint32(HDR.kernel_alignment, true);
  const relocatable = bytes[HDR.relocatable_kernel] !== 0;
  if (relocatable && (kernelAlignment < 0x1000 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) throw new BootError(`bzImage kernel_alignment ${hex(kernelAlignment)} is not a power of two of at least 4 KiB`);
  const pref = dv.getBigUint64(HDR.pref_address, true);
  if (pref >= 2n ** 32n) throw new BootError(`bzImage pref_address 0x${pref.toString(16)} is above 4 GiB`);
  const initSize = dv.getUint32(HDR.init_size, true);
  if (initSize === 0) throw new BootError('bzImage init_size is 0');
  return {
    version,
    setupHeader: bytes.subarray(HDR.setup_sects, headerEnd),
    // Load the whole file tail: syssize is rounded to paragraphs and the decompressor reads its payload from
    // here, so take every byte the file has past the setup sectors.
    kernel: bytes.subarray(kernelOffset),
    relocatable,
    kernelAlignment,
    prefAddress: Number(pref),
    initSize,
    initrdAddrMax: dv.getUint32(HDR.initrd_addr_max, true),
    cmdlineSize: dv.getUint32(HDR.cmdline_size, true),
    loadableAbove4G: (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0,
  };
}
