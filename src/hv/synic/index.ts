// The synthetic interrupt controller: per-VP SynIC registers, message and event-flag pages, the
// synthetic timers STIMER0-3, and the connections a guest's HvCallPostMessage / HvCallSignalEvent reach in the root.
export * from './layout.js';
export { Synic, type SynicHost } from './synic.js';
export { SyntheticTimers, MAX_CATCH_UP, type StimerHost, type TimerMessageSink } from './stimer.js';
export { SynicConnections, postMessageCall, signalEventCall, type MessageHandler, type EventHandler } from './connections.js';
