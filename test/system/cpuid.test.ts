// CPUID from inside a guest booted by `hypatia run`: the guest prints every leaf it reads; each must equal the
// table the hypervisor gives a new child partition (the software processor's profile plus the hypervisor's
// leaves), with the initial APIC id of leaf 1 being the VP's index. A second test holds the profile to its
// promise: no feature bit for an instruction set the processor does not implement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest } from '../support/guest-build.js';
import { runGuest } from '../support/guest-run.js';
import { softwareCpuidProfile, type CpuidResult, type CpuidTable } from '../../src/vp/index.js';
import { CHILD_DEFAULT_PRIVILEGES, composeChildCpuid, MAX_VPS_PER_PARTITION } from '../../src/hv/index.js';

/** A new child partition's table: the processor profile plus the hypervisor's leaves. */
function childTable(): CpuidTable {
  const t = softwareCpuidProfile();
  composeChildCpuid(t, CHILD_DEFAULT_PRIVILEGES, MAX_VPS_PER_PARTITION);
  return t;
}

function expected(t: CpuidTable, leaf: number, sub: number): CpuidResult {
  const r = t.get(`${leaf.toString(16)}:${sub.toString(16)}`) ?? t.get(leaf.toString(16)) ?? { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  const u = { eax: r.eax >>> 0, ebx: r.ebx >>> 0, ecx: r.ecx >>> 0, edx: r.edx >>> 0 };
  if (leaf === 1) u.ebx = (u.ebx & 0x00ffffff) >>> 0; // initial APIC id of VP 0
  return u;
}

test('guest cpuid: every leaf the guest reads matches the partition CPUID table', () => {
  const t = childTable();
  const r = runGuest(buildGuest('cpuid'));
  const lines = r.output.split('\n').filter((l) => l.startsWith('cpuid '));
  assert.ok(r.output.includes('\ncpuid-end\n'), `guest did not finish the CPUID dump:\n${r.output}`);
  const seen = new Set<string>();
  for (const l of lines) {
    const [leaf, sub, eax, ebx, ecx, edx] = l.split(' ').slice(1).map((x) => parseInt(x, 16));
    seen.add(`${leaf.toString(16)}:${sub.toString(16)}`);
    assert.deepEqual({ eax, ebx, ecx, edx }, expected(t, leaf, sub), `leaf ${leaf.toString(16)} subleaf ${sub.toString(16)}: ${l}`);
  }
  // The guest enumerates what the table advertises: basic leaves up to leaf 0's max, hypervisor and extended
  // ranges up to their max leaves.
  for (const want of ['0:0', '1:0', '7:0', '40000000:0', '40000005:0', '80000000:0', '80000001:0', '80000002:0', '80000008:0']) {
    assert.ok(seen.has(want), `guest never read leaf ${want}`);
  }
  assert.ok(!seen.has('8:0') && !seen.has('40000006:0') && !seen.has('80000009:0'), 'guest stays within the advertised maximum leaves');
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.line);
  assert.deepEqual(failed, []);
  assert.deepEqual(r.checks.map((c) => c.what), [
    'CPUID.1:EBX[31:24] (initial APIC id) of VP 0 is 0',
    'CPUID at CPL 3 returns what CPL 0 sees for leaf 1',
  ]);
  assert.equal(r.exitValue, 0, r.output);
});

test('the CPUID profile reports only what the processor implements', () => {
  const t = softwareCpuidProfile();
  const get = (k: string): CpuidResult => t.get(k) ?? { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  const l1 = get('1'), l7 = get('7:0'), e1 = get('80000001');
  // Not implemented: SSE3/SSSE3/SSE4.x, POPCNT, MOVBE, XSAVE/OSXSAVE, AVX, AES, RDRAND, F16C, FMA,
  // MONITOR, VMX, PCID, SEP, MTRR, MCE/MCA, DE, VME, PSE36, HTT.
  const l1EdxMissing = (1 << 11) | (1 << 12) | (1 << 7) | (1 << 14) | (1 << 2) | (1 << 1) | (1 << 17) | (1 << 28);
  const l1EcxMissing = 1 | (1 << 9) | (1 << 19) | (1 << 20) | (1 << 23) | (1 << 22) | (1 << 26) | (1 << 27) | (1 << 28) |
    (1 << 25) | (1 << 30) | (1 << 29) | (1 << 12) | (1 << 3) | (1 << 5) | (1 << 17);
  assert.equal(l1.edx & l1EdxMissing, 0, 'leaf 1 EDX advertises an unimplemented feature');
  assert.equal(l1.ecx & l1EcxMissing, 0, 'leaf 1 ECX advertises an unimplemented feature');
  assert.deepEqual([l7.ebx, l7.ecx, l7.edx >>> 0], [0, 0, 1 << 29], 'leaf 7: only IA32_ARCH_CAPABILITIES (an MSR the processor implements)');
  assert.equal(e1.ecx & ~1, 0, 'only LAHF/SAHF in 64-bit mode among 80000001:ECX');
  // Required by the x86-64 Linux kernel (arch/x86/include/asm/required-features.h) or part of the x86-64 baseline
  // ISA (MMX: glibc's static binaries declare x86-64-baseline), and implemented.
  for (const [bit, name] of [[0, 'FPU'], [5, 'MSR'], [6, 'PAE'], [8, 'CX8'], [15, 'CMOV'], [23, 'MMX'], [24, 'FXSR'], [25, 'SSE'], [26, 'SSE2']] as const) {
    assert.ok((l1.edx >>> bit) & 1, `${name} must be reported`);
  }
  assert.ok((e1.edx >>> 29) & 1, 'LM must be reported');
  // The hypervisor's local APIC (test/hv/apic*.test.ts): APIC, x2APIC and the TSC-deadline timer work.
  assert.ok((l1.edx >>> 9) & 1, 'APIC must be reported');
  assert.ok((l1.ecx >>> 21) & 1, 'x2APIC must be reported');
  assert.ok((l1.ecx >>> 24) & 1, 'TSC-deadline must be reported');
});
