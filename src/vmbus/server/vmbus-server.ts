// The VMBus channel server in the root (linux-hyperv-guest-contract.md §6; Linux drivers/hv/connection.c,
// channel_mgmt.c, channel.c as the client it must satisfy). It serves the guest's channel messages posted on
// connection ids 1 and 4, answers on SINT 2 of the VP INITIATE_CONTACT named, offers one channel per VSP, builds
// GPADLs, opens channels onto their rings and pumps packets to the VSPs. Every guest message is validated; a bad
// one is logged, counted and refused (with the protocol's error reply where it has one), never thrown.
import { channelRingMemory, openHostRings } from '../channel-rings.js';
import { GpadlTable, type Gpadl, type GpadlStep } from '../gpadl.js';
import type { GuestPages } from '../guest-pages.js';
import type { SynicPort } from '../synic-port.js';
import type { Vsp } from '../vsp.js';
import {
  CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_CLOSECHANNEL, CHANNELMSG_GPADL_BODY, CHANNELMSG_GPADL_HEADER,
  CHANNELMSG_GPADL_TEARDOWN, CHANNELMSG_INITIATE_CONTACT, CHANNELMSG_MODIFYCHANNEL, CHANNELMSG_OPENCHANNEL,
  CHANNELMSG_RELID_RELEASED, CHANNELMSG_REQUESTOFFERS, CHANNELMSG_RESCIND_CHANNELOFFER, CHANNELMSG_TL_CONNECT_REQUEST,
  CHANNELMSG_UNLOAD, encodeHeaderOnly, encodeRelidMessage, HVMSG_CHANNEL, MESSAGE_HEADER_SIZE, MESSAGE_SIZE,
  messageName, readU32, RELID_MESSAGE_CHILD_RELID, VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4,
  VMBUS_MESSAGE_SINT,
} from '../messages/header.js';
import { isGuidText } from '../messages/guid.js';
import { decodeGpadlTeardown, encodeGpadlCreated, encodeGpadlTorndown } from '../messages/gpadl.js';
import { decodeModifyChannel, encodeModifyChannelResponse } from '../messages/modify.js';
import { encodeOffer, MAX_CHANNEL_RELIDS } from '../messages/offer.js';
import { decodeOpenChannel, encodeOpenResult } from '../messages/open.js';
import { encodeUnloadResponse } from '../messages/unload.js';
import {
  decodeInitiateContact, encodeVersionResponse, SUPPORTED_VERSIONS, VERSION_WIN10_V4_1, VERSION_WIN10_V5,
  VERSION_WIN10_V5_3, versionText,
} from '../messages/version.js';
import { newCounters, type ServerCounters } from './counters.js';
import { errorText, ServerChannel, type ChannelHost } from './server-channel.js';

export interface VmbusServerOptions {
  synic: SynicPort;
  pages: GuestPages;
  vpCount: number;
  /** Diagnostics: `problem` is true for what a well-behaved guest never causes (refusals, drops, failures). */
  log?: (line: string, problem: boolean) => void;
  /**
   * The newest protocol version to accept (one of SUPPORTED_VERSIONS; default the newest): a guest asking for a
   * newer one is refused, as by an older host, and falls back — how a driver developer reaches the older paths.
   */
  maxVersion?: number;
}

/** Non-zero status for GPADL_CREATED, OPENCHANNEL_RESULT and MODIFYCHANNEL_RESPONSE (STATUS_UNSUCCESSFUL). */
export const VMBUS_STATUS_FAILURE = 0xc0000001;
/** Channel connection ids: relid | (SINT 2 << 12), as Hyper-V and OpenVMM give them; never 1..4. */
export const CHANNEL_CONNECTION_BASE = 0x2000;
/** Bounds on what one guest may make the host hold in GPADLs. */
export const MAX_GPADLS = 1024;
/** Pages described by all GPADLs (each costs the host a page view): 512 MiB, ~30 netvsc devices' buffers. */
export const MAX_GPADL_PAGES = 1 << 17;

