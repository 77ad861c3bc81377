// The hypatia command line: dispatches to its commands; every failure is one line on stderr and a non-zero
// status, never a stack trace (set HYPATIA_DEBUG=1 to see one).
import { guestCommand } from './guest-command.js';
import { runCommand, RUN_HELP } from './run-command.js';
import { vhdCommand } from './vhd.js';
import { vmCommand, VM_HELP } from './vm-command.js';

const HELP = `Usage: hypatia <command> [options]

Hypatia: the Hyper-V architecture in TypeScript (hypervisor, root partition stack, software x86-64 VP).

Commands:
  run     run a kernel in a child partition with COM1 on the terminal (hypatia run --help)
  vm      control a running VM through its control socket: status, heartbeat, KVP, shutdown (hypatia vm --help)
  vhd     create, inspect and convert VHD/VHDX disk images (hypatia vhd --help)
  guest   fetch the Linux guest: Debian's cloud kernel and a busybox initramfs; build a root disk (hypatia guest --help)

Options:
  -h, --help   show this help
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
        process.stderr.write(HELP);
        return 2;
      case '-h': case '--help': case 'help':
        process.stdout.write(cmd === 'help' && rest[0] === 'run' ? RUN_HELP : cmd === 'help' && rest[0] === 'vm' ? VM_HELP : HELP);
        return 0;
      case 'run':
        return await runCommand(rest);
      case 'vhd':
        return await vhdCommand(rest);
      case 'vm':
        return await vmCommand(rest);
      case 'guest':
        return await guestCommand(rest);
      default:
        process.stderr.write(cmd.startsWith('-') ? `hypatia: unknown option ${cmd} (see hypatia --help)\n` : `hypatia: unknown command "${cmd}" (see hypatia --help)\n`);
        return 2;
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`hypatia: internal error: ${err.message.split('\n')[0]}\n`);
    if (process.env.HYPATIA_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 70;
  }
}
