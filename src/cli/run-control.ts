// `hypatia run --control PATH`: the VM's control socket, served by the run's own process for `hypatia vm`
// (src/vmwp/control-server.ts). Shutdown and reboot requests go to the guest's shutdown integration service;
// stop ends the run as a management request (status 0).
import { ControlServer, vmControlTarget, type VmWorker } from '../vmwp/index.js';
import type { IntegrationServices } from '../vsp/ic/index.js';

/** The worker's integration services (null: no VMBus, so none). */
export function integrationOf(worker: VmWorker): IntegrationServices | null {
  return worker.integration;
}

/** Serve `path` for `worker`; rejects with a one-line message if the path is taken. */
export async function startControl(path: string, worker: VmWorker, facts: Record<string, unknown>, log: (line: string) => void): Promise<ControlServer> {
  const target = vmControlTarget(worker, {
    integration: () => integrationOf(worker),
    requestShutdown: (kind, reason) => {
      const s = integrationOf(worker)?.shutdown;
      if (s === undefined || s.phase !== 'ready') return false;
      return s.request(kind, reason);
    },
    stop: () => worker.requestStop('host'),
    facts: { ...facts, control: path },
  });
  return ControlServer.listen(path, target, { log });
}
