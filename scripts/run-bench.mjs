#!/usr/bin/env node
// Runs the benchmarks (compiled by `npm run build`): node scripts/run-bench.mjs [name...]
import { main } from '../dist/bench/index.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 1; });
