// The MMIO dispatch table: accesses to unmapped GPAs that a VDev claims go to it; the rest read as all-ones.

export interface MmioDevice {
  mmioRead(offset: number, size: number): number;
  mmioWrite(offset: number, size: number, value: number): void;
}

interface MmioRange { base: number; length: number; device: MmioDevice; name: string }

export class MmioBus {
  private readonly ranges: MmioRange[] = [];

  register(name: string, base: number, length: number, device: MmioDevice): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length < 1) throw new RangeError(`bad MMIO range for ${name}`);
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) throw new RangeError(`MMIO range of ${name} overlaps ${r.name}`);
    }
    this.ranges.push({ base, length, device, name });
  }

  private find(gpa: number): MmioRange | undefined {
    for (const r of this.ranges) if (gpa >= r.base && gpa < r.base + r.length) return r;
    return undefined;
  }

  read(gpa: number, size: number): number {
    const r = this.find(gpa);
    return r === undefined ? -1 : r.device.mmioRead(gpa - r.base, size);
  }

  write(gpa: number, size: number, value: number): void {
    const r = this.find(gpa);
    if (r !== undefined) r.device.mmioWrite(gpa - r.base, size, value);
  }

  inspect(): Record<string, unknown>[] {
    return this.ranges.map((r) => ({ name: r.name, base: '0x' + r.base.toString(16), length: r.length }));
  }
}
