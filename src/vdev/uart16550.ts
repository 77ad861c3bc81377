// A 16550A UART (the PC's COM ports). Every register a driver touches: RBR/THR, IER, IIR/FCR, LCR (with the
// divisor latch behind DLAB), MCR (with loopback), LSR, MSR, SCR. Transmission is instant (THR is always
// empty again, so a polling guest never waits); received bytes queue in a 16-byte FIFO as on the real part.
// The interrupt line is computed from IER/IIR and reported through an optional hook, ready for an IOAPIC.
import type { PortDevice } from './port-bus.js';

export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;

// Register offsets.
const RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
// LSR bits.
const LSR_DR = 0x01, LSR_OE = 0x02, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40;
// IER bits.
const IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08;
// IIR values.
const IIR_NONE = 0x01, IIR_RLS = 0x06, IIR_RDA = 0x04, IIR_THRE = 0x02, IIR_MS = 0x00, IIR_FIFO = 0xc0;
const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;
const FIFO_SIZE = 16;

export class Uart16550 implements PortDevice {
  private ier = 0;
  private lcr = 0x03; // 8N1, as firmware leaves it
  private mcr = 0;
  private scr = 0;
  private dll = 0x01; // 115200 baud
  private dlm = 0;
  private fifoEnabled = false;
  private lsrErrors = 0;
  /** A THRE interrupt is pending (set when THR empties, cleared by reading IIR or writing THR). */
  private threPending = false;
  private msrDelta = 0;
  private readonly rx: number[] = [];
  private irqLevel = false;
  /** Statistics for inspection. */
  private txCount = 0;
  private rxCount = 0;

  constructor(
    private readonly transmit: (byte: number) => void,
    private readonly irq: ((level: boolean) => void) | null = null,
  ) {}

  /** Bytes from the outside world (the terminal) to the guest. Returns how many fitted in the FIFO. */
  receive(bytes: ArrayLike<number>): number {
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (this.rx.length >= FIFO_SIZE) { this.lsrErrors |= LSR_OE; break; }
      this.rx.push(bytes[i] & 0xff);
      n++;
    }
    this.rxCount += n;
    this.updateIrq();
    return n;
  }

  /** Room left in the receive FIFO (the console waits rather than overrun it). */
  get rxSpace(): number {
    return FIFO_SIZE - this.rx.length;
  }

  private lsr(): number {
    return (this.rx.length > 0 ? LSR_DR : 0) | LSR_THRE | LSR_TEMT | this.lsrErrors;
  }

  private iir(): number {
    const fifo = this.fifoEnabled ? IIR_FIFO : 0;
    if ((this.ier & IER_RLS) !== 0 && (this.lsrErrors & (LSR_OE | LSR_BI)) !== 0) return IIR_RLS | fifo;
    if ((this.ier & IER_RDA) !== 0 && this.rx.length > 0) return IIR_RDA | fifo;
    if ((this.ier & IER_THRE) !== 0 && this.threPending) return IIR_THRE | fifo;
    if ((this.ier & IER_MS) !== 0 && this.msrDelta !== 0) return IIR_MS | fifo;
    return IIR_NONE | fifo;
  }

  private updateIrq(): void {
    // OUT2 gates the interrupt onto the ISA bus on a PC.
    const level = (this.iir() & 1) === 0 && (this.mcr & 0x08) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      if (this.irq !== null) this.irq(level);
    }
  }

  ioRead(offset: number, _size: number): number {
    let v: number;
    switch (offset) {
      case RBR_THR:
        if ((this.lcr & LCR_DLAB) !== 0) { v = this.dll; break; }
        v = this.rx.length > 0 ? this.rx.shift()! : 0;
        break;
      case IER:
        v = (this.lcr & LCR_DLAB) !== 0 ? this.dlm : this.ier;
        break;
      case IIR_FCR:
        v = this.iir();
        if ((v & 0x0f) === IIR_THRE) this.threPending = false; // reading IIR acknowledges THRE
        break;
      case LCR: v = this.lcr; break;
      case MCR: v = this.mcr; break;
      case LSR:
        v = this.lsr();
        this.lsrErrors = 0; // error bits clear on read
        break;
      case MSR:
        v = this.modemStatus() | this.msrDelta;
        this.msrDelta = 0;
        break;
      case SCR: v = this.scr; break;
      default: v = 0xff;
    }
    this.updateIrq();
    return v & 0xff;
  }

  ioWrite(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case RBR_THR:
        if ((this.lcr & LCR_DLAB) !== 0) { this.dll = v; break; }
        this.txCount++;
        if ((this.mcr & MCR_LOOP) !== 0) {
          if (this.rx.length < FIFO_SIZE) this.rx.push(v); else this.lsrErrors |= LSR_OE;
        } else {
          this.transmit(v);
        }
        this.threPending = true; // the byte left at once: THR is empty again
        break;
      case IER:
        if ((this.lcr & LCR_DLAB) !== 0) { this.dlm = v; break; }
        // Enabling THRE interrupts with THR empty raises one straight away (8250-family behaviour).
        if ((v & IER_THRE) !== 0 && (this.ier & IER_THRE) === 0) this.threPending = true;
        this.ier = v & 0x0f;
        break;
      case IIR_FCR:
        this.fifoEnabled = (v & 1) !== 0;
        if ((v & 2) !== 0) this.rx.length = 0; // clear receive FIFO
        break;
      case LCR: this.lcr = v; break;
      case MCR: this.mcr = v & 0x1f; break;
      case LSR: break; // read-only (factory test register on some parts)
      case MSR: break;
      case SCR: this.scr = v; break;
    }
    this.updateIrq();
  }

  /** CTS, DSR, DCD asserted (a terminal is always there); in loopback they follow MCR. */
  private modemStatus(): number {
    if ((this.mcr & MCR_LOOP) !== 0) {
      const m = this.mcr;
      return ((m & 0x02) !== 0 ? 0x10 : 0) | ((m & 0x01) !== 0 ? 0x20 : 0) | ((m & 0x04) !== 0 ? 0x40 : 0) | ((m & 0x08) !== 0 ? 0x80 : 0);
    }
    return 0xb0;
  }

  get divisor(): number {
    return (this.dlm << 8) | this.dll;
  }

  inspect(): Record<string, unknown> {
    return {
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, lsr: this.lsr(), divisor: this.divisor, fifo: this.fifoEnabled,
      rxQueued: this.rx.length, transmitted: this.txCount, received: this.rxCount, irq: this.irqLevel,
    };
  }
}
