// Child process of the crash-consistency test: writes to a dynamic VHDX in iterations, flushing after each and
// printing "ACK n" once the flush returned. The parent kills it with SIGKILL at a random moment and recomputes the
// same writes from the seed to check what survived. Usage: node crash-writer.js IMAGE SEED FIRST_ITERATION
import * as fs from 'node:fs';
import { openDisk } from '../../src/storage/index.js';
import { iterationSteps } from './crash-workload.js';

const [file, seedText, firstText] = process.argv.slice(2);
const disk = openDisk(file);
fs.writeSync(1, 'READY\n');
for (let k = Number(firstText); ; k++) {
  for (const s of iterationSteps(Number(seedText), k, disk.capacity)) {
    if (s.discard) disk.discard(s.offset, s.data.length);
    else disk.write(s.offset, s.data);
  }
  disk.flush();
  fs.writeSync(1, `ACK ${k}\n`);
}
