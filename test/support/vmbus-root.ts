// A test-only root for test/linux/vmbus.test.ts and test/vmwp/vmbus-flood.test.ts: `hypatia run` (the CLI's
// own main) with VMBus on whatever the kernel (an ELF test guest too) and one extra VSP added to the worker
// through its product hook (VmWorker.addVsp), so the guest has a device to enumerate whatever else the machine
// offers (test/support/loopback-vsp.ts).
import { main } from '../../src/cli/main.js';
import { VmWorker } from '../../src/vmwp/index.js';
import { loopbackVsp } from './loopback-vsp.js';

const create = VmWorker.create.bind(VmWorker);
VmWorker.create = (config, streams) => {
  const w = create({ ...config, vmbus: true }, streams);
  w.addVsp(loopbackVsp());
  return w;
};

process.exitCode = await main(process.argv.slice(2));
