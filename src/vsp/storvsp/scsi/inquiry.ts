// INQUIRY data (SPC-4 6.6): the standard data and the vital product data pages a Linux disk reads at probe
// (drivers/scsi/scsi.c scsi_attach_vpd: 0x00, 0x80, 0x83; sd.c: 0xB0 block limits, 0xB1 characteristics,
// 0xB2 provisioning). Each builder writes into `out` and returns the full length of the data (the caller
// truncates to the allocation length).
import { put16, put32, put64 } from './big-endian.js';

/** The identity Hyper-V's virtual disks report; Linux keys quirks on "Msft" (storvsc_device_configure). */
export const VENDOR = 'Msft';
export const PRODUCT = 'Virtual Disk';
export const REVISION = '1.0';
/** SPC-4 (INQUIRY version 6): Linux then tries READ CAPACITY(16) first and reads VPD pages. */
const VERSION_SPC4 = 0x06;
export const STANDARD_INQUIRY_LENGTH = 36;

/** The VPD pages this target serves, in ascending order (page 0x00 lists them). */
export const VPD_PAGES: readonly number[] = [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2];

function putAscii(out: Uint8Array, at: number, width: number, text: string): void {
  for (let i = 0; i < width; i++) out[at + i] = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
}

/**
 * Standard INQUIRY data. `present` false gives what SPC-4 says for an address without a logical unit:
 * peripheral qualifier 3, device type 0x1F (Linux's scsi_probe_and_add_lun then adds nothing but knows the
 * target answers, and goes on with REPORT LUNS).
 */
export function standardInquiry(out: Uint8Array, present: boolean): number {
  out.fill(0, 0, STANDARD_INQUIRY_LENGTH);
  out[0] = present ? 0x00 : 0x7f; // PQ 0, direct-access block device / PQ 3, unknown type
  out[2] = VERSION_SPC4;
  out[3] = 0x02 | 0x10; // response data format 2, HISUP (LUNs are hierarchical addresses)
  out[4] = STANDARD_INQUIRY_LENGTH - 5; // additional length
  out[7] = 0x02; // CMDQUE: the target takes tagged commands
  putAscii(out, 8, 8, VENDOR);
  putAscii(out, 16, 16, PRODUCT);
  putAscii(out, 32, 4, REVISION);
  return STANDARD_INQUIRY_LENGTH;
}

/** What the VPD pages say about one disk. */
export interface VpdFacts {
  /** Unit serial number, printable ASCII (at most 32 characters). */
  serial: string;
  /** Logical blocks per physical block (a power of 2). */
  blocksPerPhysical: number;
  /** Largest transfer in logical blocks (the controller's max transfer). */
  maxTransferBlocks: number;
  /** UNMAP supported (thin provisioning, writable disk). */
  unmap: boolean;
  maxUnmapBlocks: number;
  maxUnmapDescriptors: number;
  /** Optimal unmap granularity in logical blocks (the image's block size), 0 if none. */
  unmapGranularity: number;
  /** Largest WRITE SAME in logical blocks. */
  maxWriteSameBlocks: number;
}

/** VPD page `page` into `out`; -1 if the page is not served. */
export function vpdPage(out: Uint8Array, page: number, facts: VpdFacts): number {
  switch (page) {
    case 0x00: {
      out[0] = 0; out[1] = 0x00; out[2] = 0; out[3] = VPD_PAGES.length;
      for (let i = 0; i < VPD_PAGES.length; i++) out[4 + i] = VPD_PAGES[i];
      return 4 + VPD_PAGES.length;
    }
    case 0x80: { // unit serial number
      const n = facts.serial.length;
      out[0] = 0; out[1] = 0x80; out[2] = 0; out[3] = n;
      putAscii(out, 4, n, facts.serial);
      return 4 + n;
    }
    case 0x83: { // device identification: one T10 vendor ID designator, "Msft    " + serial (SPC-4 7.8.6.4)
      const id = 8 + facts.serial.length;
      out[0] = 0; out[1] = 0x83; put16(out, 2, 4 + id);
      out[4] = 0x02; // protocol identifier 0, code set 2 (ASCII)
      out[5] = 0x01; // PIV 0, association 0 (the logical unit), designator type 1 (T10 vendor ID)
      out[6] = 0;
      out[7] = id;
      putAscii(out, 8, 8, VENDOR);
      putAscii(out, 16, facts.serial.length, facts.serial);
      return 8 + id;
    }
    case 0xb0: { // block limits (SBC-3 6.6.4), page length 0x3C
      out.fill(0, 0, 64);
      out[1] = 0xb0; out[3] = 0x3c;
      out[4] = 0x01; // WSNZ: a WRITE SAME of 0 blocks is refused rather than meaning "to the end"
      put16(out, 6, facts.blocksPerPhysical); // optimal transfer length granularity
      put32(out, 8, facts.maxTransferBlocks);
      put32(out, 12, facts.maxTransferBlocks); // optimal transfer length
      if (facts.unmap) {
        put32(out, 20, facts.maxUnmapBlocks);
        put32(out, 24, facts.maxUnmapDescriptors);
        put32(out, 28, facts.unmapGranularity);
      }
      put64(out, 36, facts.maxWriteSameBlocks);
      return 64;
    }
    case 0xb1: { // block device characteristics (SBC-3 6.6.2): a file, not a spinning medium
      out.fill(0, 0, 64);
      out[1] = 0xb1; out[3] = 0x3c;
      put16(out, 4, 0x0001); // medium rotation rate 1: non-rotating medium
      return 64;
    }
    case 0xb2: { // logical block provisioning (SBC-3 6.6.5)
      out.fill(0, 0, 8);
      out[1] = 0xb2; out[3] = 0x04;
      // LBPU: UNMAP is supported. LBPRZ stays 0: what a discard leaves behind is unspecified (a raw file keeps
      // its data, a differencing VHDX shows the parent's).
      out[5] = facts.unmap ? 0x80 : 0x00;
      out[6] = facts.unmap ? 0x02 : 0x00; // provisioning type: thin / not reported
      return 8;
    }
    default:
      return -1;
  }
}
