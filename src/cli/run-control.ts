// `hypatia run --control PATH`: the VM's control socket, served by the run's own process for `hypatia vm`
// (src/vmwp/control-server.ts). Shutdown and reboot requests go to the guest's shutdown integration service;
// stop ends the run as a management request (status 0).
import { ControlServer, vmControlTarget, type VmWorker } from '../vmwp/index.js';
import type { IntegrationServices } from '../vsp/ic/index.js';

/** The worker's integration services (null: no VMBus, so none). */
export function integrationOf(worker: VmWorker): IntegrationServices | null {
  return worker.integration;
}

/**
 * Serve `path` for `worker`; rejects with a one-line message if the path is taken. A shutdown asked through
 * the socket has `shutdownTimeoutMs` to end the run, as after SIGTERM; then the VM is stopped (status 0: the
 * host's management asked for it).
 */
export async function startControl(path: string, worker: VmWorker, facts: Record<string, unknown>, log: (line: string) => void,
  shutdownTimeoutMs: number): Promise<ControlServer> {
  let deadline: NodeJS.Timeout | null = null;
  const target = vmControlTarget(worker, {
    integration: () => integrationOf(worker),
    requestShutdown: (kind, reason) => {
      const s = integrationOf(worker)?.shutdown;
      if (s === undefined || s.phase !== 'ready') return false;
      if (!s.request(kind, reason)) return false;
      if (kind === 'shutdown' && deadline === null) {
        // Unref'd: a run that ends first is not held open by it.
        deadline = setTimeout(() => {
          log(`the guest did not power off within ${shutdownTimeoutMs / 1000} s of "vm shutdown"; stopping the VM`);
          worker.requestStop('host');
        }, shutdownTimeoutMs).unref();
      }
      return true;
    },
    stop: () => worker.requestStop('host'),
    facts: { ...facts, control: path },
  });
  return ControlServer.listen(path, target, { log });
}
