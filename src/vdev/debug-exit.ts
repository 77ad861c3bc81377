// QEMU's isa-debug-exit device: a write of value v to its port powers the machine off, and the process exit
// status becomes (v << 1) | 1 (so it is never 0, telling a guest-requested exit from a clean one).
import type { PortDevice } from './port-bus.js';

export const DEBUG_EXIT_PORT = 0xf4;

export class DebugExit implements PortDevice {
  /** Set once the guest wrote the port. */
  exitCode: number | null = null;

  constructor(private readonly onExit: (code: number) => void) {}

  ioRead(): number {
    return -1;
  }

  ioWrite(_offset: number, size: number, value: number): void {
    // QEMU's default iosize is 1 byte: only the low byte counts.
    void size;
    const v = value & 0xff;
    if (this.exitCode !== null) return;
    this.exitCode = ((v << 1) | 1) >>> 0;
    this.onExit(this.exitCode);
  }
}
