import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareMachine, CODE } from '../support/bare-machine.js';
import { EXIT_HLT } from '../../src/vp/index.js';

test('runs a few 64-bit instructions to HLT', () => {
  const m = new BareMachine();
  // mov rax, 5; add rax, rax; mov rbx, -1; add rbx, 1 (carry into high half); hlt
  m.load(CODE, [0x48, 0xc7, 0xc0, 0x05, 0, 0, 0, 0x48, 0x01, 0xc0, 0x48, 0xc7, 0xc3, 0xff, 0xff, 0xff, 0xff, 0x48, 0x83, 0xc3, 0x01, 0xf4]);
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rax'), 10n);
  assert.equal(m.reg('rbx'), 0n);
  assert.equal(m.reg('rip'), BigInt(CODE + 22));
});
