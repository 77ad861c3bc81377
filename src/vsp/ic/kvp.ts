// Key-value pair exchange IC (Linux drivers/hv/hv_kvp.c, tools/hv/hv_kvp_daemon.c; layouts in
// include/uapi/linux/hyperv.h). The host sets, gets, deletes and enumerates string pairs in the guest's pools;
// the kernel driver forwards each request to hv_kvp_daemon and answers when the daemon does (or with HV_E_FAIL
// after its own 30 s timeout). Until the daemon registers the driver does not even read the channel, so the
// negotiation itself waits for the daemon. The guest handles one transaction at a time; so does this host.
//
// Pools (enum hv_kvp_exchg_pool): 0 External (host -> guest, /var/lib/hyperv/.kvp_pool_0), 1 Guest (written by
// guest software), 2 Auto (intrinsic guest data the daemon computes: OSName, FullyQualifiedDomainName, ...),
// 3 AutoExternal, 4 AutoInternal. Keys and values travel as NUL-terminated UTF-16LE in fixed 512/2048-byte fields.
// The host reads by ENUMERATE (index 0, 1, ... until a non-zero status), never by GET (see get()).
import { HV_S_OK, IC_BODY, IcMsgType, icVersion, readU32, writeU32 } from './icmsg.js';
import type { IcHeader, IcVersion } from './icmsg.js';
import { IcVsp } from './ic-vsp.js';
import type { IcServiceOptions } from './ic-vsp.js';

export const KVP_CLASS_ID = 'a9a0f4e7-5a45-4d96-b827-8a841e8c03e6';
export const KVP_INSTANCE_ID = 'a9c5ea51-6de9-4ec1-a864-3dbef91e533a';
/** Linux 6.1 prefers 4.0, 3.0, 1.0 (same message layout). */
export const KVP_VERSIONS: readonly IcVersion[] = [icVersion(1, 0), icVersion(3, 0), icVersion(4, 0)];

export const KvpOp = { GET: 0, SET: 1, DELETE: 2, ENUMERATE: 3 } as const;
export const KvpPool = { EXTERNAL: 0, GUEST: 1, AUTO: 2, AUTO_EXTERNAL: 3, AUTO_INTERNAL: 4 } as const;
export const KVP_POOL_COUNT = 5;
/** Registry value types; the host sends strings, the guest answers strings. */
export const REG_SZ = 1;

export const KVP_MAX_KEY_SIZE = 512;
export const KVP_MAX_VALUE_SIZE = 2048;

/** struct hv_kvp_hdr at the start of the body: u8 operation, u8 pool, u16 pad. */
export const KvpHdr = { operation: 0, pool: 1, SIZE: 4 } as const;
/** struct hv_kvp_exchg_msg_value: u32 value_type, u32 key_size, u32 value_size, u8 key[512], u8 value[2048]. */
export const KvpValue = { valueType: 0, keySize: 4, valueSize: 8, key: 12, value: 12 + KVP_MAX_KEY_SIZE, SIZE: 12 + KVP_MAX_KEY_SIZE + KVP_MAX_VALUE_SIZE } as const;
/** struct hv_kvp_msg_enumerate: u32 index + a value. */
export const KvpEnumerate = { index: 0, value: 4, SIZE: 4 + KvpValue.SIZE } as const;
/** struct hv_kvp_msg_delete: u32 key_size, u8 key[512]. */
export const KvpDelete = { keySize: 0, key: 4 } as const;
/**
 * The body every request carries: the header plus the largest non-IP body (enumerate). The guest answers in
 * the host's buffer with the host's length, so the buffer must be large enough for any answer.
 */
export const KVP_BODY_SIZE = KvpHdr.SIZE + KvpEnumerate.SIZE;

export type KvpErrorCode = 'not-connected' | 'closed' | 'timeout' | 'guest-status' | 'malformed' | 'busy';

export class KvpError extends Error {
  constructor(readonly code: KvpErrorCode, message: string, readonly status?: number) {
    super(message);
    this.name = 'KvpError';
  }
}

export interface KvpItem { readonly key: string; readonly value: string }

export interface KvpOptions extends IcServiceOptions {
  /** How long one transaction may wait for the guest (queueing included). Default 15000 ms. */
  readonly timeoutMs?: number;
}

export interface KvpState {
  readonly negotiated: boolean;
  /** Requests waiting or in flight. */
  readonly pending: number;
  readonly completed: number;
  readonly failed: number;
}

