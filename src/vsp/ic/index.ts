// The integration services as VSPs: the host side of Linux's hv_utils (heartbeat, shutdown, time sync, KVP).
// `integrationServices()` builds the four VSPs to add to a VMBus server and the typed handle the worker keeps.
import { HeartbeatVsp } from './heartbeat.js';
import type { HeartbeatOptions } from './heartbeat.js';
import { KvpVsp } from './kvp.js';
import type { KvpOptions } from './kvp.js';
import { ShutdownVsp } from './shutdown.js';
import { TimesyncVsp } from './timesync.js';
import type { TimesyncOptions } from './timesync.js';
import type { IcInspect, IcServiceOptions } from './ic-vsp.js';
import type { Vsp } from '../../vmbus/index.js';

export * from './icmsg.js';
export * from './ic-vsp.js';
export * from './listeners.js';
export * from './heartbeat.js';
export * from './shutdown.js';
export * from './timesync.js';
export * from './kvp.js';

export interface IntegrationServicesOptions {
  /** Every service's log lines (see IcServiceOptions.log). */
  readonly log?: (msg: string, problem: boolean) => void;
  readonly heartbeat?: Omit<HeartbeatOptions, 'log'>;
  readonly shutdown?: Omit<IcServiceOptions, 'log'>;
  readonly timesync?: Omit<TimesyncOptions, 'log'>;
  readonly kvp?: Omit<KvpOptions, 'log'>;
}

/** The host's handle on a VM's integration services. */
export interface IntegrationServices {
  readonly heartbeat: HeartbeatVsp;
  readonly shutdown: ShutdownVsp;
  readonly timesync: TimesyncVsp;
  readonly kvp: KvpVsp;
  /** The four, in offer order, for VmbusServer.addVsp. */
  readonly vsps: readonly Vsp[];
  inspect(): IcInspect[];
}

export function integrationServices(opts: IntegrationServicesOptions = {}): IntegrationServices {
  const log = opts.log;
  const heartbeat = new HeartbeatVsp({ ...opts.heartbeat, log });
  const shutdown = new ShutdownVsp({ ...opts.shutdown, log });
  const timesync = new TimesyncVsp({ ...opts.timesync, log });
  const kvp = new KvpVsp({ ...opts.kvp, log });
  const vsps: readonly Vsp[] = [shutdown, timesync, heartbeat, kvp];
  return {
    heartbeat, shutdown, timesync, kvp, vsps,
    inspect: () => [heartbeat.inspect(), shutdown.inspect(), timesync.inspect(), kvp.inspect()],
  };
}
