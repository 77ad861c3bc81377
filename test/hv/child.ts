// A child partition built the way the root builds one (WinHv + VID + the direct-boot firmware), running
// hand-assembled 64-bit code at 1 MiB.
import { HvRegister, WinHv, type InterceptMessage } from '../../src/winhv/index.js';
import { VidPartition } from '../../src/vid/index.js';
import { entryState, writeBootStructures } from '../../src/firmware/index.js';

export const CODE = 0x100000;
const MiB = 1 << 20;

export interface Recorded { type: number; access: number; port: number; gpa: number; msr: number; size: number; data: number; raw: Uint8Array }

export class Child {
  readonly winhv = WinHv.boot({ memoryBytes: 16 * MiB, childGpaPages: 65536 });
  readonly part: VidPartition;
  readonly messages: Recorded[] = [];

  constructor(code: number[], memoryBytes = 2 * MiB, handler: ((m: InterceptMessage) => void) | null | 'record' = 'record') {
    this.part = VidPartition.create(this.winhv, { memoryBytes });
    writeBootStructures(this.part.memory);
    this.part.memory.write(CODE, Uint8Array.from(code));
    this.part.setInitialState(0, entryState(CODE));
    if (handler === 'record') this.part.setInterceptHandler((m) => this.record(m));
    else if (handler !== null) this.part.setInterceptHandler(handler);
  }

  record(m: InterceptMessage): void {
    this.messages.push({ type: m.type >>> 0, access: m.accessType, port: m.port, gpa: m.gpa, msr: m.msr, size: m.size, data: m.data >>> 0, raw: m.bytes.slice() });
  }

  run(slice = 100_000): { state: number; event: number } {
    const r = this.part.run(0, slice);
    return { state: r.state, event: r.event };
  }

  reg(name: keyof typeof HvRegister): bigint {
    return this.part.getRegisters(0, [HvRegister[name]])[0] as bigint;
  }
}

/** Little-endian bytes of an integer. */
export function le(value: number | bigint, bytes: number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) { out.push(Number(v & 0xffn)); v >>= 8n; }
  return out;
}
