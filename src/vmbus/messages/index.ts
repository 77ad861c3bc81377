// VMBus channel message layouts, one module per message group; the server and the guest-side test client both
// read and write messages only through these.
export * from './header.js';
export * from './guid.js';
export * from './version.js';
export * from './offer.js';
export * from './gpadl.js';
export * from './open.js';
export * from './modify.js';
export * from './unload.js';
