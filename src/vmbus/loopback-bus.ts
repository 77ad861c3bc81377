// A VMBus server and the TypeScript guest bus client joined by a LoopbackSynic over one RamGuestPages: the
// test bed for the server, the VSPs and the integration services. Usage:
//   const bus = createLoopbackBus(); bus.server.addVsp(vsp); bus.client.connect(); bus.client.requestOffers();
//   const ch = bus.client.openChannel(bus.client.offerOf(CLASS).childRelid); ch.send(...); ch.receive();
import { GuestBusClient, GuestRam } from './guest-bus-client.js';
import { LoopbackSynic } from './loopback-synic.js';
import { VmbusServer } from './server/vmbus-server.js';

export interface LoopbackBusOptions {
  vpCount?: number;
  /** Guest RAM pages (default 2048 = 8 MiB) starting at page frame `firstPfn` (default 0x100). */
  ramPages?: number;
  firstPfn?: number;
  /** Back guest RAM with a SharedArrayBuffer (to hand it to a worker). */
  shared?: boolean;
  /** Server log lines; default: kept in `log` (and the problem ones in `problems` too). */
  log?: (line: string, problem: boolean) => void;
  /** The server's newest version (VmbusServerOptions.maxVersion). */
  maxVersion?: number;
}

export interface LoopbackBus {
  synic: LoopbackSynic;
  ram: GuestRam;
  server: VmbusServer;
  client: GuestBusClient;
  /** The server's log lines (when no `log` option was given). */
  log: string[];
  /** The lines among them the server flagged as problems (refused, dropped, failed). */
  problems: string[];
}

export function createLoopbackBus(opts: LoopbackBusOptions = {}): LoopbackBus {
  const vpCount = opts.vpCount ?? 1;
  const synic = new LoopbackSynic(vpCount);
  const ram = new GuestRam(opts.firstPfn ?? 0x100, opts.ramPages ?? 2048, opts.shared ?? false);
  const log: string[] = [];
  const problems: string[] = [];
  const keep = (l: string, problem: boolean): void => { log.push(l); if (problem) problems.push(l); };
  const server = new VmbusServer({ synic, pages: ram.pages, vpCount, log: opts.log ?? keep, maxVersion: opts.maxVersion });
  const client = new GuestBusClient(synic, ram, 0);
  return { synic, ram, server, client, log, problems };
}
