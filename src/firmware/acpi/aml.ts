// An AML builder: each function returns the encoded bytes of one ASL construct (ACPI 6.x, section 20.2 "AML
// Grammar Definition"), so a definition block is written as nested calls that read like the ASL they stand for:
//
//   device('VMOD', name('_HID', 'ACPI0004'), name('_UID', 0),
//     device('VMBS', name('_HID', 'VMBus'), method('_STA', 0, ret(0x0f))))
//
// Values: a number or bigint is an Integer (encoded as iasl does: Zero/One/Byte/Word/DWord/QWord, smallest
// first), a string is a String, a Uint8Array is an already-encoded term (a package, a buffer, a reference...).
// Names are ASL name paths: "_S5", "\\_SB.C000", "^VMBS"; segments shorter than four characters are padded with
// '_' as iasl does. Used at boot only, so clarity beats speed here.

export type Aml = Uint8Array;
export type AmlValue = number | bigint | string | Aml;

const ZERO_OP = 0x00, ONE_OP = 0x01, ONES_OP = 0xff;
const NAME_OP = 0x08, BYTE_PREFIX = 0x0a, WORD_PREFIX = 0x0b, DWORD_PREFIX = 0x0c, STRING_PREFIX = 0x0d, QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10, BUFFER_OP = 0x11, PACKAGE_OP = 0x12, VAR_PACKAGE_OP = 0x13, METHOD_OP = 0x14;
const DUAL_NAME_PREFIX = 0x2e, MULTI_NAME_PREFIX = 0x2f, EXT_OP_PREFIX = 0x5b, DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c, PARENT_PREFIX_CHAR = 0x5e;
const LOCAL0_OP = 0x60, ARG0_OP = 0x68;
const STORE_OP = 0x70, AND_OP = 0x7b, OR_OP = 0x7d, NOTIFY_OP = 0x86;
const LAND_OP = 0x90, LOR_OP = 0x91, LNOT_OP = 0x92, LEQUAL_OP = 0x93;
const IF_OP = 0xa0, ELSE_OP = 0xa1, RETURN_OP = 0xa4;

export class AmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmlError';
  }
}

export function concat(...parts: Aml[]): Aml {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const bytes = (...b: number[]): Aml => Uint8Array.from(b);

/** PkgLength (20.2.4): the length of what follows the opcode, counting the PkgLength's own 1..4 bytes. */
export function pkgLength(contentLength: number): Aml {
  if (contentLength + 1 < 0x40) return bytes(contentLength + 1);
  for (let n = 2; n <= 4; n++) {
    const total = contentLength + n;
    if (total < 2 ** (4 + 8 * (n - 1))) {
      const out = new Uint8Array(n);
      out[0] = ((n - 1) << 6) | (total & 0x0f);
      for (let i = 1; i < n; i++) out[i] = (total >>> (4 + 8 * (i - 1))) & 0xff;
      return out;
    }
  }
  throw new AmlError(`package of ${contentLength} bytes exceeds the 2^28 limit of PkgLength`);
}

/** opcode(s), PkgLength, then the contents. */
function withPkgLength(op: number[], ...contents: Aml[]): Aml {
  const body = concat(...contents);
  return concat(Uint8Array.from(op), pkgLength(body.length), body);
}

function nameSeg(seg: string, path: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new AmlError(`bad name segment "${seg}" in "${path}": 1-4 of A-Z, 0-9, _ (not starting with a digit)`);
  const padded = seg.padEnd(4, '_');
  return [...padded].map((c) => c.charCodeAt(0));
}

/** NameString (20.2.2): an optional root or parent prefix, then zero, one, two (dual) or more (multi) segments. */
export function nameString(path: string): Aml {
  let i = 0;
  const prefix: number[] = [];
  if (path.startsWith('\\')) { prefix.push(ROOT_CHAR); i = 1; } else while (path[i] === '^') { prefix.push(PARENT_PREFIX_CHAR); i++; }
  const rest = path.slice(i);
  const segs = rest === '' ? [] : rest.split('.');
  const encoded = segs.flatMap((s) => nameSeg(s, path));
  if (segs.length === 0) return bytes(...prefix, 0x00); // NullName
  if (segs.length === 1) return bytes(...prefix, ...encoded);
  if (segs.length === 2) return bytes(...prefix, DUAL_NAME_PREFIX, ...encoded);
  if (segs.length > 255) throw new AmlError(`name "${path}" has more than 255 segments`);
  return bytes(...prefix, MULTI_NAME_PREFIX, segs.length, ...encoded);
}

/** An Integer constant, in the smallest encoding (as iasl emits it). */
export function integer(value: number | bigint): Aml {
  const v = BigInt(value);
  if (v < 0n || v >= 2n ** 64n) throw new AmlError(`integer ${value} is outside 0 .. 2^64-1`);
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new AmlError(`integer ${value} is not exact: pass a bigint`);
  if (v === 0n) return bytes(ZERO_OP);
  if (v === 1n) return bytes(ONE_OP);
  const le = (prefix: number, n: number): Aml => {
    const out = new Uint8Array(1 + n);
    out[0] = prefix;
    for (let i = 0; i < n; i++) out[1 + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return out;
  };
  if (v <= 0xffn) return le(BYTE_PREFIX, 1);
  if (v <= 0xffffn) return le(WORD_PREFIX, 2);
  if (v <= 0xffffffffn) return le(DWORD_PREFIX, 4);
  return le(QWORD_PREFIX, 8);
}

/** The Ones constant (all bits set). */
export const ONES: Aml = bytes(ONES_OP);

/** A String constant: printable ASCII, NUL-terminated. */
export function string(s: string): Aml {
  const out = new Uint8Array(s.length + 2);
  out[0] = STRING_PREFIX;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x01 || c > 0x7f) throw new AmlError(`string "${s}" has a character outside ASCII 1..127`);
    out[1 + i] = c;
  }
  return out;
}

