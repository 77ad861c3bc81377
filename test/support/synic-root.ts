// A test-only root for test/guests/synic.c and stimer.c: `hypatia run` (the CLI's own main) with a hook that, for
// each child partition the worker creates, grants the SynIC privileges (with the synthetic timers', as VID's synic
// option does) and serves two connections through the root's SynIC API — connection 4: HvPostMessage {n} -> n messages back to VP 0's SINT2 (type 1, payload [0xa0+i, i]);
// connection 0x2001: HvSignalEvent flag f -> SIEF flag f + 2 of VP 0's SINT2. The product CLI has no such
// hook: VMBus will be the first real user of this API. At exit it prints what it served on stderr.
import { Hypervisor, Privilege, type Partition } from '../../src/hv/index.js';
import { main } from '../../src/cli/main.js';

const served = { requests: 0, posted: 0, events: [] as number[] };
const original = Hypervisor.prototype.newChildPartition;
Hypervisor.prototype.newChildPartition = function (this: Hypervisor, parent: Partition, flags: number): Partition | null {
  const p = original.call(this, parent, flags);
  if (p === null) return p;
  p.privileges.lo |= (1 << Privilege.ACCESS_SYNIC_MSRS) | (1 << Privilege.ACCESS_SYNTHETIC_TIMER_MSRS);
  p.privileges.hi |= (1 << (Privilege.POST_MESSAGES - 32)) | (1 << (Privilege.SIGNAL_EVENTS - 32));
  p.privilegesChanged();
  const root = this.rootInterface();
  const conns = root.synicConnections(p.id)!;
  conns.setMessageHandler(4, (_type, payload) => {
    served.requests++;
    const n = payload.length > 0 ? Math.min(payload[0], 8) : 0;
    for (let i = 0; i < n; i++) {
      if (root.postSynicMessage(p.id, 0, 2, 1, Uint8Array.of(0xa0 + i, i)) === 0) served.posted++;
    }
    return 0;
  });
  conns.setEventHandler(0x2001, 16, (flag) => {
    served.events.push(flag);
    root.signalSynicEvent(p.id, 0, 2, flag + 2);
  });
  return p;
};

const code = await main(process.argv.slice(2));
process.stderr.write(`synic-root: requests ${served.requests}, posted ${served.posted}, events [${served.events.join(',')}]\n`);
process.exitCode = code;
