// Identifying a bzImage from its real-mode header (Linux Documentation/arch/x86/boot.rst): boot_flag 0xAA55 at
// 0x1FE, "HdrS" at 0x202, the boot protocol version at 0x206 and, from protocol 2.00, kernel_version at 0x20E:
// an offset (minus 0x200) of a NUL-terminated version string such as "6.1.0-56-cloud-amd64 (debian-kernel@...)".
// Only enough to check what we fetched; the loader proper lives in src/firmware.
import { GuestImageError } from './errors.js';

export const BZIMAGE_BOOT_FLAG_OFFSET = 0x1fe;
export const BZIMAGE_HEADER_MAGIC_OFFSET = 0x202;
export const BZIMAGE_HEADER_MAGIC = 'HdrS';
const VERSION_OFFSET = 0x206;
const KERNEL_VERSION_OFFSET = 0x20e;

export interface BzImageInfo {
  /** Boot protocol, e.g. "2.15". */
  protocol: string;
  /** The embedded version string, or '' if the header has none. */
  version: string;
  /** Its first word: the kernel release ("6.1.0-56-cloud-amd64"), matching /lib/modules/<release>. */
  release: string;
}

/** Whether the bytes carry the "HdrS" signature at 0x202. */
export function hasBzImageSignature(image: Uint8Array): boolean {
  if (image.length < BZIMAGE_HEADER_MAGIC_OFFSET + 4) return false;
  return Buffer.from(image.buffer, image.byteOffset + BZIMAGE_HEADER_MAGIC_OFFSET, 4).toString('latin1') === BZIMAGE_HEADER_MAGIC;
}

/** Checks the bzImage header and reads its protocol and version string. */
export function readBzImageInfo(image: Uint8Array, what = 'kernel'): BzImageInfo {
  if (!hasBzImageSignature(image)) throw new GuestImageError('bad-kernel', `${what}: no "HdrS" signature at 0x202 (not a bzImage)`);
  const u16 = (o: number) => image[o] | (image[o + 1] << 8);
  if (u16(BZIMAGE_BOOT_FLAG_OFFSET) !== 0xaa55) throw new GuestImageError('bad-kernel', `${what}: boot flag at 0x1FE is not 0xAA55`);
  const proto = u16(VERSION_OFFSET);
  let version = '';
  const ptr = proto >= 0x200 ? u16(KERNEL_VERSION_OFFSET) : 0;
  if (ptr !== 0) {
    const start = ptr + 0x200;
    let end = start;
    while (end < image.length && end < start + 512 && image[end] !== 0) end++;
    if (start < image.length) version = Buffer.from(image.buffer, image.byteOffset + start, end - start).toString('latin1');
  }
  return { protocol: `${proto >> 8}.${(proto & 0xff).toString().padStart(2, '0')}`, version, release: version.split(' ')[0] ?? '' };
}
