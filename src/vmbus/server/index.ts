// The VMBus channel server in the root: channel messages, offers, GPADLs, open channels and their packet pump.
export * from './vmbus-server.js';
export * from './server-channel.js';
export * from './counters.js';
export * from './guest-memory.js';