/**
 * Where a channel is:
 * - idle: registered, not offered (no REQUESTOFFERS yet this connection);
 * - offered: the guest has the offer, the channel is closed;
 * - open: OPENCHANNEL succeeded, packets flow;
 * - failed: the host closed it (VSP threw, ring corrupt) while the guest still thinks it open;
 * - rescinded: RESCIND_CHANNELOFFER sent, waiting for RELID_RELEASED before the relid is reused;
 * - released: the guest gave the offer up itself (RELID_RELEASED without a rescind: its probe failed).
 */
export type ChannelState = 'idle' | 'offered' | 'open' | 'failed' | 'rescinded' | 'released';

interface ChannelRecord {
  readonly relid: number;
  readonly connectionId: number;
  readonly vsp: Vsp;
  state: ChannelState;
  channel: ServerChannel | null;
  /** A device re-added while its previous offer is still being rescinded waits for that relid's release:
   *  Linux refuses a second device with the same instance GUID. */
  waitsFor: number;
  readonly onEvent: (flag: number) => void;
}

export class VmbusServer {
  private readonly synic: SynicPort;
  private readonly pages: GuestPages;
  private readonly vpCount: number;
  private readonly logLine: (line: string, problem: boolean) => void;
  private readonly counters: ServerCounters = newCounters();
  private readonly records = new Map<number, ChannelRecord>();
  private readonly byVsp = new Map<Vsp, ChannelRecord>();
  private gpadls: GpadlTable;
  /** Pages held by established GPADLs, and which channel a GPADL still being assembled belongs to. */
  private gpadlPages = 0;
  private readonly gpadlSizes = new Map<number, { relid: number; pages: number }>();
  private readonly pendingGpadlRelid = new Map<number, number>();
  private connected = false;
  private version = 0;
  private readonly maxVersion: number;
  private messageVp = 0;
  private offersRequested = false;
  private contactInfo: Record<string, unknown> = {};
  private readonly host: ChannelHost;

  constructor(opts: VmbusServerOptions) {
    if (!Number.isInteger(opts.vpCount) || opts.vpCount < 1) throw new Error(`VmbusServer: bad vpCount ${opts.vpCount}`);
    this.synic = opts.synic;
    this.pages = opts.pages;
    this.vpCount = opts.vpCount;
    this.maxVersion = opts.maxVersion ?? SUPPORTED_VERSIONS[0];
    if (!SUPPORTED_VERSIONS.includes(this.maxVersion)) throw new Error(`VmbusServer: maxVersion ${versionText(this.maxVersion)} is not a version it serves`);
    this.logLine = opts.log ?? (() => {});
    this.gpadls = new GpadlTable(this.pages);
    this.host = {
      synic: this.synic,
      pages: this.pages,
      counters: this.counters,
      log: (line, problem) => this.logLine(line, problem),
      gpadlOf: (relid, id) => { const g = this.gpadls.get(id); return g && g.childRelid === relid ? g : null; },
      rescindVsp: (vsp) => this.removeVsp(vsp),
      channelFailed: (ch) => this.channelFailed(ch),
    };
    for (const id of [VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4]) {
      if (!this.synic.setMessageHandler(id, (type, payload) => this.onMessage(id, type, payload))) {
        throw new Error(`VmbusServer: cannot serve message connection id ${id}`);
      }
    }
  }

