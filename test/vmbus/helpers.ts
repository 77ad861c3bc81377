// A small partition for VMBus tests: guest RAM as one buffer with guard pages on both sides (filled with a
// pattern and checked afterwards, so a read or write outside the ring's pages shows), a ring GPADL built from
// the messages Linux would send, and both ends of the channel's rings.
import * as assert from 'node:assert/strict';
import {
  buildGpadlMessages, channelRingMemory, GpadlTable, GuestRingClient, openHostRings, PAGE_SIZE, RamGuestPages,
  type ChannelRingMemory, type HostChannelRings,
} from '../../src/vmbus/index.js';

export const FIRST_PFN = 0x100;
export const GUARD = 0xa5;

export interface TestChannel {
  ram: Uint8Array;
  pages: RamGuestPages;
  mem: ChannelRingMemory;
  guest: GuestRingClient;
  host: HostChannelRings;
  /** Byte offset in `ram` of ring page k (0 = the guest -> host control page). */
  pageAt(k: number): number;
  checkGuards(): void;
}

/** A channel whose rings have `g2hPages` and `h2gPages` pages (control page included), with one guard page before
 *  and after, and the ring pages in guest order but scattered (reversed) in RAM to exercise the page list. */
export function makeChannel(g2hPages: number, h2gPages: number): TestChannel {
  const n = g2hPages + h2gPages;
  const ram = new Uint8Array((n + 2) * PAGE_SIZE);
  ram.fill(GUARD, 0, PAGE_SIZE);
  ram.fill(GUARD, (n + 1) * PAGE_SIZE);
  const pages = new RamGuestPages([{ firstPfn: FIRST_PFN, bytes: ram }]);
  // Ring page k lives at RAM page n - k (reversed), so consecutive ring pages are never adjacent in memory.
  const pfns = Array.from({ length: n }, (_, k) => FIRST_PFN + n - k);
  const table = new GpadlTable(pages);
  let step;
  for (const m of buildGpadlMessages(0xe1e10, 1, pfns)) step = m[0] === 8 ? table.header(m) : table.body(m);
  assert.ok(step && step.kind === 'complete');
  const mem = channelRingMemory(step.gpadl, g2hPages);
  assert.equal(typeof mem, 'object');
  const m = mem as ChannelRingMemory;
  const guest = new GuestRingClient(m);
  const host = openHostRings(m);
  assert.equal(typeof host, 'object');
  return {
    ram, pages, mem: m, guest, host: host as HostChannelRings,
    pageAt: (k) => (n - k) * PAGE_SIZE,
    checkGuards() {
      for (let i = 0; i < PAGE_SIZE; i++) {
        if (ram[i] !== GUARD || ram[(n + 1) * PAGE_SIZE + i] !== GUARD) assert.fail(`guard byte ${i} changed`);
      }
    },
  };
}
