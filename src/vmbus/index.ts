// VMBus building blocks: ring buffers, packets and GPADLs over guest pages (the channel protocol comes later).
export * from './guest-pages.js';
export * from './gpadl.js';
export * from './packet.js';
export * from './ring-layout.js';
export * from './ring-buffer.js';
export * from './channel-rings.js';
export * from './guest-client.js';
export * from './vsp.js';
export * from './synic-port.js';
