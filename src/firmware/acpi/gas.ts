// Generic Address Structure (ACPI 6.x, 5.2.3.2): 12 bytes naming a register in an address space.

export const GAS_SIZE = 12;
export const SPACE_SYSTEM_MEMORY = 0;
export const SPACE_SYSTEM_IO = 1;
/** Access sizes: 0 undefined (legacy), 1 byte, 2 word, 3 dword, 4 qword. */
export const ACCESS_BYTE = 1, ACCESS_WORD = 2, ACCESS_DWORD = 3;

export interface Gas { space: number; bitWidth: number; bitOffset?: number; accessSize: number; address: number }

export function writeGas(dv: DataView, at: number, g: Gas | null): void {
  if (g === null) return; // all zero: not present
  dv.setUint8(at, g.space);
  dv.setUint8(at + 1, g.bitWidth);
  dv.setUint8(at + 2, g.bitOffset ?? 0);
  dv.setUint8(at + 3, g.accessSize);
  dv.setBigUint64(at + 4, BigInt(g.address), true);
}