  /** Registers a device. It is offered at REQUESTOFFERS, or at once (hot add) if the guest already asked.
   *  Throws for a host configuration error (bad GUID, duplicate instance, no free relid). */
  addVsp(vsp: Vsp): void {
    if (this.byVsp.has(vsp)) throw new Error(`vmbus: VSP ${vsp.offer.name} added twice`);
    const o = vsp.offer;
    if (!isGuidText(o.classId) || !isGuidText(o.instanceId)) throw new Error(`vmbus: VSP ${o.name}: bad class or instance GUID`);
    let waitsFor = 0;
    for (const r of this.records.values()) {
      if (r.vsp.offer.instanceId.toLowerCase() !== o.instanceId.toLowerCase()) continue;
      if (r.state !== 'rescinded') throw new Error(`vmbus: VSP ${o.name}: instance ${o.instanceId} already offered`);
      waitsFor = r.relid;
    }
    let relid = 1;
    while (relid < MAX_CHANNEL_RELIDS && this.records.has(relid)) relid++;
    if (relid >= MAX_CHANNEL_RELIDS) throw new Error('vmbus: no free relid');
    const connectionId = CHANNEL_CONNECTION_BASE + relid;
    const rec: ChannelRecord = {
      relid, connectionId, vsp, state: 'idle', channel: null, waitsFor,
      onEvent: () => this.onChannelEvent(rec),
    };
    if (!this.synic.setEventHandler(connectionId, 1, rec.onEvent)) throw new Error(`vmbus: cannot serve event connection id ${connectionId}`);
    this.records.set(relid, rec);
    this.byVsp.set(vsp, rec);
    if (this.connected && this.offersRequested && !waitsFor) this.offer(rec);
  }

  /** Takes a device away: closes its channel and rescinds the offer; the relid is reused only after the guest's
   *  RELID_RELEASED. */
  removeVsp(vsp: Vsp): void {
    const rec = this.byVsp.get(vsp);
    if (!rec || rec.state === 'rescinded') return;
    this.closeChannel(rec);
    if (this.connected && (rec.state === 'offered' || rec.state === 'failed' || rec.state === 'open')) {
      rec.state = 'rescinded';
      this.byVsp.delete(vsp); // the VSP may be added again at once (offered after the release)
      this.post(encodeRelidMessage(CHANNELMSG_RESCIND_CHANNELOFFER, rec.relid));
    } else {
      this.destroy(rec);
    }
  }

  /** VM reset: every channel closed, GPADLs dropped, the connection back to its start. */
  reset(): void {
    this.disconnect();
  }

  /** reset(), then stop serving: the message and channel connection ids are handed back to the SynicPort (for a
   *  worker that builds a new server on the same partition). The server is unusable afterwards. */
  dispose(): void {
    this.disconnect();
    for (const rec of this.records.values()) this.synic.setEventHandler(rec.connectionId, 1, null);
    this.records.clear();
    this.byVsp.clear();
    this.synic.setMessageHandler(VMBUS_MESSAGE_CONNECTION_ID, null);
    this.synic.setMessageHandler(VMBUS_MESSAGE_CONNECTION_ID_4, null);
  }

  inspect(): Record<string, unknown> {
    const channels = [...this.records.values()].sort((a, b) => a.relid - b.relid).map((r) => ({
      relid: r.relid,
      name: r.vsp.offer.name,
      classId: r.vsp.offer.classId,
      instanceId: r.vsp.offer.instanceId,
      connectionId: r.connectionId,
      state: r.state,
      ...(r.waitsFor ? { waitsForRelease: r.waitsFor } : {}),
      ...(r.channel ? { open: r.channel.inspect() } : {}),
    }));
    return {
      connected: this.connected,
      version: this.connected ? versionText(this.version) : null,
      messageVp: this.connected ? this.messageVp : null,
      offersRequested: this.offersRequested,
      contact: this.contactInfo,
      channels,
      gpadls: { established: this.gpadls.size, pending: this.gpadls.pendingCount, pages: this.gpadlPages },
      counters: { ...this.counters },
    };
  }

  // ---- guest messages ----

  private onMessage(connectionId: number, type: number, payload: Uint8Array): number {
    this.counters.messages++;
    try {
      if (type !== HVMSG_CHANNEL) this.refuse(`SynIC message type ${type} on connection ${connectionId}`);
      else this.dispatch(payload);
    } catch (e) {
      // Nothing above should throw; if it does, the guest's message is lost, not the host.
      this.refuse(`internal error handling a message: ${errorText(e)}`);
    }
    return 0;
  }