interface Op {
  readonly op: number;
  readonly pool: number;
  readonly key: string;
  readonly value: string;
  readonly index: number;
  readonly resolve: (r: { status: number; key: string; value: string }) => void;
  readonly reject: (e: KvpError) => void;
  timer: ReturnType<typeof setTimeout> | null;
  transId: number;
}

/** At most this many requests wait; more are refused ('busy') rather than piling up behind a silent guest. */
const MAX_PENDING = 64;
/** Enumeration stops after this many items whatever the guest says. */
const MAX_ENUMERATE = 4096;

export class KvpVsp extends IcVsp {
  private readonly timeoutMs: number;
  private readonly waiting: Op[] = [];
  private inFlight: Op | null = null;
  private completed = 0;
  private failed = 0;

  constructor(opts: KvpOptions = {}) {
    super({ classId: KVP_CLASS_ID, instanceId: opts.instanceId ?? KVP_INSTANCE_ID, name: 'kvp' },
      IcMsgType.KVPEXCHANGE, KVP_VERSIONS, opts);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** Store `key` = `value` in the guest's pool (the host pushes to pool 0, External). */
  async set(pool: number, key: string, value: string): Promise<void> {
    const r = await this.submit(KvpOp.SET, pool, key, value, 0);
    if (r.status !== HV_S_OK) throw new KvpError('guest-status', `guest refused SET ${key} (status 0x${r.status.toString(16)})`, r.status);
  }

  /**
   * The value of `key` in the guest's pool, or undefined when the guest has none. Read by enumerating the pool,
   * as Hyper-V hosts read guest data: Linux 6.1 answers KVP_OP_GET with an empty value whatever is stored (the
   * driver forwards no value_size and hv_kvp_daemon copies value_size bytes), so a GET cannot be trusted.
   */
  async get(pool: number, key: string): Promise<string | undefined> {
    checkString('key', key, KVP_MAX_KEY_SIZE);
    for (const item of await this.enumerate(pool)) if (item.key === key) return item.value;
    return undefined;
  }

  /** Delete `key` from the guest's pool; false when the guest had no such key. */
  async delete(pool: number, key: string): Promise<boolean> {
    const r = await this.submit(KvpOp.DELETE, pool, key, '', 0);
    return r.status === HV_S_OK;
  }

  /** Every pair of a guest pool, asking index 0, 1, ... until the guest says there are no more. */
  async enumerate(pool: number): Promise<KvpItem[]> {
    const items: KvpItem[] = [];
    for (let index = 0; index < MAX_ENUMERATE; index++) {
      const r = await this.submit(KvpOp.ENUMERATE, pool, '', '', index);
      if (r.status !== HV_S_OK) break;
      items.push({ key: r.key, value: r.value });
    }
    return items;
  }

  state(): KvpState {
    return {
      negotiated: this.phase === 'ready',
      pending: this.waiting.length + (this.inFlight ? 1 : 0),
      completed: this.completed,
      failed: this.failed,
    };
  }

  protected override ready(): void { this.pump(); }

  protected override closed(): void {
    const all = this.inFlight ? [this.inFlight, ...this.waiting] : [...this.waiting];
    this.inFlight = null;
    this.waiting.length = 0;
    for (const op of all) this.fail(op, new KvpError('closed', 'the KVP channel closed'));
  }

  protected override response(h: IcHeader, payload: Uint8Array, transId: number): boolean {
    const op = this.inFlight;
    if (!op || op.transId !== transId) return false; // a late answer to a request that timed out
    this.inFlight = null;
    if (op.timer) clearTimeout(op.timer);
    if (payload.byteLength < IC_BODY + KVP_BODY_SIZE) {
      this.fail(op, new KvpError('malformed', `KVP answer of ${payload.byteLength} bytes`));
      this.pump();
      return false;
    }
    const status = h.status >>> 0;
    let key = '';
    let value = '';
    if (status === HV_S_OK && op.op === KvpOp.ENUMERATE) {
      const base = IC_BODY + KvpHdr.SIZE + KvpEnumerate.value;
      const keySize = readU32(payload, base + KvpValue.keySize);
      const valueSize = readU32(payload, base + KvpValue.valueSize);
      if (keySize > KVP_MAX_KEY_SIZE || valueSize > KVP_MAX_VALUE_SIZE) {
        this.fail(op, new KvpError('malformed', `KVP answer with key_size ${keySize}, value_size ${valueSize}`));
        this.pump();
        return false;
      }
      key = decodeUtf16z(payload, base + KvpValue.key, keySize);
      value = decodeUtf16z(payload, base + KvpValue.value, valueSize);
    }
    this.completed++;
    op.resolve({ status, key, value });
    this.pump();
    return true;
  }

  private submit(opCode: number, pool: number, key: string, value: string, index: number): Promise<{ status: number; key: string; value: string }> {
    return new Promise((resolve, reject) => {
      if (!Number.isInteger(pool) || pool < 0 || pool >= KVP_POOL_COUNT) {
        reject(new RangeError(`KVP pool ${pool} is not 0..${KVP_POOL_COUNT - 1}`));
        return;
      }
      try {
        checkString('key', key, KVP_MAX_KEY_SIZE);
        checkString('value', value, KVP_MAX_VALUE_SIZE);
      } catch (e) { reject(e); return; }
      if (this.phase === 'closed' || this.phase === 'refused') {
        reject(new KvpError('not-connected', `the guest's KVP channel is ${this.phase === 'closed' ? 'not open' : 'refused'}`));
        return;
      }
      if (this.waiting.length >= MAX_PENDING) { reject(new KvpError('busy', 'too many KVP requests waiting')); return; }
      const op: Op = { op: opCode, pool, key, value, index, resolve, reject, timer: null, transId: 0 };
      op.timer = setTimeout(() => this.timeout(op), this.timeoutMs);
      op.timer.unref();
      this.waiting.push(op);
      this.pump();
    });
  }

  private pump(): void {
    while (!this.inFlight && this.waiting.length > 0 && this.phase === 'ready') {
      const op = this.waiting.shift()!;
      const transId = this.sendRequest(KVP_BODY_SIZE, (p) => fillRequest(p, op));
      if (transId === 0) { this.fail(op, new KvpError('busy', 'the KVP request could not be sent')); continue; }
      op.transId = transId;
      this.inFlight = op;
    }
  }

  private timeout(op: Op): void {
    op.timer = null;
    if (this.inFlight === op) this.inFlight = null;
    else {
      const i = this.waiting.indexOf(op);
      if (i >= 0) this.waiting.splice(i, 1);
    }
    this.fail(op, new KvpError('timeout', `the guest did not answer within ${this.timeoutMs} ms${this.phase === 'ready' ? '' : ' (KVP not negotiated: is hv_kvp_daemon running?)'}`));
    this.pump();
  }

  private fail(op: Op, e: KvpError): void {
    if (op.timer) { clearTimeout(op.timer); op.timer = null; }
    this.failed++;
    op.reject(e);
  }
}

function fillRequest(p: Uint8Array, op: Op): void {
  const b = IC_BODY;
  p[b + KvpHdr.operation] = op.op;
  p[b + KvpHdr.pool] = op.pool;
  const body = b + KvpHdr.SIZE;
  switch (op.op) {
    case KvpOp.SET:
      writeU32(p, body + KvpValue.valueType, REG_SZ);
      writeU32(p, body + KvpValue.keySize, encodeUtf16z(p, body + KvpValue.key, op.key));
      writeU32(p, body + KvpValue.valueSize, encodeUtf16z(p, body + KvpValue.value, op.value));
      break;
    case KvpOp.DELETE:
      writeU32(p, body + KvpDelete.keySize, encodeUtf16z(p, body + KvpDelete.key, op.key));
      break;
    case KvpOp.ENUMERATE:
      writeU32(p, body + KvpEnumerate.index, op.index);
      break;
  }
}

function checkString(what: string, s: string, fieldSize: number): void {
  if (utf16Size(s) > fieldSize) throw new RangeError(`KVP ${what} longer than ${fieldSize / 2 - 1} UTF-16 units`);
}

/** Bytes of `s` as NUL-terminated UTF-16LE. */
function utf16Size(s: string): number { return (s.length + 1) * 2; }

/** Write `s` as NUL-terminated UTF-16LE at `offset` (the buffer is zeroed, so the NUL is already there); returns its size in bytes. */
function encodeUtf16z(p: Uint8Array, offset: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    p[offset + 2 * i] = c & 0xff;
    p[offset + 2 * i + 1] = c >>> 8;
  }
  return utf16Size(s);
}

/** Decode at most `size` bytes of UTF-16LE at `offset`, stopping at the first NUL. */
function decodeUtf16z(p: Uint8Array, offset: number, size: number): string {
  let end = offset;
  const limit = offset + (size & ~1);
  while (end < limit && (p[end] | p[end + 1]) !== 0) end += 2;
  return Buffer.from(p.buffer, p.byteOffset + offset, end - offset).toString('utf16le');
}
