// Importing this module registers every instruction group in the decoder's opcode maps (compat.ts last: it
// wraps opcodes whose 64-bit meaning other groups registered).
import './alu.js';
import './muldiv.js';
import './shift.js';
import './mov.js';
import './control.js';
import './stack.js';
import './system.js';
import './segment-checks.js';
import './bits.js';
import './string.js';
import './atomic.js';
import './sse-move.js';
import './sse-int.js';
import './sse-shuffle.js';
import './x87.js';
import './sse-float.js';
import './sse-cmp.js';
import './sse-cvt.js';
import './sse-mxcsr.js';
import './sse-fxsave.js';
import './compat.js';
// MMX forms extend opcodes the SSE modules registered (each mmx-*.ts imports the SSE module it extends).
import './mmx-int.js';
import './mmx-move.js';
import './mmx-shuffle.js';
import './mmx-cvt.js';