  private dispatch(m: Uint8Array): void {
    if (m.length < MESSAGE_HEADER_SIZE) { this.refuse(`truncated message (${m.length} bytes)`); return; }
    const t = readU32(m, 0);
    const name = messageName(t);
    const min = MESSAGE_SIZE[t];
    switch (t) {
      case CHANNELMSG_REQUESTOFFERS: case CHANNELMSG_OPENCHANNEL: case CHANNELMSG_CLOSECHANNEL:
      case CHANNELMSG_GPADL_HEADER: case CHANNELMSG_GPADL_BODY: case CHANNELMSG_GPADL_TEARDOWN:
      case CHANNELMSG_RELID_RELEASED: case CHANNELMSG_INITIATE_CONTACT: case CHANNELMSG_UNLOAD:
      case CHANNELMSG_MODIFYCHANNEL: case CHANNELMSG_TL_CONNECT_REQUEST:
        break;
      default:
        this.refuse(min === undefined ? `unknown message type ${t}` : `${name}: a host -> guest message`);
        return;
    }
    if (m.length < min) { this.refuse(`${name}: truncated (${m.length} bytes, needs ${min})`); return; }
    if (t === CHANNELMSG_INITIATE_CONTACT) { this.initiateContact(m); return; }
    if (!this.connected) { this.refuse(`${name} before INITIATE_CONTACT`); return; }
    switch (t) {
      case CHANNELMSG_REQUESTOFFERS: this.requestOffers(); break;
      case CHANNELMSG_GPADL_HEADER: this.gpadlHeader(m); break;
      case CHANNELMSG_GPADL_BODY: this.gpadlBody(m); break;
      case CHANNELMSG_GPADL_TEARDOWN: this.gpadlTeardown(m); break;
      case CHANNELMSG_OPENCHANNEL: this.openChannel(m); break;
      case CHANNELMSG_CLOSECHANNEL: this.closeChannelMessage(readU32(m, RELID_MESSAGE_CHILD_RELID)); break;
      case CHANNELMSG_RELID_RELEASED: this.relidReleased(readU32(m, RELID_MESSAGE_CHILD_RELID)); break;
      case CHANNELMSG_MODIFYCHANNEL: this.modifyChannel(m); break;
      case CHANNELMSG_UNLOAD: this.unload(); break;
      case CHANNELMSG_TL_CONNECT_REQUEST: this.refuse('TL_CONNECT_REQUEST: hv_sock is not offered'); break;
    }
  }

  private initiateContact(m: Uint8Array): void {
    const c = decodeInitiateContact(m)!;
    if (c.targetVcpu >= this.vpCount) {
      // No VP to answer on: drop (Linux names CPU 0's VP index, always valid).
      this.refuse(`INITIATE_CONTACT: target_vcpu ${c.targetVcpu} out of range (${this.vpCount} VPs)`);
      return;
    }
    if (this.connected) {
      // A guest reconnecting without UNLOAD (e.g. kexec'd kernel): start the connection over.
      this.logLine('vmbus: INITIATE_CONTACT while connected: closing every channel and starting over', false);
      this.disconnect();
    }
    const v = c.version;
    let why = '';
    if (!SUPPORTED_VERSIONS.includes(v)) why = 'unsupported version';
    else if (v >= VERSION_WIN10_V5 && c.msgSint !== VMBUS_MESSAGE_SINT) why = `msg_sint ${c.msgSint} (only SINT 2 is served)`;
    if (!why && v > this.maxVersion) {
      // Expected: the guest walks down its list until it reaches the host's newest.
      this.logLine(`vmbus: refused version ${versionText(v)}: newer than ${versionText(this.maxVersion)}, the newest this host offers`, false);
      this.synicPost(c.targetVcpu, encodeVersionResponse(false, VMBUS_MESSAGE_CONNECTION_ID), 'VERSION_RESPONSE');
      return;
    }
    if (why) {
      this.logLine(`vmbus: refused version ${versionText(v)}: ${why}`, true);
      this.synicPost(c.targetVcpu, encodeVersionResponse(false, VMBUS_MESSAGE_CONNECTION_ID), 'VERSION_RESPONSE');
      return;
    }
    this.connected = true;
    this.version = v;
    this.messageVp = c.targetVcpu;
    this.offersRequested = false;
    // Recorded for inspect(); the server offers no monitor pages and (from 2.4) needs no interrupt page.
    this.contactInfo = v >= VERSION_WIN10_V5
      ? { monitorPage1: c.monitorPage1, monitorPage2: c.monitorPage2 }
      : { interruptPage: c.interruptPage, monitorPage1: c.monitorPage1, monitorPage2: c.monitorPage2 };
    this.logLine(`vmbus: connected, version ${versionText(v)}, messages to VP ${c.targetVcpu}`, false);
    // From 5.0 the guest posts on msg_conn_id afterwards: 1, as Hyper-V answers (never 0).
    this.post(encodeVersionResponse(true, VMBUS_MESSAGE_CONNECTION_ID));
  }

