// The control server's view of a running VM: the worker and its integration services (src/vsp/ic). A request
// that needs a service the guest has not negotiated (hv_utils not loaded, its channel closed, a reboot in
// progress) is answered 'unavailable' rather than queued behind a guest that may never answer.
import type { IntegrationServices } from '../vsp/ic/index.js';
import { ControlError } from './control-protocol.js';
import type { ControlTarget } from './control-server.js';
import type { VmWorker } from './vm-worker.js';

export interface VmControlOptions {
  /** The integration services of the VM (null when it has none: no VMBus). Read at each request. */
  integration: () => IntegrationServices | null;
  /** Ask the guest to shut down or restart; false when the shutdown service cannot be used. */
  requestShutdown: (kind: 'shutdown' | 'reboot', reason: string) => boolean;
  /** Power off now. */
  stop: () => void;
  /** Facts for status that the worker does not keep (memory size, the control socket path). */
  facts?: Record<string, unknown>;
  now?: () => number;
}

export function vmControlTarget(worker: VmWorker, opts: VmControlOptions): ControlTarget {
  const now = opts.now ?? Date.now;
  const started = now();
  const ic = (): IntegrationServices => {
    const s = opts.integration();
    if (s === null) throw new ControlError('unavailable', 'this VM has no integration services (no VMBus)');
    return s;
  };
  const kvp = () => {
    const k = ic().kvp;
    if (k.phase !== 'ready') throw new ControlError('unavailable', `the guest has not negotiated the KVP service (${k.phase}); is hv_utils loaded?`);
    return k;
  };
  return {
    status: () => {
      const s = opts.integration();
      return {
        state: 'running',
        pid: process.pid,
        uptimeSeconds: Math.round((now() - started) / 100) / 10,
        boots: worker.boots,
        onReset: worker.onReset,
        kernel: worker.boot.kind,
        cmdline: worker.boot.cmdline,
        ...opts.facts,
        integration: s === null ? null : Object.fromEntries(s.inspect().map((i) => [i.name, { phase: i.phase, framework: i.framework, service: i.service }])),
        // Each service's own state (heartbeat liveness, time sync SYNCs and measured drift, KVP counts).
        services: s === null ? null : {
          heartbeat: s.heartbeat.state(), shutdown: s.shutdown.state(), timesync: s.timesync.state(), kvp: s.kvp.state(),
        },
      };
    },
    heartbeat: () => {
      const h = ic().heartbeat;
      const st = h.state();
      if (!st.negotiated && st.lastSequence === null) throw new ControlError('unavailable', `the guest has not negotiated the heartbeat service (${h.phase}); is hv_utils loaded?`);
      return st;
    },
    // Linux answers a host GET with an empty value: hv_kvp.c passes the daemon value_size 0 for GET, so
    // hv_kvp_daemon copies nothing (6.1 kvp_send_key / kvp_get_value). Hosts read a pool by enumerating it,
    // and so does this: the first pair with exactly this key.
    kvpGet: async (pool, key) => (await kvp().enumerate(pool)).find((x) => x.key === key)?.value,
    kvpEnumerate: (pool) => kvp().enumerate(pool),
    kvpSet: (pool, key, value) => kvp().set(pool, key, value),
    kvpDelete: (pool, key) => kvp().delete(pool, key),
    shutdown: (kind, reason) => {
      if (!opts.requestShutdown(kind, reason)) {
        const phase = opts.integration()?.shutdown.phase ?? 'absent';
        throw new ControlError('unavailable', `the guest has not negotiated the shutdown service (${phase}); is hv_utils loaded?`);
      }
      return { requested: kind };
    },
    stop: () => {
      opts.stop();
      return { stopping: true };
    },
  };
}
