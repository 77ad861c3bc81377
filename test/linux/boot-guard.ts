// What every Linux integration test file needs around its boots: clean-up after the file (the guest still
// running is killed, the scratch directory removed) and booted(), so a test that runs after a failed boot fails
// with that boot's message rather than a null dereference.
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import type { GuestConsole } from './guest-console.js';

export interface BootState {
  guest: GuestConsole | null;
  tmp: string | undefined;
}

/** Registers the file's clean-up and returns booted(); `state` reads the file's own variables when called. */
export function bootGuard(state: () => BootState): () => GuestConsole {
  after(() => {
    const s = state();
    s.guest?.kill();
    if (s.tmp !== undefined) rmSync(s.tmp, { recursive: true, force: true });
  });
  return () => {
    const g = state().guest;
    if (g === null) throw new Error('the guest did not boot (see the first failure)');
    return g;
  };
}
