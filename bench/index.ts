// `npm run bench`: every benchmark, or the ones named on the command line. Figures print side by side.
import { benchCompute } from './compute.js';
import { benchLinuxBoot } from './linux-boot.js';
import { benchStorvsc } from './storvsc.js';
import { benchVmbusRing } from './vmbus-ring.js';
import { benchVmbusServer } from './vmbus-server.js';

const BENCHES: Record<string, () => Promise<void>> = {
  compute: benchCompute,
  'linux-boot': benchLinuxBoot,
  'vmbus-ring': benchVmbusRing,
  'vmbus-server': benchVmbusServer,
  storvsc: benchStorvsc,
};

async function loadStorage(): Promise<(() => Promise<void>) | undefined> {
  try {
    const m = (await import('./storage.js')) as { benchStorage?: () => Promise<void> };
    return m.benchStorage;
  } catch {
    return undefined;
  }
}

export async function main(argv: string[]): Promise<number> {
  const storage = await loadStorage();
  if (storage) BENCHES.storage = storage;
  const names = argv.length > 0 ? argv : Object.keys(BENCHES);
  for (const n of names) {
    const b = BENCHES[n];
    if (!b) {
      console.error(`bench: unknown benchmark '${n}' (have: ${Object.keys(BENCHES).join(', ')})`);
      return 2;
    }
    console.log(`\n== ${n} ==`);
    await b();
  }
  return 0;
}
