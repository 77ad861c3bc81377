// What the worker knows of a guest crash: the parameters a guest reported through the Hyper-V crash registers
// (read from the hypervisor with HvRegisterGuestCrashP0..Ctl), the log page it may have passed with them, or
// the panic line seen on its console (panic-watch.ts). Linux's two ways of reporting (drivers/hv/hv_common.c):
//   hyperv_report_panic: P0 = panic code, P1 = guest OS ID, P2 = RIP, P3 = RAX, P4 = RSP; CTL = CRASH_NOTIFY;
//   hv_kmsg_dump:        P3 = GPA of a page with the tail of its log, P4 = bytes used; CTL = NOTIFY | NOTIFY_MSG.
// Everything here comes from the guest and is checked before use: the page must be guest RAM, at most 4 KiB.
import { HvRegister } from '../winhv/index.js';
import type { VidPartition } from '../vid/index.js';
import { printable } from './panic-watch.js';

/** HvRegisterGuestCrashCtl bit 62 (in the high half): P3/P4 describe a log page. */
const CRASH_NOTIFY_MSG = 1n << 62n;
/** The largest log page a guest may describe (one TLFS page). */
const MAX_LOG = 4096;
/** What Linux's panic() prints first: the line that says why. */
const PANIC_PREFIX = 'Kernel panic - not syncing';

export interface GuestCrash {
  /** How the worker learned of it: the guest told the hypervisor, or its console showed a panic before a reset. */
  source: 'crash-msrs' | 'console';
  /** P0..P4 as the guest wrote them (crash MSRs only). */
  params: bigint[] | null;
  /** The guest's log tail from the page it passed (CRASH_NOTIFY_MSG), as text. */
  log: string | null;
  /** One line that says why: the panic line from the log or the console, else the log's last line. */
  message: string | null;
}

/** Read the crash registers of VP 0's partition (they are partition-wide) and the log page they may describe. */
export function readCrashRegisters(partition: VidPartition): GuestCrash {
  const regs = partition.getRegisters(0, [
    HvRegister.GuestCrashP0, HvRegister.GuestCrashP1, HvRegister.GuestCrashP2, HvRegister.GuestCrashP3,
    HvRegister.GuestCrashP4, HvRegister.GuestCrashCtl,
  ]) as bigint[];
  const params = regs.slice(0, 5);
  let log: string | null = null;
  if ((regs[5] & CRASH_NOTIFY_MSG) !== 0n) {
    const gpa = params[3], size = params[4];
    if (size > 0n && size <= BigInt(MAX_LOG) && gpa <= BigInt(Number.MAX_SAFE_INTEGER) && partition.memory.contains(Number(gpa), Number(size))) {
      log = logText(partition.memory.read(Number(gpa), Number(size)));
    }
  }
  return { source: 'crash-msrs', params, log, message: log === null ? null : reasonLine(log) };
}

/** The log as lines of printable text (up to a NUL; anything unprintable shown as '?'). */
function logText(bytes: Uint8Array): string {
  return splitLines(bytes).map((l) => printable(l)).join('\n');
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a || bytes[i] === 0) {
      if (i > start) out.push(bytes.subarray(start, bytes[i - 1] === 0x0d ? i - 1 : i));
      if (i < bytes.length && bytes[i] === 0) break;
      start = i + 1;
    }
  }
  return out;
}

/** The line of a log that says why it crashed (the panic line, without its timestamp), else its last line. */
export function reasonLine(log: string): string | null {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  const panic = lines.find((l) => l.includes(PANIC_PREFIX));
  const line = panic ?? lines.at(-1);
  if (line === undefined) return null;
  const at = line.indexOf(PANIC_PREFIX);
  return at >= 0 ? line.slice(at) : line.trim();
}

/** The panic a console line shows (panic-watch.ts). */
export function consoleCrash(line: string): GuestCrash {
  return { source: 'console', params: null, log: null, message: line };
}

const hex = (v: bigint): string => '0x' + v.toString(16);

/** One line for the user: how the crash was reported, and what it said. */
export function describeCrash(c: GuestCrash): string {
  if (c.source === 'console') return `guest panic (its console showed "${c.message}" and it reset)`;
  const p = c.params ?? [];
  const regs = p.map((v, i) => `P${i} ${hex(v)}`).join(' ');
  return `guest panic reported through the Hyper-V crash MSRs (${regs})${c.message !== null ? `: "${c.message}"` : ''}`;
}
