// The control socket's protocol: one JSON object per line each way on a Unix stream socket. A request names
// an operation and may carry an id (a number or a short string) that the reply echoes. Every reply is
// {"id", "ok": true, "result": ...} or {"id", "ok": false, "error": {"code", "message"}}. Requests come from
// any local user who can open the socket, so each is validated field by field here; the server never acts
// on one that fails.
//
//   {"op":"status"}                                   the VM: state, boots, memory, integration services
//   {"op":"heartbeat"}                                the heartbeat service: alive, last sequence, last answer time
//   {"op":"kvp-get","pool":1,"key":"K"}               the guest's value of K in a pool (null if none)
//   {"op":"kvp-enumerate","pool":1}                   every pair of a pool, in the guest's order
//   {"op":"kvp-set","pool":0,"key":"K","value":"V"}   set K = V in a pool of the guest
//   {"op":"kvp-delete","pool":0,"key":"K"}            delete K from a pool (result: whether it existed)
//   {"op":"shutdown"} / {"op":"reboot"}               ask the guest through the shutdown service
//   {"op":"stop"}                                     power the VM off now (no guest involvement)

export const CONTROL_PROTOCOL_VERSION = 1;
/** A request line longer than this is refused and the connection closed (a reply is never this long either). */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** KVP pools as Linux numbers them (include/uapi/linux/hyperv.h hv_kvp_exchg_pool). */
export const KVP_POOLS = ['external', 'guest', 'auto', 'auto-external', 'auto-internal'] as const;
/** Keys and values travel as NUL-terminated UTF-16 in 512- and 2048-byte fields: at most 255 / 1023 units. */
export const MAX_KVP_KEY_UNITS = 255;
export const MAX_KVP_VALUE_UNITS = 1023;
/** A shutdown reason is shown by Windows guests; bounded like a KVP value. */
const MAX_REASON_UNITS = 1023;
const MAX_ID_LENGTH = 64;

export type RequestId = number | string | null;

export type ControlRequest =
  | { id: RequestId; op: 'status' }
  | { id: RequestId; op: 'heartbeat' }
  | { id: RequestId; op: 'kvp-get'; pool: number; key: string }
  | { id: RequestId; op: 'kvp-enumerate'; pool: number }
  | { id: RequestId; op: 'kvp-set'; pool: number; key: string; value: string }
  | { id: RequestId; op: 'kvp-delete'; pool: number; key: string }
  | { id: RequestId; op: 'shutdown' | 'reboot'; reason: string }
  | { id: RequestId; op: 'stop' };

export type ControlOp = ControlRequest['op'];
export const CONTROL_OPS: readonly ControlOp[] = ['status', 'heartbeat', 'kvp-get', 'kvp-enumerate', 'kvp-set', 'kvp-delete', 'shutdown', 'reboot', 'stop'];

export type ControlErrorCode =
  | 'bad-request' // not JSON, not an object, a field missing or of the wrong kind
  | 'unknown-op'
  | 'too-long' // a request line over MAX_REQUEST_BYTES
  | 'busy' // too many requests queued on this connection
  | 'unavailable' // the service the request needs is not there (guest did not load hv_utils, channel closed)
  | 'guest' // the guest answered with a failure
  | 'timeout' // the guest did not answer in time
  | 'internal';

export interface ControlErrorBody { code: ControlErrorCode; message: string }

export type ControlReply =
  | { id: RequestId; ok: true; result: unknown }
  | { id: RequestId; ok: false; error: ControlErrorBody };

/** An error the server turns into an error reply. */
export class ControlError extends Error {
  constructor(readonly code: ControlErrorCode, message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export type ParsedRequest = { ok: true; request: ControlRequest } | { ok: false; id: RequestId; error: ControlErrorBody };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The id to echo: a safe integer or a short string; anything else is dropped (null). */
function requestId(v: unknown): RequestId {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && v.length <= MAX_ID_LENGTH) return v;
  return null;
}

/** A pool number 0-4 or its name. */
export function parsePool(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < KVP_POOLS.length) return v;
  if (typeof v === 'string') {
    const byName = (KVP_POOLS as readonly string[]).indexOf(v);
    if (byName >= 0) return byName;
    if (/^[0-4]$/.test(v)) return Number(v);
  }
  return undefined;
}

function kvpText(v: unknown, what: string, max: number, allowEmpty: boolean): string {
  if (typeof v !== 'string') throw new ControlError('bad-request', `${what} must be a string`);
  if (!allowEmpty && v.length === 0) throw new ControlError('bad-request', `${what} must not be empty`);
  if (v.length > max) throw new ControlError('bad-request', `${what} is ${v.length} UTF-16 units long; at most ${max}`);
  if (v.includes('\0')) throw new ControlError('bad-request', `${what} must not contain NUL`);
  return v;
}

/** Parses and validates one request line (without its newline). */
export function parseRequest(line: string): ParsedRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, id: null, error: { code: 'bad-request', message: 'not a JSON object' } };
  }
  if (!isRecord(raw)) return { ok: false, id: null, error: { code: 'bad-request', message: 'a request must be a JSON object' } };
  const id = requestId(raw.id);
  try {
    return { ok: true, request: validate(raw, id) };
  } catch (e) {
    if (e instanceof ControlError) return { ok: false, id, error: { code: e.code, message: e.message } };
    throw e;
  }
}

function validate(raw: Record<string, unknown>, id: RequestId): ControlRequest {
  const op = raw.op;
  if (typeof op !== 'string') throw new ControlError('bad-request', 'missing "op"');
  const pool = (): number => {
    const p = parsePool(raw.pool);
    if (p === undefined) throw new ControlError('bad-request', `"pool" must be 0-4 or one of ${KVP_POOLS.join(', ')}`);
    return p;
  };
  switch (op) {
    case 'status': case 'heartbeat': case 'stop':
      return { id, op };
    case 'kvp-get': case 'kvp-delete':
      return { id, op, pool: pool(), key: kvpText(raw.key, '"key"', MAX_KVP_KEY_UNITS, false) };
    case 'kvp-enumerate':
      return { id, op, pool: pool() };
    case 'kvp-set':
      return { id, op, pool: pool(), key: kvpText(raw.key, '"key"', MAX_KVP_KEY_UNITS, false), value: kvpText(raw.value, '"value"', MAX_KVP_VALUE_UNITS, true) };
    case 'shutdown': case 'reboot':
      return { id, op, reason: raw.reason === undefined ? '' : kvpText(raw.reason, '"reason"', MAX_REASON_UNITS, true) };
    default:
      throw new ControlError('unknown-op', `unknown op "${op.slice(0, 64)}" (known: ${CONTROL_OPS.join(', ')})`);
  }
}

/** One reply line, newline included. */
export function encodeReply(reply: ControlReply): string {
  return `${JSON.stringify(reply)}\n`;
}

/** One request line, newline included (the client side). */
export function encodeRequest(request: Record<string, unknown> & { op: ControlOp }): string {
  return `${JSON.stringify(request)}\n`;
}

/** Parses a reply line (the client side); null if it is not a well-formed reply. */
export function parseReply(line: string): ControlReply | null {
  let raw: unknown;
  try { raw = JSON.parse(line); } catch { return null; }
  if (!isRecord(raw) || typeof raw.ok !== 'boolean') return null;
  const id = requestId(raw.id);
  if (raw.ok) return { id, ok: true, result: raw.result };
  const err = raw.error;
  if (!isRecord(err) || typeof err.code !== 'string' || typeof err.message !== 'string') return null;
  return { id, ok: false, error: { code: err.code as ControlErrorCode, message: err.message } };
}