  private requestOffers(): void {
    if (this.offersRequested) { this.refuse('REQUESTOFFERS: offers were already sent'); return; }
    this.offersRequested = true;
    for (const rec of [...this.records.values()].sort((a, b) => a.relid - b.relid)) if (rec.state === 'idle' && !rec.waitsFor) this.offer(rec);
    this.post(encodeHeaderOnly(CHANNELMSG_ALLOFFERS_DELIVERED));
  }

  private offer(rec: ChannelRecord): void {
    const o = rec.vsp.offer;
    rec.state = 'offered';
    this.logLine(`vmbus: offering relid ${rec.relid} ${o.name} (class ${o.classId}, instance ${o.instanceId}, connection 0x${rec.connectionId.toString(16)})`, false);
    this.post(encodeOffer({
      classId: o.classId, instanceId: o.instanceId, flags: o.flags ?? 0, mmioMegabytes: o.mmioMegabytes ?? 0,
      userDefined: o.userDefined ?? null, subChannelIndex: 0, childRelid: rec.relid, connectionId: rec.connectionId,
    }));
  }

  /** A channel the guest may use: offered to it and not rescinded or given up. */
  private usable(relid: number): ChannelRecord | null {
    const rec = this.records.get(relid);
    return rec && (rec.state === 'offered' || rec.state === 'open' || rec.state === 'failed') ? rec : null;
  }

  private gpadlHeader(m: Uint8Array): void {
    const relid = readU32(m, 8), id = readU32(m, 12);
    const rec = this.usable(relid);
    if (!rec) {
      this.refuse(`GPADL_HEADER gpadl 0x${id.toString(16)}: relid ${relid}: ${this.whyUnusable(relid)}`);
      this.post(encodeGpadlCreated(relid, id, VMBUS_STATUS_FAILURE));
      return;
    }
    if (this.gpadls.size >= MAX_GPADLS) {
      this.refuse(`GPADL_HEADER gpadl 0x${id.toString(16)} relid ${relid}: ${MAX_GPADLS} GPADLs exist already`);
      this.post(encodeGpadlCreated(relid, id, VMBUS_STATUS_FAILURE));
      return;
    }
    this.gpadlStep(this.gpadls.header(m), relid, 'GPADL_HEADER');
  }

  private gpadlBody(m: Uint8Array): void {
    const id = readU32(m, 12);
    this.gpadlStep(this.gpadls.body(m), this.pendingGpadlRelid.get(id), 'GPADL_BODY');
  }

