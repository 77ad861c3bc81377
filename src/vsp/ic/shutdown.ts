// Shutdown IC (Linux hv_util.c shutdown_onchannelcallback): the host asks the guest to power off or restart;
// the guest answers with a status before acting (HV_S_OK, or HV_E_FAIL for a request it cannot do) and then
// runs orderly_poweroff / orderly_reboot. Linux ignores the message silently unless the packet holds the whole
// struct shutdown_msg_data (2060 bytes), so the display-message field is always sent in full.
import { HV_S_OK, IC_BODY, IcMsgType, icVersion, writeU32 } from './icmsg.js';
import type { IcHeader, IcVersion } from './icmsg.js';
import { IcVsp } from './ic-vsp.js';
import type { IcServiceOptions } from './ic-vsp.js';
import { Listeners } from './listeners.js';
import type { Unsubscribe } from './listeners.js';

export const SHUTDOWN_CLASS_ID = '0e0b6031-5213-4934-818b-38d90ced39db';
export const SHUTDOWN_INSTANCE_ID = '7afffda6-c223-405e-b373-7502457b719c';
/** Linux 6.1 prefers 3.2, 3.1, 3.0, 1.0 (the message layout is the same in all). */
export const SHUTDOWN_VERSIONS: readonly IcVersion[] = [icVersion(1, 0), icVersion(3, 0), icVersion(3, 1), icVersion(3, 2)];

/** struct shutdown_msg_data: u32 reason_code, u32 timeout_seconds, u32 flags, u8 display_message[2048]. */
export const ShutdownMsg = { reasonCode: 0, timeoutSeconds: 4, flags: 8, displayMessage: 12, SIZE: 2060 } as const;
export const SHUTDOWN_DISPLAY_MESSAGE_SIZE = 2048;
/** flags: bit 0 force, bit 1 restart, bit 2 hibernate (Linux: 0/1 power off, 2/3 restart, 4/5 hibernate). */
export const ShutdownFlag = { FORCE: 1, RESTART: 2, HIBERNATE: 4 } as const;
/** Windows SHTDN_REASON_FLAG_PLANNED, the reason OpenVMM sends. */
export const SHTDN_REASON_FLAG_PLANNED = 0x8000_0000;

export type ShutdownKind = 'shutdown' | 'reboot';

export interface ShutdownRequestOptions {
  /** Set the force bit (Linux treats forced and unforced alike). */
  readonly force?: boolean;
  /** timeout_seconds told to the guest; default 0. Linux ignores it. */
  readonly timeoutSeconds?: number;
}

export interface ShutdownResponse {
  readonly kind: ShutdownKind;
  /** The guest's icmsg status: 0 (HV_S_OK) accepted, anything else refused. */
  readonly status: number;
  readonly accepted: boolean;
}

export interface ShutdownState {
  readonly negotiated: boolean;
  /** Requests sent and not yet answered. */
  readonly pending: number;
  readonly lastResponse: ShutdownResponse | null;
}

export class ShutdownVsp extends IcVsp {
  private readonly events: Listeners<ShutdownResponse>;
  private readonly pending = new Map<number, ShutdownKind>();
  private lastResponse: ShutdownResponse | null = null;

  constructor(opts: IcServiceOptions = {}) {
    super({ classId: SHUTDOWN_CLASS_ID, instanceId: opts.instanceId ?? SHUTDOWN_INSTANCE_ID, name: 'shutdown' },
      IcMsgType.SHUTDOWN, SHUTDOWN_VERSIONS, opts);
    this.events = new Listeners(this.log);
  }

  /**
   * Ask the guest to shut down or restart. False when the guest has not negotiated the channel (hv_utils not
   * loaded, or the channel closed) or the request could not be queued; the answer arrives through `onResponse`.
   */
  request(kind: ShutdownKind, reason = '', opts: ShutdownRequestOptions = {}): boolean {
    const flags = (kind === 'reboot' ? ShutdownFlag.RESTART : 0) | (opts.force ? ShutdownFlag.FORCE : 0);
    const text = encodeDisplayMessage(reason);
    const transId = this.request0(flags, opts.timeoutSeconds ?? 0, text);
    if (transId === 0) return false;
    this.pending.set(transId, kind);
    this.log(`${kind} requested${reason ? `: ${reason}` : ''}`);
    return true;
  }

  /** The guest's answers to requests. */
  onResponse(fn: (r: ShutdownResponse) => void): Unsubscribe { return this.events.add(fn); }

  state(): ShutdownState {
    return { negotiated: this.phase === 'ready', pending: this.pending.size, lastResponse: this.lastResponse };
  }

  protected override ready(): void {}

  protected override closed(): void { this.pending.clear(); }

  protected override response(h: IcHeader, payload: Uint8Array, transId: number): boolean {
    const kind = this.pending.get(transId);
    if (kind === undefined || payload.byteLength < IC_BODY) return false;
    this.pending.delete(transId);
    const r: ShutdownResponse = { kind, status: h.status, accepted: h.status === HV_S_OK };
    this.lastResponse = r;
    this.log(`guest ${r.accepted ? 'accepted' : 'refused'} ${kind} (status 0x${(h.status >>> 0).toString(16)})`, !r.accepted);
    this.events.emit(r);
    return true;
  }

  private request0(flags: number, timeoutSeconds: number, text: Uint8Array): number {
    return this.sendRequest(ShutdownMsg.SIZE, (p) => {
      writeU32(p, IC_BODY + ShutdownMsg.reasonCode, SHTDN_REASON_FLAG_PLANNED);
      writeU32(p, IC_BODY + ShutdownMsg.timeoutSeconds, timeoutSeconds);
      writeU32(p, IC_BODY + ShutdownMsg.flags, flags);
      p.set(text, IC_BODY + ShutdownMsg.displayMessage);
    });
  }
}

/** The display message as NUL-terminated UTF-16LE (Windows' string form), cut to fit 2048 bytes. Linux ignores it. */
function encodeDisplayMessage(reason: string): Uint8Array {
  const maxChars = SHUTDOWN_DISPLAY_MESSAGE_SIZE / 2 - 1;
  const bytes = Buffer.from(reason.slice(0, maxChars), 'utf16le');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
