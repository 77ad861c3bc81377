// The synthetic interrupt controller: per-VP SynIC registers, message and event-flag pages, and the
// connections a guest's HvCallPostMessage / HvCallSignalEvent reach in the root.
export * from './layout.js';
export { Synic, type SynicHost } from './synic.js';
export { SynicConnections, postMessageCall, signalEventCall, type MessageHandler, type EventHandler } from './connections.js';
