// The I/O port dispatch table the worker's VDevs register with: intercepted port accesses are routed to the
// device claiming the port; unclaimed ports read as all-ones and drop writes, as on a PC's ISA bus.

export interface PortDevice {
  /** `offset` is relative to the device's first port; sizes 1, 2, 4. */
  ioRead(offset: number, size: number): number;
  ioWrite(offset: number, size: number, value: number): void;
}

export interface PortRange { first: number; count: number; device: PortDevice; name: string }

export class PortBus {
  private readonly owner: (PortRange | undefined)[] = new Array(65536).fill(undefined);
  private readonly ranges: PortRange[] = [];

  register(name: string, first: number, count: number, device: PortDevice): PortRange {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1 || first + count > 65536) {
      throw new RangeError(`bad port range ${first}+${count} for ${name}`);
    }
    for (let p = first; p < first + count; p++) {
      const o = this.owner[p];
      if (o !== undefined) throw new RangeError(`port 0x${p.toString(16)} of ${name} is already claimed by ${o.name}`);
    }
    const r: PortRange = { first, count, device, name };
    for (let p = first; p < first + count; p++) this.owner[p] = r;
    this.ranges.push(r);
    return r;
  }

  /** Every claimed port (the worker installs an intercept for each). */
  ports(): number[] {
    const out: number[] = [];
    for (const r of this.ranges) for (let p = r.first; p < r.first + r.count; p++) out.push(p);
    return out;
  }

  read(port: number, size: number): number {
    const r = this.owner[port & 0xffff];
    return r === undefined ? -1 : r.device.ioRead(port - r.first, size);
  }

  write(port: number, size: number, value: number): void {
    const r = this.owner[port & 0xffff];
    if (r !== undefined) r.device.ioWrite(port - r.first, size, value);
  }

  inspect(): Record<string, unknown>[] {
    return this.ranges.map((r) => ({ name: r.name, first: '0x' + r.first.toString(16), count: r.count }));
  }
}
