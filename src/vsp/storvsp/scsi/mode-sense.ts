// MODE SENSE(6)/(10) data (SPC-4 7.5, SBC-3 6.5): the header with the write-protect bit, one short block
// descriptor unless DBD, and the pages sd reads — caching (0x08: WCE, so Linux sends SYNCHRONIZE CACHE on
// flush and fsync reaches the host's) and control (0x0A) — or all of them for page 0x3F.
import { put16, put24, put32 } from './big-endian.js';

export const PAGE_CACHING = 0x08;
export const PAGE_CONTROL = 0x0a;
export const PAGE_ALL = 0x3f;

/** The page control field (CDB byte 2 bits 7:6). */
export const enum PageControl { Current = 0, Changeable = 1, Default = 2, Saved = 3 }

export interface ModeFacts {
  readOnly: boolean;
  blocks: number;
  blockSize: number;
}

function cachingPage(out: Uint8Array, at: number, pc: PageControl): number {
  out.fill(0, at, at + 20);
  out[at] = PAGE_CACHING;
  out[at + 1] = 0x12;
  // Writes land in the host's page cache until the disk is flushed: a volatile write cache (WCE), which
  // nothing can turn off (changeable values all zero).
  if (pc !== PageControl.Changeable) out[at + 2] = 0x04;
  return 20;
}

function controlPage(out: Uint8Array, at: number): number {
  out.fill(0, at, at + 12);
  out[at] = PAGE_CONTROL;
  out[at + 1] = 0x0a;
  return 12;
}

/**
 * Writes the mode parameter data; returns its length, or -1 when the page (or subpage) is not served.
 * `ten` selects the MODE SENSE(10) header, `dbd` leaves out the block descriptor.
 */
export function modeSense(out: Uint8Array, ten: boolean, dbd: boolean, pc: PageControl, page: number, subpage: number, facts: ModeFacts): number {
  if (subpage !== 0 && !(page === PAGE_ALL && subpage === 0xff)) return -1;
  if (page !== PAGE_ALL && page !== PAGE_CACHING && page !== PAGE_CONTROL) return -1;
  const header = ten ? 8 : 4;
  const descriptor = dbd ? 0 : 8;
  let at = header + descriptor;
  if (page === PAGE_CACHING || page === PAGE_ALL) at += cachingPage(out, at, pc);
  if (page === PAGE_CONTROL || page === PAGE_ALL) at += controlPage(out, at);
  out.fill(0, 0, header + descriptor);
  const deviceSpecific = facts.readOnly ? 0x80 : 0x00; // WP; DPOFUA clear (no FUA needed: WCE + flush)
  if (ten) {
    put16(out, 0, at - 2);
    out[3] = deviceSpecific;
    put16(out, 6, descriptor);
  } else {
    out[0] = at - 1;
    out[2] = deviceSpecific;
    out[3] = descriptor;
  }
  if (descriptor !== 0) {
    // SBC-3's short LBA block descriptor: number of blocks (all ones when it does not fit), block length.
    const d = header;
    put32(out, d, facts.blocks > 0xffffffff ? 0xffffffff : facts.blocks);
    out[d + 4] = 0;
    put24(out, d + 5, facts.blockSize);
  }
  return at;
}