  private gpadlStep(step: GpadlStep, relid: number | undefined, what: string): void {
    if (step.kind === 'pending') {
      if (relid !== undefined) this.pendingGpadlRelid.set(step.id, relid);
      return;
    }
    if (step.kind === 'error') {
      const id = step.id;
      this.refuse(`${what}${id === undefined ? '' : ` gpadl 0x${id.toString(16)}`}${relid === undefined ? '' : ` relid ${relid}`}: ${step.error}`);
      if (id !== undefined) {
        this.pendingGpadlRelid.delete(id);
        // An answer lets a waiting guest fail its open instead of hanging; no answer when nobody can be waiting.
        if (relid !== undefined) this.post(encodeGpadlCreated(relid, id, VMBUS_STATUS_FAILURE));
      }
      return;
    }
    const g = step.gpadl;
    this.pendingGpadlRelid.delete(g.id);
    const pages = gpadlPageCount(g);
    if (this.gpadlPages + pages > MAX_GPADL_PAGES) {
      this.gpadls.teardown(g.id);
      this.refuse(`${what} gpadl 0x${g.id.toString(16)} relid ${g.childRelid}: more than ${MAX_GPADL_PAGES} pages in GPADLs`);
      this.post(encodeGpadlCreated(g.childRelid, g.id, VMBUS_STATUS_FAILURE));
      return;
    }
    this.gpadlPages += pages;
    this.gpadlSizes.set(g.id, { relid: g.childRelid, pages });
    this.post(encodeGpadlCreated(g.childRelid, g.id, 0));
  }

  private gpadlTeardown(m: Uint8Array): void {
    const t = decodeGpadlTeardown(m)!;
    const idText = `0x${t.gpadl.toString(16)}`;
    const g = this.gpadls.get(t.gpadl);
    if (!g) {
      if (this.pendingGpadlRelid.has(t.gpadl)) {
        // Linux tears down a GPADL whose creation it abandoned; nothing was established.
        this.gpadls.teardown(t.gpadl);
        this.pendingGpadlRelid.delete(t.gpadl);
        this.post(encodeGpadlTorndown(t.gpadl));
        return;
      }
      this.refuse(`GPADL_TEARDOWN gpadl ${idText}: unknown GPADL`);
      return;
    }
    if (g.childRelid !== t.childRelid) { this.refuse(`GPADL_TEARDOWN gpadl ${idText}: belongs to relid ${g.childRelid}, not ${t.childRelid}`); return; }
    const rec = this.records.get(g.childRelid);
    if (rec?.channel && rec.channel.ringGpadl === g.id && (rec.state === 'open' || rec.state === 'failed')) {
      this.refuse(`GPADL_TEARDOWN gpadl ${idText}: it is the ring of open channel relid ${g.childRelid}`);
      return;
    }
    this.gpadls.teardown(g.id);
    this.gpadlPages -= gpadlPageCount(g);
    this.gpadlSizes.delete(g.id);
    this.post(encodeGpadlTorndown(g.id));
  }

