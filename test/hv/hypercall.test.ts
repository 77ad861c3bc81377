// The hypercall dispatcher against the TLFS binary layouts. Inputs are built here byte by byte at the offsets
// of the Linux/TLFS structures (hv_input_create_partition, hv_input_map_gpa_pages, hv_register_assoc...),
// with the numeric call and status codes written out, so the test does not share the hypervisor's own tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hypervisor } from '../../src/hv/index.js';

const MiB = 1 << 20;

class RootCaller {
  readonly hv = new Hypervisor({ memoryBytes: 16 * MiB, childGpaPages: 8192 });
  readonly root = this.hv.rootInterface();
  readonly dv = new DataView(this.root.memory.buffer);
  readonly inGpa = this.root.rootFirstPage * 4096;
  readonly outGpa = (this.root.rootFirstPage + 1) * 4096;
  /** A few root pages to give children. */
  readonly spare = this.root.rootFirstPage + 16;

  clear(): void {
    new Uint8Array(this.root.memory.buffer, this.inGpa, 8192).fill(0);
  }
  u32(off: number, v: number): void { this.dv.setUint32(this.inGpa + off, v >>> 0, true); }
  u64(off: number, v: bigint): void { this.dv.setBigUint64(this.inGpa + off, v, true); }
  out32(off: number): number { return this.dv.getUint32(this.outGpa + off, true); }
  out64(off: number): bigint { return this.dv.getBigUint64(this.outGpa + off, true); }

  /** Returns [status, reps completed]. */
  call(code: number, repCount = 0, repStart = 0, inGpa = this.inGpa, outGpa = this.outGpa, ctlExtraLo = 0): [number, number] {
    this.root.hypercall(code | ctlExtraLo, repCount | (repStart << 16), inGpa, 0, outGpa, 0);
    return [this.root.result[0] & 0xffff, this.root.result[1] & 0xfff];
  }

  createPartition(): number {
    this.clear();
    const [s] = this.call(0x0040);
    assert.equal(s, 0);
    return this.out32(0);
  }

  simple(code: number, id: number): number {
    this.clear();
    this.u64(0, BigInt(id));
    return this.call(code)[0];
  }
}

test('root creates, initializes, maps memory, creates a VP, sets and reads registers, deletes', () => {
  const r = new RootCaller();
  const poolFree = r.hv.pool.freeCount;
  const id = r.createPartition();
  assert.ok(id > 1, 'child ids differ from the root id 1');
  assert.equal(r.simple(0x0041, id), 0); // HvCallInitializePartition

  // HvCallMapGpaPages: target id @0, target GPA page @8, flags @16, source pages @24.., rep count = 4.
  r.clear();
  r.u64(0, BigInt(id)); r.u64(8, 0x10n); r.u32(16, 0x1 | 0x2 | 0x4);
  for (let i = 0; i < 4; i++) r.u64(24 + 8 * i, BigInt(r.spare + i));
  assert.deepEqual(r.call(0x004b, 4), [0, 4]);
  const child = r.hv.partitions.get(id)!;
  assert.deepEqual([...child.map.spaPage.subarray(0x10, 0x14)], [r.spare, r.spare + 1, r.spare + 2, r.spare + 3]);
  assert.equal(child.map.rights[0x10], 7);
  assert.equal(r.hv.pagesMappedIntoChildren, 4);

  // HvCallCreateVp: partition @0, vp index @8.
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 0);
  assert.equal(r.call(0x004e)[0], 0);
  assert.equal(r.hv.pool.freeCount, poolFree - 2, 'a state page and an intercept message page');

  // HvCallSetVpRegisters: header {partition, vp, vtl} then 32-byte hv_register_assoc {name, pad, value}.
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 0);
  const set: [number, bigint][] = [[0x00020000, 0x1122334455667788n], [0x00020010, 0x10000n], [0x00040002, 0x5000n]];
  set.forEach(([name, v], i) => { r.u32(16 + 32 * i, name); r.u64(16 + 32 * i + 16, v); });
  // CS as hv_x64_segment_register: base @0, limit @8, selector @12, attributes @14.
  r.u32(16 + 32 * 3, 0x00060001); r.u64(16 + 32 * 3 + 16, 0n); r.u32(16 + 32 * 3 + 24, 0xffffffff);
  r.dv.setUint16(r.inGpa + 16 + 32 * 3 + 28, 0x08, true); r.dv.setUint16(r.inGpa + 16 + 32 * 3 + 30, 0xa09b, true);
  // GDTR as hv_x64_table_register: limit @6, base @8.
  r.u32(16 + 32 * 4, 0x00070001); r.dv.setUint16(r.inGpa + 16 + 32 * 4 + 16 + 6, 0x17, true); r.u64(16 + 32 * 4 + 24, 0x4000n);
  assert.deepEqual(r.call(0x0051, 5), [0, 5]);

  // HvCallGetVpRegisters: names (u32) after the header; 16-byte values out.
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 0);
  [0x00020000, 0x00020010, 0x00040002, 0x00060001, 0x00070001].forEach((n, i) => r.u32(16 + 4 * i, n));
  assert.deepEqual(r.call(0x0050, 5), [0, 5]);
  assert.equal(r.out64(0), 0x1122334455667788n);
  assert.equal(r.out64(16), 0x10000n);
  assert.equal(r.out64(32), 0x5000n);
  assert.equal(r.dv.getUint16(r.outGpa + 48 + 12, true), 0x08);
  assert.equal(r.dv.getUint16(r.outGpa + 48 + 14, true), 0xa09b);
  assert.equal(r.dv.getUint16(r.outGpa + 64 + 6, true), 0x17);
  assert.equal(r.out64(64 + 8), 0x4000n);

  // HvCallUnmapGpaPages then HvCallDeletePartition: everything goes back.
  r.clear(); r.u64(0, BigInt(id)); r.u64(8, 0x10n);
  assert.deepEqual(r.call(0x004c, 2), [0, 2]);
  assert.equal(r.hv.pagesMappedIntoChildren, 2);
  assert.equal(r.simple(0x0042, id), 0); // finalize
  assert.equal(r.simple(0x0043, id), 0); // delete
  assert.equal(r.hv.pagesMappedIntoChildren, 0);
  assert.equal(r.hv.pool.freeCount, poolFree);
  assert.equal(r.hv.partitions.has(id), false);
  assert.equal(r.simple(0x0041, id), 0x000d, 'a deleted partition id is invalid');
});

