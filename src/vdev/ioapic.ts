// The I/O APIC (Intel 82093AA datasheet, with the EOI register of the version-0x20 parts Linux looks for):
// 24 input pins, each with a redirection entry that turns a pin's level or edge into an interrupt message for
// the local APICs. Registers are reached through IOREGSEL (offset 0x00) and IOWIN (0x10) in its MMIO page at
// 0xFEC00000 (where the ACPI MADT says it is). Level-triggered entries keep Remote IRR set from delivery until
// the local APIC's EOI comes back (the worker forwards HvMessageTypeX64ApicEoi to `eoi`), then re-deliver if
// the pin is still asserted. Messages leave through `send` (the worker turns them into VID assertInterrupt).
import type { MmioDevice } from './mmio-bus.js';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_MMIO_SIZE = 0x1000;
export const IOAPIC_PINS = 24;
/** Version register: version 0x20, maximum redirection entry 23. */
export const IOAPIC_VERSION = 0x20 | ((IOAPIC_PINS - 1) << 16);

/** MMIO offsets. */
const IOREGSEL = 0x00, IOWIN = 0x10, IOEOI = 0x40;
/** Register indices. */
const REG_ID = 0x00, REG_VERSION = 0x01, REG_ARBITRATION = 0x02, REG_REDIR = 0x10;

/** Redirection entry, low dword. */
export const Redir = {
  VECTOR: 0xff,
  DELIVERY_SHIFT: 8,
  LOGICAL: 1 << 11,
  DELIVERY_STATUS: 1 << 12,
  POLARITY_LOW: 1 << 13,
  REMOTE_IRR: 1 << 14,
  LEVEL: 1 << 15,
  MASKED: 1 << 16,
  /** Vector, delivery mode, destination mode, polarity, trigger mode, mask (status and Remote IRR are read-only). */
  WRITABLE: 0x1afff,
} as const;

/** Delivery modes a redirection entry may carry that reach the local APIC here (fixed, lowest priority, NMI). */
const DM_FIXED = 0, DM_LOWEST = 1, DM_NMI = 4;

/** An interrupt message to the local APIC(s): delivery mode as in the APIC/TLFS numbering. */
export type InterruptSink = (vector: number, deliveryMode: number, destination: number, logical: boolean, levelTriggered: boolean) => void;

export class IoApic implements MmioDevice {
  private regsel = 0;
  private id = 0;
  private readonly lo = new Int32Array(IOAPIC_PINS);
  private readonly hi = new Int32Array(IOAPIC_PINS);
  /** Electrical level of each input (true: high), as the devices drive it. */
  private readonly line = new Uint8Array(IOAPIC_PINS);
  /** Statistics for inspection. */
  private readonly stats = { delivered: 0, eois: 0, dropped: 0 };

  constructor(private readonly send: InterruptSink) {
    this.reset();
  }

  reset(): void {
    this.regsel = 0;
    this.id = 0;
    this.lo.fill(Redir.MASKED);
    this.hi.fill(0);
  }

  // ------------------------------------------------------------ inputs

