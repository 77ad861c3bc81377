// A guest side of the integration services that behaves as Linux 6.1's hv_utils does (drivers/hv/hv_util.c,
// hv_kvp.c with hv_kvp_daemon behind it, channel_mgmt.c vmbus_prep_negotiate_resp), written from those facts
// for the IC tests: it reads the host's packets from a GuestChannel of the TS guest bus client, edits each
// buffer in place and sends it back with the same length and VMBus transaction id.
import type { GuestChannel, ReceivedPacket } from '../../src/vmbus/guest-bus-client.js';
import { createLoopbackBus } from '../../src/vmbus/loopback-bus.js';
import type { LoopbackBus } from '../../src/vmbus/loopback-bus.js';
import { PACKET_TYPE_DATA_INBAND } from '../../src/vmbus/index.js';
import {
  HV_E_FAIL, HV_S_CONT, HV_S_OK, IC_BODY, IC_MAX_VERSION_COUNT, IcFlag, IcHdr, IcMsgType, NEGOTIATE_FIXED_SIZE,
  readU32, readU64, writeU32, writeU64,
} from '../../src/vsp/ic/index.js';
import type { IcVersion } from '../../src/vsp/ic/index.js';
import {
  KVP_MAX_KEY_SIZE, KVP_MAX_VALUE_SIZE, KvpDelete, KvpEnumerate, KvpHdr, KvpOp, KvpPool, KvpValue, ShutdownMsg,
  TimesyncData, TimesyncRefData, HEARTBEAT_CLASS_ID, SHUTDOWN_CLASS_ID, TIMESYNC_CLASS_ID, KVP_CLASS_ID,
  integrationServices,
} from '../../src/vsp/ic/index.js';
import type { IntegrationServices, IntegrationServicesOptions } from '../../src/vsp/ic/index.js';

const v = (major: number, minor: number): IcVersion => ({ major, minor });

/** Linux 6.1's preference lists (first match wins). */
export const LINUX_PREFS = {
  framework: [v(3, 0), v(1, 0)],
  heartbeat: [v(3, 0), v(1, 0)],
  shutdown: [v(3, 2), v(3, 1), v(3, 0), v(1, 0)],
  timesync: [v(4, 0), v(3, 0), v(1, 0)],
  kvp: [v(4, 0), v(3, 0), v(1, 0)],
} as const;

export type IcKind = 'heartbeat' | 'shutdown' | 'timesync' | 'kvp';

export interface TimeSample { parentTime: bigint; referenceTime: bigint | null; flags: number }

/** What the guest saw and did, for assertions. */
export interface GuestLog {
  negotiated: { framework: IcVersion; service: IcVersion } | null;
  negotiateFailed: boolean;
  heartbeats: number[];
  shutdowns: { flags: number; status: number }[];
  timeSamples: TimeSample[];
  kvpOps: { op: number; pool: number }[];
  /** Packets Linux would ignore without answering. */
  ignored: number;
}

function view(p: Uint8Array): DataView { return new DataView(p.buffer, p.byteOffset, p.byteLength); }

export class LinuxIcGuest {
  readonly log: GuestLog = { negotiated: null, negotiateFailed: false, heartbeats: [], shutdowns: [], timeSamples: [], kvpOps: [], ignored: 0 };
  /** hv_kvp_daemon's pools: key -> value, in insertion order as the daemon's pool files keep them. */
  readonly pools: Map<string, string>[] = Array.from({ length: 5 }, () => new Map<string, string>());
  /** The intrinsic pairs the daemon computes for pool 2 (Auto). */
  autoPool: [string, string][] = [['FullyQualifiedDomainName', 'hypatia-guest'], ['IntegrationServicesVersion', '3.1'], ['OSName', 'Linux']];
  /** Force this shutdown answer status (e.g. HV_E_FAIL); null: as Linux decides from the flags. */
  shutdownStatus: number | null = null;
  /** When false the guest reads nothing (KVP before hv_kvp_daemon registers). */
  reading = true;
  private serviceVersion: IcVersion | null = null;

  constructor(
    readonly ch: GuestChannel,
    readonly kind: IcKind,
    readonly prefs: { framework: readonly IcVersion[]; service: readonly IcVersion[] } = { framework: LINUX_PREFS.framework, service: LINUX_PREFS[kind] },
  ) {}

  /** Handle every packet waiting; returns how many were read. */
  pump(): number {
    if (!this.reading) return 0;
    let n = 0;
    for (let p = this.ch.receive(); p; p = this.ch.receive()) { n++; this.handle(p); }
    return n;
  }

