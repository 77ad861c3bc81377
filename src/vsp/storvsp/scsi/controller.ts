// The SCSI side of one storvsp controller: disks as LUNs 0..n-1 at path 0, target 0 (as Hyper-V and OpenVMM
// place them; Linux names them H:0:0:n), and what every other address answers. Linux's scan (scsi_scan.c)
// sends INQUIRY to LUN 0 of each path (0..7) and target (0..1), then REPORT LUNS: an absent address answers
// INQUIRY with peripheral qualifier 3 and REPORT LUNS with an empty list, so the scan moves on without adding a
// device; any other command to an absent LUN fails with INVALID LUN (storvsc then drops the device).
import type { Disk } from '../../../storage/index.js';
import { be32, put32 } from './big-endian.js';
import { CommandResult, Outcome, type DataBuffer } from './command.js';
import { Asc, Op, ScsiStatus, SenseKey } from './constants.js';
import { DiskLun } from './disk-lun.js';
import { standardInquiry } from './inquiry.js';
import { writeFixedSense } from './sense.js';

/** LUNs one controller can hold (single-level LUN addressing, and Linux's max_lun for storvsc). */
export const MAX_LUNS = 255;

export interface ControllerDisk {
  disk: Disk;
  /** Unit serial number; default: the image's disk id (VHDX/VHD), else one derived from the LUN. */
  serial?: string;
}

export class ScsiController {
  readonly luns: readonly DiskLun[];
  private readonly scratch: Uint8Array;

  constructor(disks: readonly ControllerDisk[], readonly maxTransferBytes: number) {
    if (disks.length > MAX_LUNS) throw new RangeError(`a controller holds at most ${MAX_LUNS} disks`);
    // The transfer area: the largest transfer, so one chunk carries a whole request.
    this.scratch = new Uint8Array(Math.max(maxTransferBytes, 65536));
    this.luns = disks.map((d, i) => new DiskLun(d.disk, this.scratch, { serial: d.serial ?? defaultSerial(d.disk, i), maxTransferBytes }));
  }

  /** Runs one command addressed to (path, target, lun); the result is in `r`. */
  execute(path: number, target: number, lun: number, cdb: Uint8Array, cdbLength: number, data: DataBuffer, r: CommandResult): void {
    const here = path === 0 && target === 0;
    if (cdbLength >= 12 && cdb[0] === Op.REPORT_LUNS) return this.reportLuns(here, cdb, data, r);
    const unit = here && lun < this.luns.length ? this.luns[lun] : null;
    if (unit !== null) return unit.execute(cdb, cdbLength, data, r);
    r.reset();
    if (cdb[0] === Op.INQUIRY && cdbLength >= 6 && (cdb[1] & 0x01) === 0) {
      const n = Math.min(standardInquiry(this.scratch, false), (cdb[3] << 8) | cdb[4], data.length);
      if (n > 0 && !data.deliver(0, this.scratch.subarray(0, n))) { r.outcome = Outcome.TransferFailed; return; }
      r.transferred = n;
      return;
    }
    r.outcome = Outcome.InvalidLun;
    r.status = ScsiStatus.CHECK_CONDITION;
    r.senseLength = writeFixedSense(r.sense, SenseKey.ILLEGAL_REQUEST, Asc.LOGICAL_UNIT_NOT_SUPPORTED);
  }

  /** REPORT LUNS (SPC-4 6.33): an 8-byte header, then one 8-byte single-level LUN per disk at this address. */
  private reportLuns(here: boolean, cdb: Uint8Array, data: DataBuffer, r: CommandResult): void {
    r.reset();
    const allocation = be32(cdb, 6);
    if (allocation < 16) { // SPC-4: an allocation length under 16 is an invalid field
      r.outcome = Outcome.CheckCondition;
      r.status = ScsiStatus.CHECK_CONDITION;
      r.senseLength = writeFixedSense(r.sense, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
      return;
    }
    const count = here ? this.luns.length : 0;
    const s = this.scratch;
    const length = 8 + 8 * count;
    s.fill(0, 0, length);
    put32(s, 0, 8 * count);
    for (let i = 0; i < count; i++) s[8 + 8 * i + 1] = i; // peripheral device addressing, bus 0: LUN in byte 1
    const n = Math.min(length, allocation, data.length);
    if (n > 0 && !data.deliver(0, s.subarray(0, n))) { r.outcome = Outcome.TransferFailed; return; }
    r.transferred = n;
  }

  /** Flushes every writable disk (the VM is ending or resetting). */
  flush(): void {
    for (const l of this.luns) if (!l.readOnly) l.disk.flush();
  }

  inspect(): Record<string, unknown>[] {
    return this.luns.map((l, i) => ({ lun: i, ...l.inspect() }));
  }
}

/** The image's own id where it has one (stable across runs, distinct per image), so /dev/disk/by-id is stable. */
function defaultSerial(disk: Disk, lun: number): string {
  let id: string | null = null;
  try { id = disk.info().diskId; } catch { /* descriptive only */ }
  const hex = id?.replace(/[^0-9a-fA-F]/g, '').toUpperCase() ?? '';
  return hex.length === 32 ? hex : `HYPATIA-LUN${lun.toString().padStart(3, '0')}`;
}