  /** A device drives pin `pin` high (true) or low. Edge entries fire on the assertion edge. */
  setLevel(pin: number, high: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) return;
    const before = this.asserted(pin);
    this.line[pin] = high ? 1 : 0;
    const now = this.asserted(pin);
    if ((this.lo[pin] & Redir.LEVEL) !== 0) this.evaluateLevel(pin);
    else if (now && !before && (this.lo[pin] & Redir.MASKED) === 0) this.deliver(pin, false);
  }

  /** Is the pin's input active, given the entry's polarity? */
  private asserted(pin: number): boolean {
    return (this.line[pin] !== 0) !== ((this.lo[pin] & Redir.POLARITY_LOW) !== 0);
  }

  /** Level-triggered: deliver while asserted, unmasked, and not already waiting for an EOI. */
  private evaluateLevel(pin: number): void {
    const e = this.lo[pin];
    if ((e & Redir.LEVEL) === 0 || (e & (Redir.MASKED | Redir.REMOTE_IRR)) !== 0 || !this.asserted(pin)) return;
    this.deliver(pin, true);
  }

  private deliver(pin: number, level: boolean): void {
    const e = this.lo[pin];
    const mode = (e >>> Redir.DELIVERY_SHIFT) & 7;
    if (mode !== DM_FIXED && mode !== DM_LOWEST && mode !== DM_NMI) { this.stats.dropped++; return; } // SMI, INIT, ExtINT
    // NMIs are not EOIed: only fixed/lowest-priority level interrupts wait in Remote IRR.
    const waits = level && mode !== DM_NMI;
    if (waits) this.lo[pin] = e | Redir.REMOTE_IRR;
    this.stats.delivered++;
    this.send(e & Redir.VECTOR, mode, this.hi[pin] >>> 24, (e & Redir.LOGICAL) !== 0, waits);
  }

  /** The local APIC EOIed a level-triggered `vector`: clear Remote IRR of its entries and re-check them. */
  eoi(vector: number): void {
    this.stats.eois++;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.lo[pin];
      if ((e & Redir.REMOTE_IRR) === 0 || (e & Redir.VECTOR) !== (vector & 0xff)) continue;
      this.lo[pin] = e & ~Redir.REMOTE_IRR;
      this.evaluateLevel(pin);
    }
  }

  // ------------------------------------------------------------ registers

  private readRegister(r: number): number {
    switch (r) {
      case REG_ID: return this.id << 24;
      case REG_VERSION: return IOAPIC_VERSION;
      case REG_ARBITRATION: return this.id << 24;
    }
    if (r >= REG_REDIR && r < REG_REDIR + 2 * IOAPIC_PINS) {
      const pin = (r - REG_REDIR) >>> 1;
      return (r & 1) === 0 ? this.lo[pin] : this.hi[pin];
    }
    return 0;
  }

  private writeRegister(r: number, v: number): void {
    if (r === REG_ID) { this.id = (v >>> 24) & 0xf; return; }
    if (r < REG_REDIR || r >= REG_REDIR + 2 * IOAPIC_PINS) return; // version, arbitration: read-only
    const pin = (r - REG_REDIR) >>> 1;
    if ((r & 1) === 1) { this.hi[pin] = v & 0xff000000; return; }
    let e = (this.lo[pin] & Redir.REMOTE_IRR) | (v & Redir.WRITABLE);
    if ((e & Redir.LEVEL) === 0) e &= ~Redir.REMOTE_IRR; // an edge entry has no EOI to wait for
    this.lo[pin] = e;
    this.evaluateLevel(pin); // unmasking a still-asserted level pin delivers now
  }

  mmioRead(offset: number, size: number): number {
    if (offset >= IOREGSEL && offset < IOREGSEL + 4) return offset === IOREGSEL ? this.regsel : 0;
    if (offset >= IOWIN && offset < IOWIN + 4) {
      const v = this.readRegister(this.regsel) >>> ((offset - IOWIN) * 8);
      return size >= 4 ? v | 0 : v & ((1 << (size * 8)) - 1);
    }
    return 0;
  }

  mmioWrite(offset: number, size: number, value: number): void {
    if (offset === IOREGSEL) { this.regsel = value & 0xff; return; }
    if (offset === IOWIN && size === 4) { this.writeRegister(this.regsel, value); return; }
    if (offset === IOEOI && size === 4) this.eoi(value & 0xff);
  }

  inspect(): Record<string, unknown> {
    const entries: Record<string, string> = {};
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      if (this.lo[pin] !== Redir.MASKED || this.hi[pin] !== 0) {
        entries[pin] = '0x' + (this.hi[pin] >>> 0).toString(16).padStart(8, '0') + (this.lo[pin] >>> 0).toString(16).padStart(8, '0');
      }
    }
    return { id: this.id, entries, lines: [...this.line].map((l, i) => (l !== 0 ? i : -1)).filter((i) => i >= 0), ...this.stats };
  }
}
