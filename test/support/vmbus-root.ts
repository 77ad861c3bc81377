// A test-only root for test/linux/vmbus.test.ts: `hypatia run` (the CLI's own main) with one extra VSP added to
// the worker through its product hook (VmWorker.addVsp), so the guest has a device to enumerate whatever else
// the machine offers (test/support/loopback-vsp.ts).
import { main } from '../../src/cli/main.js';
import { VmWorker } from '../../src/vmwp/index.js';
import { loopbackVsp } from './loopback-vsp.js';

const create = VmWorker.create.bind(VmWorker);
VmWorker.create = (config, streams) => {
  const w = create(config, streams);
  w.addVsp(loopbackVsp());
  return w;
};

process.exitCode = await main(process.argv.slice(2));
