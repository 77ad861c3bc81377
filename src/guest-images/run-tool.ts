// Running a host tool (apt-get, apt-cache, dpkg-deb, busybox) and turning its failure modes into one-line
// GuestImageErrors: a missing binary, a full disk, or the tool's own first error line.
import { spawn } from 'node:child_process';
import { GuestImageError, isNoSpace, type GuestImageErrorCode } from './errors.js';

export interface ToolResult { status: number; stdout: string; stderr: string }

export interface RunToolOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** What to say when the binary is missing (the error code is 'no-apt' for apt/dpkg, else 'tool'). */
  missing?: { code: GuestImageErrorCode; message: string };
  timeoutMs?: number;
}

/** Runs `cmd args` and resolves with its status and output; rejects only if it cannot be started. */
export function runTool(cmd: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (e.code === 'ENOENT') {
        const m = options.missing ?? { code: 'tool' as const, message: `${cmd} not found` };
        reject(new GuestImageError(m.code, m.message));
      } else reject(new GuestImageError('tool', `cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** The most telling line of a failed tool's output: apt's "E: ..." line if any, else the first non-empty one. */
export function firstErrorLine(r: ToolResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => l.startsWith('E:')) ?? lines.find((l) => /error/i.test(l)) ?? lines[0] ?? `exit status ${r.status}`;
}

/** Throws a one-line error for a failed run, 'no-space' if the disk filled up. */
export function checkTool(r: ToolResult, what: string, code: GuestImageErrorCode = 'tool', where = ''): ToolResult {
  if (r.status === 0) return r;
  if (isNoSpace(null, r.stderr + r.stdout)) throw new GuestImageError('no-space', `no space left on device${where ? ` in ${where}` : ''} (${what})`);
  throw new GuestImageError(code, `${what} failed: ${firstErrorLine(r)}`);
}
