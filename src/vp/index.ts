// Virtual processors: the engine interface and the software x86-64 engine.
export * from './engine.js';
export * from './x86/index.js';