  private handle(pkt: ReceivedPacket): void {
    const buf = pkt.payload; // a copy: edited in place and sent back, as Linux does with its recv buffer
    if (pkt.type !== PACKET_TYPE_DATA_INBAND || buf.length < IC_BODY) { this.log.ignored++; return; }
    const dv = view(buf);
    const type = dv.getUint16(IcHdr.msgType, true);
    if (type === IcMsgType.NEGOTIATE) {
      this.negotiate(buf); // Linux answers with counts 0 when nothing matched
    } else if (this.kind === 'heartbeat' && type === IcMsgType.HEARTBEAT) {
      if (buf.length < IC_BODY + 8) { this.log.ignored++; return; }
      const seq = readU64(buf, IC_BODY);
      this.log.heartbeats.push(seq);
      writeU64(buf, IC_BODY, seq + 1);
    } else if (this.kind === 'shutdown' && type === IcMsgType.SHUTDOWN) {
      if (buf.length < IC_BODY + ShutdownMsg.SIZE) { this.log.ignored++; return; }
      const flags = readU32(buf, IC_BODY + ShutdownMsg.flags);
      // 0/1 power off, 2/3 restart, 4/5 hibernate (unsupported without ACPI S4), others invalid.
      const status = this.shutdownStatus ?? (flags <= 3 ? HV_S_OK : HV_E_FAIL);
      dv.setUint32(IcHdr.status, status, true);
      this.log.shutdowns.push({ flags, status });
    } else if (this.kind === 'timesync' && type === IcMsgType.TIMESYNC) {
      const v4 = (this.serviceVersion?.major ?? 0) >= 4;
      if (buf.length < IC_BODY + (v4 ? TimesyncRefData.SIZE : TimesyncData.SIZE)) { this.log.ignored++; return; }
      this.log.timeSamples.push(v4
        ? { parentTime: dv.getBigUint64(IC_BODY, true), referenceTime: dv.getBigUint64(IC_BODY + TimesyncRefData.vmReferenceTime, true), flags: buf[IC_BODY + TimesyncRefData.flags] }
        : { parentTime: dv.getBigUint64(IC_BODY, true), referenceTime: null, flags: buf[IC_BODY + TimesyncData.flags] });
    } else if (this.kind === 'kvp' && type === IcMsgType.KVPEXCHANGE) {
      this.kvp(buf);
    } else if (this.kind === 'kvp') {
      this.log.ignored++; // hv_kvp.c logs "Invalid msg type" and does not answer
      return;
    } else {
      dv.setUint32(IcHdr.status, HV_E_FAIL, true);
    }
    buf[IcHdr.flags] = IcFlag.TRANSACTION | IcFlag.RESPONSE;
    this.ch.send(buf, { transIdLo: pkt.transIdLo, transIdHi: pkt.transIdHi });
  }

  /** vmbus_prep_negotiate_resp. */
  private negotiate(buf: Uint8Array): boolean {
    const dv = view(buf);
    if (buf.length < IC_BODY + 4) return false;
    dv.setUint16(IcHdr.msgSize, 0x10, true);
    const fwCount = dv.getUint16(IC_BODY, true);
    const svcCount = dv.getUint16(IC_BODY + 2, true);
    const entry = (i: number): IcVersion => v(dv.getUint16(IC_BODY + NEGOTIATE_FIXED_SIZE + 4 * i, true), dv.getUint16(IC_BODY + NEGOTIATE_FIXED_SIZE + 4 * i + 2, true));
    let fw: IcVersion | null = null;
    let svc: IcVersion | null = null;
    if (fwCount <= IC_MAX_VERSION_COUNT && svcCount <= IC_MAX_VERSION_COUNT && IC_BODY + NEGOTIATE_FIXED_SIZE + 4 * (fwCount + svcCount) <= buf.length) {
      fw = this.prefs.framework.find((p) => Array.from({ length: fwCount }, (_, i) => entry(i)).some((e) => e.major === p.major && e.minor === p.minor)) ?? null;
      if (fw) svc = this.prefs.service.find((p) => Array.from({ length: svcCount }, (_, i) => entry(fwCount + i)).some((e) => e.major === p.major && e.minor === p.minor)) ?? null;
    }
    const ok = fw !== null && svc !== null;
    dv.setUint16(IC_BODY, ok ? 1 : 0, true);
    dv.setUint16(IC_BODY + 2, ok ? 1 : 0, true);
    if (buf.length >= IC_BODY + NEGOTIATE_FIXED_SIZE + 8) {
      const o = IC_BODY + NEGOTIATE_FIXED_SIZE;
      dv.setUint16(o, fw?.major ?? fwCount, true); dv.setUint16(o + 2, fw?.minor ?? 0, true);
      dv.setUint16(o + 4, svc?.major ?? svcCount, true); dv.setUint16(o + 6, svc?.minor ?? 0, true);
    }
    if (ok) { this.log.negotiated = { framework: fw!, service: svc! }; this.serviceVersion = svc; } else this.log.negotiateFailed = true;
    return ok;
  }

