// VMBus: ring buffers, packets and GPADLs over guest pages, the channel message layouts, the channel server in
// the root, and a TypeScript guest side (ring client, bus client, loopback SynIC) for tests.
export * from './guest-pages.js';
export * from './gpadl.js';
export * from './packet.js';
export * from './ring-layout.js';
export * from './ring-buffer.js';
export * from './channel-rings.js';
export * from './guest-client.js';
export * from './vsp.js';
export * from './synic-port.js';
export * from './messages/index.js';
export * from './server/index.js';
export * from './loopback-synic.js';
export * from './guest-bus-client.js';
export * from './loopback-bus.js';
