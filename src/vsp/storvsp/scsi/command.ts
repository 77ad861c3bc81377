// One SCSI command's exchange with its initiator: the data buffer it offered (read from for data-out, written
// to for data-in) and the outcome the target reports. The buffer is an interface so the same target serves
// guest memory (storvsp's GPA-direct ranges) and plain arrays (tests).
import { FIXED_SENSE_LENGTH, ScsiStatus } from './constants.js';

/** The initiator's data buffer for one command. */
export interface DataBuffer {
  /** Bytes the buffer holds (the initiator's expected transfer length). */
  readonly length: number;
  /** Copy `dest.length` bytes of the initiator's data-out from `offset`; false if its memory cannot be read. */
  fetch(offset: number, dest: Uint8Array): boolean;
  /** Copy `src` into the initiator's buffer at `offset` (data-in); false if its memory cannot be written. */
  deliver(offset: number, src: Uint8Array): boolean;
}

/** How a command ended, beyond SCSI status: the transport outcomes storvsp maps to SRB statuses. */
export const enum Outcome {
  /** Status GOOD. */
  Good = 0,
  /** Status CHECK CONDITION with sense data. */
  CheckCondition = 1,
  /** The initiator's buffer could not be read or written (its memory is not RAM). */
  TransferFailed = 2,
  /** The command needs more data than the initiator's buffer holds. */
  Overrun = 3,
  /** No logical unit at the address (sense 05/25/00 is also set). */
  InvalidLun = 4,
}

/** A command's result; one instance is reused for every command (no allocation per I/O). */
export class CommandResult {
  outcome: Outcome = Outcome.Good;
  status: ScsiStatus = ScsiStatus.GOOD;
  /** Bytes actually moved to or from the initiator's buffer. */
  transferred = 0;
  readonly sense = new Uint8Array(FIXED_SENSE_LENGTH);
  senseLength = 0;

  reset(): void {
    this.outcome = Outcome.Good;
    this.status = ScsiStatus.GOOD;
    this.transferred = 0;
    this.senseLength = 0;
  }
}

/** A DataBuffer over an array (tests, and commands whose data lives in host memory). */
export class ArrayDataBuffer implements DataBuffer {
  constructor(readonly bytes: Uint8Array) {}
  get length(): number { return this.bytes.length; }
  fetch(offset: number, dest: Uint8Array): boolean {
    if (offset + dest.length > this.bytes.length) return false;
    dest.set(this.bytes.subarray(offset, offset + dest.length));
    return true;
  }
  deliver(offset: number, src: Uint8Array): boolean {
    if (offset + src.length > this.bytes.length) return false;
    this.bytes.set(src, offset);
    return true;
  }
}