test('TLFS status codes for malformed calls', () => {
  const r = new RootCaller();
  const id = r.createPartition();
  assert.equal(r.call(0x7777)[0], 0x0002, 'unknown call code: HV_STATUS_INVALID_HYPERCALL_CODE');
  r.clear(); r.u64(0, BigInt(id));
  assert.equal(r.call(0x0041, 1)[0], 0x0003, 'rep count on a simple call: INVALID_HYPERCALL_INPUT');
  assert.equal(r.call(0x004c, 0)[0], 0x0003, 'rep call with no reps');
  assert.equal(r.call(0x004c, 2, 2)[0], 0x0003, 'rep start beyond rep count');
  assert.equal(r.call(0x0041, 0, 0, r.inGpa, r.outGpa, 1 << 27)[0], 0x0003, 'reserved control bit');
  assert.equal(r.call(0x0041, 0, 0, r.inGpa + 4)[0], 0x0004, 'misaligned input: INVALID_ALIGNMENT');
  r.clear(); r.u64(0, BigInt(id));
  assert.equal(r.call(0x004b, 600)[0], 0x0004, 'rep list spanning pages: INVALID_ALIGNMENT');
  assert.equal(r.call(0x0041, 0, 0, 0x1000)[0], 0x0005, 'input in the hypervisor pool (not in the root map): INVALID_PARAMETER');
  assert.equal(r.call(0x0041, 0, 0, 0x7fff0000)[0], 0x0005, 'input beyond memory');
  assert.equal(r.simple(0x0041, 999), 0x000d, 'unknown partition: INVALID_PARTITION_ID');
  assert.equal(r.simple(0x0041, 1), 0x0006, 'the root manages only the partitions it created, not itself: ACCESS_DENIED');
  assert.equal(r.simple(0x0041, id), 0);
  assert.equal(r.simple(0x0041, id), 0x0007, 'initialize twice: INVALID_PARTITION_STATE');

  // Map with a flag this hypervisor does not support (large page), a source page the root does not own,
  // a target beyond the child's GPA space.
  r.clear(); r.u64(0, BigInt(id)); r.u64(8, 0n); r.u32(16, 0x80000001); r.u64(24, BigInt(r.spare));
  assert.equal(r.call(0x004b, 1)[0], 0x0005);
  r.clear(); r.u64(0, BigInt(id)); r.u64(8, 0n); r.u32(16, 1); r.u64(24, 3n /* a pool page */);
  assert.deepEqual(r.call(0x004b, 1), [0x0005, 0]);
  r.clear(); r.u64(0, BigInt(id)); r.u64(8, 8191n); r.u32(16, 1); r.u64(24, BigInt(r.spare)); r.u64(32, BigInt(r.spare + 1));
  assert.equal(r.call(0x004b, 2)[0], 0x0005);

  // Partial progress is reported: the second source page is bad, so one rep completed.
  r.clear(); r.u64(0, BigInt(id)); r.u64(8, 0n); r.u32(16, 3); r.u64(24, BigInt(r.spare)); r.u64(32, 0xfffffn);
  assert.deepEqual(r.call(0x004b, 2), [0x0005, 1]);
  // Rep start: resume at element 1 with a good page.
  r.u64(32, BigInt(r.spare + 1));
  assert.deepEqual(r.call(0x004b, 2, 1), [0, 2]);
  assert.equal(r.hv.partitions.get(id)!.map.spaPage[1], r.spare + 1);

  // VPs: bad index, duplicate, unknown register name (reps completed up to it).
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 64);
  assert.equal(r.call(0x004e)[0], 0x000e, 'VP index out of range: INVALID_VP_INDEX');
  r.u32(8, 0);
  assert.equal(r.call(0x004e)[0], 0);
  assert.equal(r.call(0x004e)[0], 0x0019, 'VP exists: OBJECT_IN_USE');
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 1); r.u32(16, 0x00020000);
  assert.equal(r.call(0x0050, 1)[0], 0x000e, 'no such VP');
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 0); r.u32(16, 0x00020000); r.u32(20, 0x0badbad0);
  assert.deepEqual(r.call(0x0050, 2), [0x0005, 1]);
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 0); r.u32(16, 0x00020010); r.u64(32, 0x0000800000000000n);
  assert.equal(r.call(0x0051, 1)[0], 0x0050, 'non-canonical RIP: INVALID_REGISTER_VALUE');

  // Properties: the virtual TSC frequency; privileges a child may not hold.
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 0x00060009);
  assert.equal(r.call(0x0044)[0], 0);
  assert.equal(r.out64(0), 1_000_000_000n);
  r.u32(8, 0x12345);
  assert.equal(r.call(0x0044)[0], 0x0009, 'UNKNOWN_PROPERTY');
  // Intercepts: an unsupported type, and an I/O port parameter out of range.
  r.clear(); r.u64(0, BigInt(id)); r.u32(8, 1); r.u32(12, 0x3); r.u64(16, 14n);
  assert.equal(r.call(0x004d)[0], 0x0005);
  r.u32(12, 0); r.u64(16, 0x10000n);
  assert.equal(r.call(0x004d)[0], 0x0005);
  r.u64(16, 0x3f8n);
  assert.equal(r.call(0x004d)[0], 0);
  assert.equal(r.hv.partitions.get(id)!.ioIntercepts[0x3f8], 1);
});

test('fast hypercalls take their input from the registers', () => {
  const r = new RootCaller();
  const id = r.createPartition();
  // Fast form (bit 16): the 8-byte input is the "input GPA" value itself.
  r.root.hypercall(0x0041 | (1 << 16), 0, id, 0, 0, 0);
  assert.equal(r.root.result[0], 0);
  assert.equal(r.hv.partitions.get(id)!.state, 2);
  r.root.hypercall(0x0040 | (1 << 16), 0, 0, 0, 0, 0);
  assert.equal(r.root.result[0], 0x0003, 'create partition has 56 bytes of input and an output: not fast');
});

test('system memory is one WebAssembly.Memory below 2 GiB', () => {
  const hv = new Hypervisor({ memoryBytes: 8 * MiB });
  assert.ok(hv.memory.memory instanceof WebAssembly.Memory);
  assert.equal(hv.memory.buffer.byteLength, 8 * MiB);
  assert.throws(() => new Hypervisor({ memoryBytes: 2 ** 31 }), /2147418112 byte limit/);
  const json = JSON.parse(JSON.stringify(hv.inspect()));
  assert.equal(json.memory.bytes, 8 * MiB);
  assert.equal(json.partitions[0].root, true);
});
