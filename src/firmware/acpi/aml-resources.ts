// Resource descriptors for _CRS and friends (ACPI 6.x, section 6.4 "Resource Data Types for ACPI"), and
// ResourceTemplate (), which is a Buffer holding descriptors and an End Tag.
import { AmlError, buffer, concat, type Aml } from './aml.js';

const END_TAG = 0x79; // small item, name 0xF, length 1
const IO_PORT = 0x47; // small item, name 0x8, length 7
const MEMORY32_FIXED = 0x86; // large item
const QWORD_ADDRESS_SPACE = 0x8a; // large item

/** ResourceTemplate () { descriptors }: the descriptors then an End Tag whose checksum byte is 0 ("none"). */
export function resourceTemplate(...descriptors: Uint8Array[]): Aml {
  return buffer(concat(...descriptors, Uint8Array.of(END_TAG, 0)));
}

function le(out: Uint8Array, at: number, v: number | bigint, size: number): void {
  let x = BigInt(v);
  for (let i = 0; i < size; i++) { out[at + i] = Number(x & 0xffn); x >>= 8n; }
}

/** IO (Decode16, min, max, alignment, length). */
export function ioPort(min: number, max: number, alignment: number, length: number): Uint8Array {
  for (const [n, v, lim] of [['min', min, 0xffff], ['max', max, 0xffff], ['alignment', alignment, 0xff], ['length', length, 0xff]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > lim) throw new AmlError(`IO descriptor ${n} ${v} out of range`);
  }
  const d = new Uint8Array(8);
  d[0] = IO_PORT;
  d[1] = 1; // decodes 16 address bits
  le(d, 2, min, 2); le(d, 4, max, 2); d[6] = alignment; d[7] = length;
  return d;
}

/** Memory32Fixed (ReadWrite|ReadOnly, base, length). */
export function memory32Fixed(base: number, length: number, writable = true): Uint8Array {
  if (!Number.isInteger(base) || base < 0 || base + length > 2 ** 32 || !Number.isInteger(length) || length < 0) throw new AmlError(`Memory32Fixed ${base}+${length} out of range`);
  const d = new Uint8Array(12);
  d[0] = MEMORY32_FIXED;
  le(d, 1, 9, 2);
  d[3] = writable ? 1 : 0;
  le(d, 4, base, 4); le(d, 8, length, 4);
  return d;
}

export interface QWordMemoryOptions {
  /** A producer hands the range out to children (a bridge or module device); a consumer uses it itself. */
  producer?: boolean;
  cacheable?: 'noncacheable' | 'cacheable' | 'writecombining' | 'prefetchable';
  writable?: boolean;
}

const CACHE_BITS = { noncacheable: 0, cacheable: 1, writecombining: 2, prefetchable: 3 } as const;

/**
 * QWordMemory (ResourceProducer|ResourceConsumer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite,
 * granularity 0, min, min + length - 1, translation 0, length): a fixed 64-bit memory range, what Linux's
 * hv_vmbus collects from _CRS for its MMIO pool.
 */
export function qwordMemory(min: number | bigint, length: number | bigint, opts: QWordMemoryOptions = {}): Uint8Array {
  const lo = BigInt(min), len = BigInt(length);
  if (lo < 0n || len <= 0n || lo + len > 2n ** 64n) throw new AmlError(`QWordMemory ${min}+${length} out of range`);
  const d = new Uint8Array(46);
  d[0] = QWORD_ADDRESS_SPACE;
  le(d, 1, 43, 2);
  d[3] = 0; // resource type: memory range
  d[4] = (opts.producer === true ? 0 : 1) | 0x04 | 0x08; // consumer bit, PosDecode (0), MinFixed, MaxFixed
  d[5] = (opts.writable === false ? 0 : 1) | (CACHE_BITS[opts.cacheable ?? 'noncacheable'] << 1); // AddressRangeMemory, TypeStatic
  le(d, 6, 0n, 8); // granularity
  le(d, 14, lo, 8);
  le(d, 22, lo + len - 1n, 8);
  le(d, 30, 0n, 8); // translation offset
  le(d, 38, len, 8);
  return d;
}
