// The Hyper-V guest interface from inside a guest booted with `hypatia run`: test/guests/hyperv.c follows
// Linux 6.1's own order (CPUID detection, frequency MSRs, the reference TSC page read exactly as
// hv_read_tsc_page does and compared with TIME_REF_COUNT, VP_INDEX, the guest OS ID, the hypercall page, then
// hypercalls through it). Every check inside the guest must pass; the values it prints are compared here with
// what the TLFS and Linux expect, written out rather than taken from the hypervisor's tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest } from '../support/guest-build.js';
import { runGuest } from '../support/guest-run.js';
import { APIC_TIMER_HZ, VIRTUAL_TSC_HZ } from '../../src/hv/index.js';

const EXPECTED = [
  'CPUID.1:ECX[31] (hypervisor present) is set',
  'CPUID 0x40000000 is "Microsoft Hv" with a max leaf in 0x40000005..0x4000ffff',
  'CPUID 0x40000001 EAX is "Hv#1"',
  "HYPERCALL and VP_INDEX MSRs available (Linux's mandatory bits 5, 6)",
  'no AccessPartitionId, CpuManagement, extended hypercalls or isolation for a child',
  'TSC and APIC frequency MSRs report non-zero rates',
  'REFERENCE_TSC reads 0 before the guest enables it',
  'REFERENCE_TSC reads back page and enable',
  'the TSC page is valid (sequence not 0 or ~0)',
  'TSC page and TIME_REF_COUNT agree (page before <= MSR <= page after, 2000 rounds)',
  'TSC page value = TSC / (TSC Hz / 10^7) exactly (2000 rounds)',
  'reference time advances with the TSC',
  'VP_RUNTIME is positive and at most TIME_REF_COUNT',
  're-enabling the TSC page changes its sequence',
  '#GP(0) writing a reserved REFERENCE_TSC bit',
  '#GP(0) writing TIME_REF_COUNT (read-only)',
  '#GP(0) writing TSC_FREQUENCY (read-only)',
  'VP_INDEX of the boot VP is 0',
  '#GP(0) writing VP_INDEX (read-only)',
  "VP_ASSIST_PAGE takes Linux's write and the page reads zeroed",
  '#GP(0) writing a reserved VP_ASSIST_PAGE bit',
  "the TPR MSR is the APIC's TPR (CR8 = TPR >> 4)",
  '#GP(0) reading the write-only EOI MSR',
  '#GP(0) on SCONTROL (no SynIC offered)',
  'HYPERCALL reads 0 at start',
  'without a guest OS ID the enable bit stays 0 and the page is untouched',
  'GUEST_OS_ID reads back what Linux wrote',
  '#GP(0) writing a reserved HYPERCALL bit',
  "#GP(0) enabling the hypercall page outside the partition's RAM",
  '#GP(0) enabling the hypercall page beyond MAXPHYADDR',
  'HYPERCALL reads back enable (hv_is_hyperv_initialized needs bit 0)',
  'the hypervisor filled the page with VMCALL; RET',
  'fast HvCallNotifyLongSpinWait succeeds',
  'memory-form HvCallNotifyLongSpinWait succeeds',
  'input GPA not 8-byte aligned -> INVALID_ALIGNMENT',
  "input GPA outside the partition's RAM -> INVALID_PARAMETER",
  'rep count on a simple call -> INVALID_HYPERCALL_INPUT',
  'reserved control bit 27 -> INVALID_HYPERCALL_INPUT',
  'variable header on a call without one -> INVALID_HYPERCALL_INPUT',
  'HvCallPostMessage without PostMessages -> ACCESS_DENIED',
  'fast HvCallSignalEvent without SignalEvents -> ACCESS_DENIED',
  'unknown call code -> INVALID_HYPERCALL_CODE',
  'HvCallCreatePartition from a child -> ACCESS_DENIED',
  'HvCallGetPartitionId without AccessPartitionId -> ACCESS_DENIED',
  'a hypercall preserves RBX RSI RDI RBP R12-R15 and RSP',
  "#UD on a hypercall from CPL 3 (at the page's VMCALL)",
  'zeroing GUEST_OS_ID disables the hypercall page',
  'HYPERCALL with the locked bit reads back enabled and locked',
  '#GP(0) writing a locked HYPERCALL MSR',
  'hypercalls still work through the locked page',
];

test('guest hyperv: Linux\'s Hyper-V bring-up sequence, checked from inside the guest', () => {
  const r = runGuest(buildGuest('hyperv'));
  const report = `run ended by ${r.reason} (exit ${String(r.exitValue)}) after ${r.ms} ms:\n${r.output}${r.stderr}`;
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.line);
  assert.deepEqual(failed, [], report);
  assert.deepEqual(r.checks.map((c) => c.what), EXPECTED, report);
  assert.equal(r.reason, 'exit', report);
  assert.equal(r.exitValue, 0, report);

  const lines = r.output.split('\n');
  const cpuid = new Map<number, number[]>();
  for (const l of lines.filter((x) => x.startsWith('hv cpuid '))) {
    const [leaf, ...regs] = l.slice(9).split(' ').map((x) => parseInt(x, 16));
    cpuid.set(leaf, regs);
  }
  assert.deepEqual([...cpuid.keys()], [0x40000000, 0x40000001, 0x40000002, 0x40000003, 0x40000004, 0x40000005]);
  // Privileges: VP runtime, reference counter, APIC MSRs and VP assist page, hypercall MSRs, VP index,
  // reference TSC, frequency MSRs;
  // features: frequency MSRs (8), guest crash MSRs (10), hypercall MSR lock (18); hints: relaxed timing (5), no auto-EOI (9).
  assert.deepEqual(cpuid.get(0x40000003), [0xa73, 0, 0, 0x40500]);
  assert.deepEqual(cpuid.get(0x40000004), [0x220, 0xffffffff, 0, 0]);
  // Linux prints exactly this line from these leaves.
  assert.ok(lines.includes('Hyper-V: privilege flags low 0xa73, high 0x0, hints 0x220, misc 0x40500'), report);
  assert.ok(lines.includes(`hv freq ${VIRTUAL_TSC_HZ} ${APIC_TIMER_HZ}`), report);
  assert.ok(lines.includes('hv hcpage f 1 c1 c3 cc cc'), report);
  // The page's scale: ceil(2^64 * 10^7 / TSC Hz), offset 0.
  const page = lines.find((l) => l.startsWith('hv tscpage '))!.split(' ');
  const scale = ((10_000_000n << 64n) + BigInt(VIRTUAL_TSC_HZ) - 1n) / BigInt(VIRTUAL_TSC_HZ);
  assert.equal(BigInt('0x' + page[3]), scale);
  assert.equal(page[4], '0');
});
