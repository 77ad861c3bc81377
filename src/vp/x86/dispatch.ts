// Block execution with a generated switch over handler ids. Calling each instruction's handler through a
// function pointer is a megamorphic call in V8 (~20 ns on these machines); a switch whose every case is its
// own call site of exactly one handler makes each call monomorphic, so TurboFan calls it directly or inlines
// it (measured 3x faster per dispatch). The switch is regenerated when enough new handlers have been seen;
// handlers not yet in it run through their function pointer (the default case), which is always correct.
import type { Handler, Insn } from './insn.js';
import type { X86Cpu } from './cpu.js';

/**
 * Runs insns[k..n) of the current block; returns the index after the last instruction that completed (a
 * handler that set cpu.stopBlock counts as completed). A guest fault propagates with cpu.faultIndex set.
 */
export type BlockRunner = (cpu: X86Cpu, insns: Insn[], k: number, n: number, lo: number, hi: number, wraps: boolean) => number;

const ids = new Map<Handler, number>();
const handlers: Handler[] = [];

/** The id of a handler (assigned at first sight, at decode time). */
export function handlerId(h: Handler): number {
  let id = ids.get(h);
  if (id === undefined) {
    id = handlers.length;
    handlers.push(h);
    ids.set(h, id);
  }
  return id;
}

let runner: BlockRunner | null = null;
let covered = 0;
/** Regenerate once this many handlers run through the slow default path. */
const REGENERATE_AFTER = 16;

function generate(): BlockRunner {
  const n = handlers.length;
  const params: string[] = [];
  const cases: string[] = [];
  for (let k = 0; k < n; k++) {
    params.push(`h${k}`);
    cases.push(`case ${k}: h${k}(cpu, ins); break;`);
  }
  const body = `return function runBlock(cpu, insns, k, n, lo, hi, wraps) {
  try {
    for (; k < n; k++) {
      const ins = insns[k];
      cpu.cur = ins;
      cpu.nipLo = (lo + ins.end) | 0;
      if (wraps) cpu.nipHi = cpu.mode64 && (cpu.nipLo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      switch (ins.id) {
        ${cases.join('\n        ')}
        default: ins.exec(cpu, ins);
      }
      if (cpu.stopBlock) { cpu.cur = null; return k + 1; }
    }
    cpu.cur = null;
    return k;
  } catch (e) {
    cpu.cur = null;
    cpu.faultIndex = k;
    throw e;
  }
};`;
  covered = n;
  // The handler functions are the factory's parameters: each case is a call site with a single target.
  return new Function(...params, body)(...handlers) as BlockRunner;
}

/** The current block runner (regenerated when the set of handlers has grown enough). */
export function blockRunner(): BlockRunner {
  if (runner === null || handlers.length - covered >= REGENERATE_AFTER) runner = generate();
  return runner;
}

/** Handlers known and handlers covered by the current switch (for inspection and tests). */
export function dispatchStats(): { handlers: number; switched: number } {
  return { handlers: handlers.length, switched: covered };
}
