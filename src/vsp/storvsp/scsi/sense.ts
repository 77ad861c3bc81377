// Fixed-format sense data (SPC-4 4.5.3), what storvsc copies into the SCSI midlayer's sense buffer.
import { FIXED_SENSE_LENGTH, type Asc, type SenseKey } from './constants.js';

/** Fills `out` (at least 18 bytes) with current-error fixed sense for key/asc/ascq; returns the length written. */
export function writeFixedSense(out: Uint8Array, key: SenseKey, asc: Asc): number {
  out.fill(0, 0, FIXED_SENSE_LENGTH);
  out[0] = 0x70; // current error, fixed format; VALID (bit 7) clear: no INFORMATION field
  out[2] = key & 0x0f;
  out[7] = FIXED_SENSE_LENGTH - 8; // additional sense length
  out[12] = (asc >>> 8) & 0xff;
  out[13] = asc & 0xff;
  return FIXED_SENSE_LENGTH;
}