/** A value as a term: numbers are Integers, strings Strings, bytes pass through. */
export function value(v: AmlValue): Aml {
  if (typeof v === 'number' || typeof v === 'bigint') return integer(v);
  if (typeof v === 'string') return string(v);
  return v;
}

/** EISAID("PNP0501"): the compressed 32-bit EISA id (three letters of 5 bits, four hex digits). */
export function eisaId(id: string): Aml {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new AmlError(`bad EISA id "${id}": three letters and four hex digits`);
  const c = (i: number): number => id.charCodeAt(i) - 0x40;
  const hi = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  // The id is big-endian in memory: vendor bytes first, then the product bytes.
  const b = [hi >> 8, hi & 0xff, product >> 8, product & 0xff];
  return integer((b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0);
}

/** Package () { ... }: up to 255 elements (VarPackage beyond). */
export function pkg(...elements: AmlValue[]): Aml {
  const items = elements.map(value);
  if (elements.length <= 255) return withPkgLength([PACKAGE_OP], bytes(elements.length), ...items);
  return withPkgLength([VAR_PACKAGE_OP], integer(elements.length), ...items);
}

/** Buffer () { bytes }. */
export function buffer(data: Uint8Array): Aml {
  return withPkgLength([BUFFER_OP], integer(data.length), data);
}

/** Name (path, value). */
export function name(path: string, v: AmlValue): Aml {
  return concat(bytes(NAME_OP), nameString(path), value(v));
}

/** Scope (path) { terms }. */
export function scope(path: string, ...terms: Aml[]): Aml {
  return withPkgLength([SCOPE_OP], nameString(path), ...terms);
}

/** Device (path) { terms }. */
export function device(path: string, ...terms: Aml[]): Aml {
  return withPkgLength([EXT_OP_PREFIX, DEVICE_OP], nameString(path), ...terms);
}

export interface MethodOptions { args?: number; serialized?: boolean; syncLevel?: number }

/** Method (path, args, NotSerialized|Serialized) { terms }. */
export function method(path: string, opts: MethodOptions, ...terms: Aml[]): Aml {
  const args = opts.args ?? 0, sync = opts.syncLevel ?? 0;
  if (!Number.isInteger(args) || args < 0 || args > 7) throw new AmlError(`method ${path}: ${args} arguments (0..7)`);
  if (!Number.isInteger(sync) || sync < 0 || sync > 15) throw new AmlError(`method ${path}: sync level ${sync} (0..15)`);
  const flags = args | (opts.serialized === true ? 0x08 : 0) | (sync << 4);
  return withPkgLength([METHOD_OP], nameString(path), bytes(flags), ...terms);
}

/** A reference to a named object, as an operand or a target. */
export const ref = (path: string): Aml => nameString(path);
export const local = (n: number): Aml => {
  if (!Number.isInteger(n) || n < 0 || n > 7) throw new AmlError(`Local${n} does not exist`);
  return bytes(LOCAL0_OP + n);
};
export const arg = (n: number): Aml => {
  if (!Number.isInteger(n) || n < 0 || n > 6) throw new AmlError(`Arg${n} does not exist`);
  return bytes(ARG0_OP + n);
};
/** No target (NullName), for operators whose result is only returned. */
const NO_TARGET = bytes(0x00);

export const ret = (v: AmlValue): Aml => concat(bytes(RETURN_OP), value(v));
export const store = (src: AmlValue, dst: Aml): Aml => concat(bytes(STORE_OP), value(src), dst);
export const and = (a: AmlValue, b: AmlValue, target: Aml = NO_TARGET): Aml => concat(bytes(AND_OP), value(a), value(b), target);
export const or = (a: AmlValue, b: AmlValue, target: Aml = NO_TARGET): Aml => concat(bytes(OR_OP), value(a), value(b), target);
export const lAnd = (a: AmlValue, b: AmlValue): Aml => concat(bytes(LAND_OP), value(a), value(b));
export const lOr = (a: AmlValue, b: AmlValue): Aml => concat(bytes(LOR_OP), value(a), value(b));
export const lNot = (a: AmlValue): Aml => concat(bytes(LNOT_OP), value(a));
export const lEqual = (a: AmlValue, b: AmlValue): Aml => concat(bytes(LEQUAL_OP), value(a), value(b));
export const notify = (object: Aml, v: AmlValue): Aml => concat(bytes(NOTIFY_OP), object, value(v));

/** If (predicate) { terms }. Follow with elseDo() for an Else branch. */
export const ifThen = (predicate: AmlValue, ...terms: Aml[]): Aml => withPkgLength([IF_OP], value(predicate), ...terms);
export const elseDo = (...terms: Aml[]): Aml => withPkgLength([ELSE_OP], ...terms);