  private openChannel(m: Uint8Array): void {
    const o = decodeOpenChannel(m)!;
    const relid = o.childRelid;
    const fail = (why: string): void => {
      this.refuse(`OPENCHANNEL relid ${relid}: ${why}`);
      this.post(encodeOpenResult(relid, o.openId, VMBUS_STATUS_FAILURE));
    };
    const rec = this.records.get(relid);
    if (!rec || rec.state !== 'offered') { fail(rec && (rec.state === 'open' || rec.state === 'failed') ? 'already open' : this.whyUnusable(relid)); return; }
    if (o.targetVp >= this.vpCount) { fail(`target_vp ${o.targetVp} out of range (${this.vpCount} VPs)`); return; }
    const g = this.gpadls.get(o.ringGpadl);
    const gid = `0x${o.ringGpadl.toString(16)}`;
    if (!g) { fail(`ring gpadl ${gid}: unknown GPADL`); return; }
    if (g.childRelid !== relid) { fail(`ring gpadl ${gid} belongs to relid ${g.childRelid}`); return; }
    for (const r of this.records.values()) {
      if (r.channel?.isAlive && r.channel.ringGpadl === g.id) { fail(`ring gpadl ${gid} is in use by relid ${r.relid}`); return; }
    }
    const mem = channelRingMemory(g, o.downstreamPageOffset);
    if (typeof mem === 'string') { fail(`ring gpadl ${gid}, downstream page offset ${o.downstreamPageOffset}: ${mem}`); return; }
    const rings = openHostRings(mem);
    if (typeof rings === 'string') { fail(`ring gpadl ${gid}: ${rings}`); return; }
    const ch = new ServerChannel(this.host, rec.vsp, relid, g.id, o.targetVp, rings, mem);
    rec.channel = ch;
    rec.state = 'open';
    let ok: boolean;
    try {
      ok = rec.vsp.open(ch, o.userData.slice());
    } catch (e) {
      this.logLine(`vmbus: relid ${relid} (${rec.vsp.offer.name}): VSP open() threw: ${errorText(e)}`, true);
      ok = false;
    }
    if (!ok || rec.channel !== ch || !ch.isAlive) {
      ch.kill();
      if (rec.channel === ch) { rec.channel = null; if (rec.state === 'open') rec.state = 'offered'; }
      fail(`the VSP (${rec.vsp.offer.name}) refused the open`);
      return;
    }
    this.logLine(`vmbus: opened relid ${relid} (${rec.vsp.offer.name}), ring gpadl ${gid}, ${o.downstreamPageOffset} + ${g.ranges[0].pages.length - o.downstreamPageOffset} pages, VP ${o.targetVp}`, false);
    this.post(encodeOpenResult(relid, o.openId, 0));
    ch.releaseSignals();
  }

  private closeChannelMessage(relid: number): void {
    const rec = this.records.get(relid);
    if (!rec) { this.refuse(`CLOSECHANNEL relid ${relid}: unknown channel`); return; }
    if (rec.state === 'rescinded') return; // Linux closes what the host rescinded; already closed here
    if (rec.state !== 'open' && rec.state !== 'failed') { this.refuse(`CLOSECHANNEL relid ${relid}: not open (${rec.state})`); return; }
    this.closeChannel(rec);
    rec.state = 'offered';
    this.logLine(`vmbus: closed relid ${relid} (${rec.vsp.offer.name})`, false);
  }

  private relidReleased(relid: number): void {
    const rec = this.records.get(relid);
    if (!rec) { this.refuse(`RELID_RELEASED relid ${relid}: unknown channel`); return; }
    if (rec.state === 'rescinded') {
      this.logLine(`vmbus: relid ${relid} (${rec.vsp.offer.name}) released after rescind`, false);
      this.destroy(rec);
      return;
    }
    if (rec.state === 'idle' || rec.state === 'released') { this.refuse(`RELID_RELEASED relid ${relid}: not offered (${rec.state})`); return; }
    // The guest gave the offer up (its device could not be added): close it and keep it out of use.
    this.logLine(`vmbus: the guest released relid ${relid} (${rec.vsp.offer.name}) without a rescind`, true);
    this.closeChannel(rec);
    this.dropGpadlsOf(relid);
    rec.state = 'released';
  }

  private modifyChannel(m: Uint8Array): void {
    const { childRelid: relid, targetVp } = decodeModifyChannel(m)!;
    if (this.version < VERSION_WIN10_V4_1) { this.refuse(`MODIFYCHANNEL relid ${relid}: not in version ${versionText(this.version)}`); return; }
    const rec = this.records.get(relid);
    let why = '';
    if (!rec) why = 'unknown channel';
    else if (rec.state !== 'open' || !rec.channel) why = `not open (${rec.state})`;
    else if (targetVp >= this.vpCount) why = `target_vp ${targetVp} out of range (${this.vpCount} VPs)`;
    if (why) this.refuse(`MODIFYCHANNEL relid ${relid}: ${why}`);
    else rec!.channel!.targetVp = targetVp;
    // From 5.3 the guest waits for the answer (channel.c send_modifychannel_with_ack).
    if (this.version >= VERSION_WIN10_V5_3) this.post(encodeModifyChannelResponse(relid, why ? VMBUS_STATUS_FAILURE : 0));
  }

