// CPUID from inside a guest: the guest prints every leaf it reads; each must equal the partition's CPUID table
// (the configuration the hypervisor was given), with the initial APIC id of leaf 1 being the VP's index.
// `hypatia run` does not configure CPUID leaves yet (the partition's table is empty), so this guest runs on the
// BareMachine with a table shaped like a Hyper-V guest's; switch to the CLI once the worker sets one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest } from '../support/guest-build.js';
import { runGuestWithCpuid } from '../support/guest-run.js';
import type { CpuidResult, CpuidTable } from '../../src/vp/index.js';

const ascii = (s: string): number => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);

/** A table shaped like a Hyper-V guest's: Intel vendor, hypervisor leaves, 48-bit addresses. */
function table(): CpuidTable {
  const t: CpuidTable = new Map();
  const set = (k: string, eax: number, ebx: number, ecx: number, edx: number): void => { t.set(k, { eax, ebx, ecx, edx }); };
  set('0', 0xd, ascii('Genu'), ascii('ntel'), ascii('ineI'));
  set('1', 0x000306c3, 0x00010800, 0x80002201 | 0, 0x078bfbff);
  set('7:0', 1, 0x00000209, 0, 0);
  set('7:1', 0, 0, 0, 0);
  set('d:0', 0x7, 0x240, 0x240, 0);
  set('d:1', 0x1, 0, 0, 0);
  set('40000000', 0x40000006, ascii('Micr'), ascii('osof'), ascii('t Hv'));
  set('40000001', ascii('Hv#1'), 0, 0, 0);
  set('40000003', 0x2e7f, 0, 0, 0x1bf);
  set('80000000', 0x80000008, 0, 0, 0);
  set('80000001', 0, 0, 0x1, 0x2c100800);
  set('80000008', 0x3030, 0, 0, 0);
  return t;
}

function expected(t: CpuidTable, leaf: number, sub: number): CpuidResult {
  const r = t.get(`${leaf.toString(16)}:${sub.toString(16)}`) ?? t.get(leaf.toString(16)) ?? { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  const u = { eax: r.eax >>> 0, ebx: r.ebx >>> 0, ecx: r.ecx >>> 0, edx: r.edx >>> 0 };
  if (leaf === 1) u.ebx = (u.ebx & 0x00ffffff) >>> 0; // initial APIC id of VP 0
  return u;
}

test('guest cpuid: every leaf the guest reads matches the partition CPUID table', () => {
  const t = table();
  const r = runGuestWithCpuid(buildGuest('cpuid'), t);
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
  for (const want of ['0:0', '1:0', '7:0', '7:1', 'd:0', 'd:1', '40000000:0', '40000003:0', '40000006:0', '80000000:0', '80000001:0', '80000008:0']) {
    assert.ok(seen.has(want), `guest never read leaf ${want}`);
  }
  assert.ok(!seen.has('e:0') && !seen.has('80000009:0'), 'guest stays within the advertised maximum leaves');
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.line);
  assert.deepEqual(failed, []);
  assert.deepEqual(r.checks.map((c) => c.what), [
    'CPUID.1:EBX[31:24] (initial APIC id) of VP 0 is 0',
    'CPUID at CPL 3 returns what CPL 0 sees for leaf 1',
  ]);
  assert.equal(r.exitValue, 0, r.output);
});
