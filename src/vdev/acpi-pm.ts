// ACPI fixed-hardware power management registers (ACPI 6.x, 4.8.3 "PM1 Event Grouping" / "PM1 Control
// Grouping") and the FADT's reset register, on I/O ports. What they do here:
//   PM1a_STS (word, write 1 to clear) / PM1a_EN (word): stored; no event ever sets a status bit, so the SCI
//     is never raised (no IRQ wiring is needed for now).
//   PM1a_CNT (word): SCI_EN reads 1 (no SMI port: the platform is always in ACPI mode). A write with SLP_EN
//     set and SLP_TYP = the \_S5 value powers the VM off; the \_S0 value is a no-op; other types are counted
//     and ignored (the DSDT offers no other sleep state).
//   RESET_REG (byte): writing the FADT's RESET_VALUE requests a reset.
// Ports and values come from the worker, which takes them from the same AcpiPlatform the FADT and DSDT are
// generated from. Accesses of any size at any offset inside a block are split into bytes, as the hardware
// registers behave.
import type { PortBus, PortDevice } from './port-bus.js';

export const PM1_CNT_SCI_EN = 1 << 0;
export const PM1_CNT_SLP_TYP_SHIFT = 10;
export const PM1_CNT_SLP_TYP_MASK = 7 << PM1_CNT_SLP_TYP_SHIFT;
export const PM1_CNT_SLP_EN = 1 << 13;
/** PM1_CNT bits software can read back (BM_RLD, SLP_TYP); GBL_RLS and SLP_EN are write-only. */
const PM1_CNT_STORED = (1 << 1) | PM1_CNT_SLP_TYP_MASK;

export interface AcpiPmConfig {
  pm1aEvtPort: number;
  pm1aCntPort: number;
  resetPort: number;
  resetValue: number;
  s0SlpTyp: number;
  s5SlpTyp: number;
}

export interface AcpiPmEvents {
  powerOff(): void;
  reset(): void;
}

function byteOf(value: number, i: number): number {
  return (value >>> (8 * i)) & 0xff;
}

export class AcpiPm {
  private sts = 0;
  private en = 0;
  private cnt = 0;
  /** Counters for inspect(). */
  private sleepRequests = 0;
  private ignoredSleepTypes = 0;
  private resetWrites = 0;
  private readonly evt: PortDevice;
  private readonly ctl: PortDevice;
  private readonly rst: PortDevice;

  constructor(private readonly config: AcpiPmConfig, private readonly events: AcpiPmEvents) {
    // One adapter per block, made once: the bus hands each an offset inside its block.
    this.evt = { ioRead: (o, s) => this.readEvt(o, s), ioWrite: (o, s, v) => this.writeEvt(o, s, v) };
    this.ctl = { ioRead: (o, s) => this.readCnt(o, s), ioWrite: (o, s, v) => this.writeCnt(o, s, v) };
    this.rst = { ioRead: () => 0, ioWrite: (o, s, v) => this.writeReset(o, s, v) };
  }

  /** Claim the PM1a event block (4 ports), the PM1a control block (2) and the reset register (1). */
  register(bus: PortBus): void {
    bus.register('acpi-pm1a-evt', this.config.pm1aEvtPort, 4, this.evt);
    bus.register('acpi-pm1a-cnt', this.config.pm1aCntPort, 2, this.ctl);
    bus.register('acpi-reset', this.config.resetPort, 1, this.rst);
  }

  private readEvt(offset: number, size: number): number {
    const block = (this.sts & 0xffff) | ((this.en & 0xffff) << 16);
    let v = 0;
    for (let i = 0; i < size; i++) v |= (offset + i < 4 ? byteOf(block, offset + i) : 0xff) << (8 * i);
    return v >>> 0;
  }

  private writeEvt(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = offset + i, b = byteOf(value, i);
      if (at < 2) this.sts &= ~(b << (8 * at)); // write 1 to clear
      else if (at < 4) this.en = (this.en & ~(0xff << (8 * (at - 2)))) | (b << (8 * (at - 2)));
    }
  }

  private readCnt(offset: number, size: number): number {
    const reg = this.cnt | PM1_CNT_SCI_EN;
    let v = 0;
    for (let i = 0; i < size; i++) v |= (offset + i < 2 ? byteOf(reg, offset + i) : 0xff) << (8 * i);
    return v >>> 0;
  }

  private writeCnt(offset: number, size: number, value: number): void {
    let written = this.cnt;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at < 2) written = (written & ~(0xff << (8 * at))) | (byteOf(value, i) << (8 * at));
    }
    this.cnt = written & PM1_CNT_STORED;
    if ((written & PM1_CNT_SLP_EN) === 0) return;
    this.sleepRequests++;
    const type = (written & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
    if (type === this.config.s5SlpTyp) this.events.powerOff();
    else if (type !== this.config.s0SlpTyp) this.ignoredSleepTypes++;
  }

  private writeReset(_offset: number, _size: number, value: number): void {
    if ((value & 0xff) !== this.config.resetValue) return;
    this.resetWrites++;
    this.events.reset();
  }

  inspect(): Record<string, unknown> {
    const hex = (n: number): string => '0x' + n.toString(16);
    return {
      pm1aEvtPort: hex(this.config.pm1aEvtPort), pm1aCntPort: hex(this.config.pm1aCntPort), resetPort: hex(this.config.resetPort),
      pm1Status: hex(this.sts), pm1Enable: hex(this.en), pm1Control: hex(this.cnt | PM1_CNT_SCI_EN),
      sleepRequests: this.sleepRequests, ignoredSleepTypes: this.ignoredSleepTypes, resetWrites: this.resetWrites,
    };
  }
}