  private unload(): void {
    const vp = this.messageVp;
    this.logLine('vmbus: UNLOAD: closing every channel', false);
    this.disconnect();
    this.synicPost(vp, encodeUnloadResponse(), 'UNLOAD_RESPONSE');
  }

  // ---- channels ----

  private onChannelEvent(rec: ChannelRecord): void {
    this.counters.signalsIn++;
    const ch = rec.channel;
    if (rec.state !== 'open' || !ch) { this.counters.signalsIgnored++; return; }
    ch.pump();
  }

  private channelFailed(ch: ServerChannel): void {
    const rec = this.records.get(ch.relid);
    if (!rec || rec.channel !== ch || !ch.isAlive) return;
    this.counters.channelsFailed++;
    this.closeChannel(rec);
    rec.state = 'failed';
  }

  /** Closes the host side of a channel (the VSP's close) if it is open; the record's state is the caller's. */
  private closeChannel(rec: ChannelRecord): void {
    const ch = rec.channel;
    if (!ch) return;
    rec.channel = null;
    if (!ch.isAlive) return;
    ch.kill();
    try {
      rec.vsp.close(ch);
    } catch (e) {
      this.logLine(`vmbus: relid ${rec.relid} (${rec.vsp.offer.name}): VSP close() threw: ${errorText(e)}`, true);
    }
  }

  /** Forgets a record entirely: its relid and connection id become free. */
  private destroy(rec: ChannelRecord): void {
    this.closeChannel(rec);
    this.dropGpadlsOf(rec.relid);
    this.synic.setEventHandler(rec.connectionId, 1, null);
    this.records.delete(rec.relid);
    if (this.byVsp.get(rec.vsp) === rec) this.byVsp.delete(rec.vsp);
    for (const r of this.records.values()) {
      if (r.waitsFor !== rec.relid) continue;
      r.waitsFor = 0;
      if (this.connected && this.offersRequested && r.state === 'idle') this.offer(r);
    }
  }

  private dropGpadlsOf(relid: number): void {
    this.gpadls.removeChannel(relid);
    for (const [id, r] of this.pendingGpadlRelid) if (r === relid) this.pendingGpadlRelid.delete(id);
    for (const [id, g] of this.gpadlSizes) if (g.relid === relid) { this.gpadlSizes.delete(id); this.gpadlPages -= g.pages; }
  }

  /** Back to "no connection": channels closed, rescinded ones forgotten, GPADLs dropped, offers to be made again. */
  private disconnect(): void {
    this.connected = false;
    this.offersRequested = false;
    for (const rec of [...this.records.values()]) {
      this.closeChannel(rec);
      if (rec.state === 'rescinded') this.destroy(rec);
      else rec.state = 'idle';
    }
    this.gpadls = new GpadlTable(this.pages);
    this.gpadlPages = 0;
    this.gpadlSizes.clear();
    this.pendingGpadlRelid.clear();
    this.connected = false;
    this.version = 0;
    this.offersRequested = false;
    this.contactInfo = {};
  }

  private whyUnusable(relid: number): string {
    const rec = this.records.get(relid);
    return rec ? `channel is ${rec.state}` : 'unknown channel';
  }

  // ---- output ----

  private post(m: Uint8Array): void { this.synicPost(this.messageVp, m, messageName(readU32(m, 0))); }

  private synicPost(vp: number, m: Uint8Array, name: string): void {
    const st = this.synic.postMessage(vp, VMBUS_MESSAGE_SINT, HVMSG_CHANNEL, m);
    if (st !== 0) this.logLine(`vmbus: posting ${name} to VP ${vp} failed: status ${st}`, true);
  }

  private refuse(why: string): void {
    this.counters.refused++;
    this.logLine(`vmbus: refused ${why}`, true);
  }
}

function gpadlPageCount(g: Gpadl): number {
  let n = 0;
  for (const r of g.ranges) n += r.pfns.length;
  return n;
}
