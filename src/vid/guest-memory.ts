// Guest RAM as the root sees it: child GPA -> the root page VID mapped there. Loaders and devices read and
// write guest memory by GPA through this, checked against the child's RAM; writes tell the hypervisor so the
// child's VPs drop decoded code on those pages.
import type { WinHv } from '../winhv/index.js';
import { VidError } from './vid-error.js';

const PAGE = 4096;

export class GuestMemory {
  constructor(
    private readonly winhv: WinHv,
    private readonly partitionId: number,
    /** Root page backing each RAM GPA page (RAM is GPA 0 .. byteLength). */
    private readonly rootPages: Int32Array,
  ) {}

  get byteLength(): number {
    return this.rootPages.length * PAGE;
  }

  /** True when [gpa, gpa + length) is guest RAM. */
  contains(gpa: number, length: number): boolean {
    return Number.isSafeInteger(gpa) && Number.isSafeInteger(length) && gpa >= 0 && length >= 0 && gpa + length <= this.byteLength;
  }

  private check(gpa: number, length: number): void {
    if (!this.contains(gpa, length)) {
      throw new VidError(`guest range 0x${gpa.toString(16)}+0x${length.toString(16)} is outside the partition's ${this.byteLength} bytes of RAM`);
    }
  }

  read(gpa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(gpa, out);
    return out;
  }

  readInto(gpa: number, dst: Uint8Array): void {
    this.check(gpa, dst.length);
    const mem = this.winhv.memory;
    let done = 0;
    while (done < dst.length) {
      const g = gpa + done, page = Math.floor(g / PAGE), off = g - page * PAGE;
      const n = Math.min(PAGE - off, dst.length - done);
      const src = this.rootPages[page] * PAGE + off;
      dst.set(mem.subarray(src, src + n), done);
      done += n;
    }
  }

  write(gpa: number, bytes: Uint8Array): void {
    this.check(gpa, bytes.length);
    if (bytes.length === 0) return;
    const mem = this.winhv.memory;
    let done = 0;
    while (done < bytes.length) {
      const g = gpa + done, page = Math.floor(g / PAGE), off = g - page * PAGE;
      const n = Math.min(PAGE - off, bytes.length - done);
      mem.set(bytes.subarray(done, done + n), this.rootPages[page] * PAGE + off);
      done += n;
    }
    const first = Math.floor(gpa / PAGE), last = Math.floor((gpa + bytes.length - 1) / PAGE);
    this.winhv.flushGpaRange(this.partitionId, first, last - first + 1);
  }

  writeU64(gpa: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.write(gpa, b);
  }

  readU64(gpa: number): bigint {
    return new DataView(this.read(gpa, 8).buffer).getBigUint64(0, true);
  }
}
