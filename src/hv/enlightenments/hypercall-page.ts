// The hypercall page's contents (TLFS "Establishing the Hypercall Interface"). The guest reaches offset 0 with
// an indirect CALL, so it holds the instruction the software processor traps on as a hypercall (VMCALL,
// 0F 01 C1; src/vp/x86/ops/system.ts) and a RET. The rest of the page is INT3, so a stray jump into it
// traps instead of running whatever the page held before.

export const HYPERCALL_PAGE_CODE: readonly number[] = [0x0f, 0x01, 0xc1, 0xc3];
const INT3 = 0xcc;

/** Write the page at byte offset `off` of `u8` (one whole 4 KiB page). */
export function fillHypercallPage(u8: Uint8Array, off: number): void {
  for (let i = 0; i < HYPERCALL_PAGE_CODE.length; i++) u8[off + i] = HYPERCALL_PAGE_CODE[i];
  u8.fill(INT3, off + HYPERCALL_PAGE_CODE.length, off + 4096);
}