  /** hv_kvp.c + hv_kvp_daemon: the answer goes into the host's buffer. */
  private kvp(buf: Uint8Array): void {
    const dv = view(buf);
    const b = IC_BODY;
    const op = buf[b + KvpHdr.operation];
    const pool = buf[b + KvpHdr.pool];
    this.log.kvpOps.push({ op, pool });
    const body = b + KvpHdr.SIZE;
    let status = HV_S_OK;
    const store = this.pools[pool];
    if (!store) status = HV_E_FAIL;
    else if (op === KvpOp.SET) {
      const key = utf16z(buf, body + KvpValue.key, Math.min(readU32(buf, body + KvpValue.keySize), KVP_MAX_KEY_SIZE));
      const value = utf16z(buf, body + KvpValue.value, Math.min(readU32(buf, body + KvpValue.valueSize), KVP_MAX_VALUE_SIZE));
      store.set(key, value);
    } else if (op === KvpOp.GET) {
      const key = utf16z(buf, body + KvpValue.key, Math.min(readU32(buf, body + KvpValue.keySize), KVP_MAX_KEY_SIZE));
      // Linux 6.1 answers an empty value for a key it has: the driver forwards no value_size to the daemon,
      // which copies that many (0) bytes (hv_kvp.c kvp_send_key, hv_kvp_daemon.c kvp_get_value).
      if (!store.has(key)) status = HV_S_CONT;
      else writeU32(buf, body + KvpValue.valueSize, putUtf16z(buf, body + KvpValue.value, ''));
    } else if (op === KvpOp.DELETE) {
      const key = utf16z(buf, body + KvpDelete.key, Math.min(readU32(buf, body + KvpDelete.keySize), KVP_MAX_KEY_SIZE));
      if (!store.delete(key)) status = HV_S_CONT;
    } else if (op === KvpOp.ENUMERATE) {
      const index = readU32(buf, body + KvpEnumerate.index);
      const items = pool === KvpPool.AUTO ? this.autoPool : [...store.entries()];
      const item = items[index];
      if (!item) status = HV_S_CONT;
      else {
        const val = body + KvpEnumerate.value;
        writeU32(buf, val + KvpValue.valueType, 1);
        writeU32(buf, val + KvpValue.keySize, putUtf16z(buf, val + KvpValue.key, item[0]));
        writeU32(buf, val + KvpValue.valueSize, putUtf16z(buf, val + KvpValue.value, item[1]));
      }
    } else status = HV_E_FAIL;
    dv.setUint32(IcHdr.status, status, true);
  }
}

function utf16z(p: Uint8Array, offset: number, size: number): string {
  let end = offset;
  while (end + 1 < offset + size && (p[end] | p[end + 1]) !== 0) end += 2;
  return Buffer.from(p.subarray(offset, end)).toString('utf16le');
}

function putUtf16z(p: Uint8Array, offset: number, s: string): number {
  const b = Buffer.from(s + '\0', 'utf16le');
  p.set(b, offset);
  return b.length;
}

// ---- the test bed: the real VmbusServer and the TS guest bus client over a loopback SynIC ----

export const CLASS_OF: Record<IcKind, string> = {
  heartbeat: HEARTBEAT_CLASS_ID, shutdown: SHUTDOWN_CLASS_ID, timesync: TIMESYNC_CLASS_ID, kvp: KVP_CLASS_ID,
};

export interface IcBed {
  bus: LoopbackBus;
  ics: IntegrationServices;
  /** Host-side log lines of the integration services. */
  icLog: string[];
  /** The lines among them the services flagged as problems. */
  icProblems: string[];
  /** Opens the channel of `kind` as hv_utils' util_probe does (4-page rings) and returns a guest answering on it. */
  open(kind: IcKind, prefs?: { framework: readonly IcVersion[]; service: readonly IcVersion[] }): LinuxIcGuest;
}

export function icBed(opts: Omit<IntegrationServicesOptions, 'log'> = {}): IcBed {
  const icLog: string[] = [];
  const icProblems: string[] = [];
  const bus = createLoopbackBus();
  const ics = integrationServices({ ...opts, log: (l, problem) => { icLog.push(l); if (problem) icProblems.push(l); } });
  for (const vsp of ics.vsps) bus.server.addVsp(vsp);
  bus.client.connect();
  bus.client.requestOffers();
  return {
    bus, ics, icLog, icProblems,
    open(kind, prefs) {
      const ch = bus.client.openChannel(bus.client.offerOf(CLASS_OF[kind]).childRelid, { sendPages: 4, recvPages: 4 });
      return new LinuxIcGuest(ch, kind, prefs);
    },
  };
}

/** Pump the guests every millisecond until `p` settles (the host's answers and timers run meanwhile). */
export async function driving<T>(guests: readonly LinuxIcGuest[], p: Promise<T>): Promise<T> {
  const t = setInterval(() => { for (const g of guests) g.pump(); }, 1);
  try { return await p; } finally { clearInterval(t); }
}

/** Pump the guests until `cond` holds; rejects after `timeoutMs`. */
export function pumpUntil(guests: readonly LinuxIcGuest[], cond: () => boolean, timeoutMs = 3000, what = 'a condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      for (const g of guests) g.pump();
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 1);
    };
    tick();
  });
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }
