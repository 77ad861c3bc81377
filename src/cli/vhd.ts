// `hypatia vhd create|info|check|convert|merge|resize`: the command-line face of the disk-format library.
// Errors are one line on stderr and a non-zero exit status; long operations draw a progress bar when stderr is a
// terminal.
import * as path from 'node:path';
import {
  checkImage, convertImage, createDisk, formatSize, mergeIntoParent, openDisk, parseSize, StorageError,
  type DiskFormat, type DiskInfo, type DiskType, type Progress,
} from '../storage/index.js';

class UsageError extends Error {}

interface Spec { flags: Record<string, 'value' | 'bool'>; positional: [number, number] }
interface Parsed { opts: Map<string, string | true>; args: string[] }

const HELP: Record<string, string> = {
  vhd: `Usage: hypatia vhd COMMAND [OPTIONS] ...

Virtual hard disk images (VHDX, VHD, raw).

Commands:
  create    create an image (fixed, dynamic or differencing)
  info      show format, type, sizes and parent of an image
  check     validate an image's structures (and replay a dirty log with --repair)
  convert   copy an image (and its parents) into a new image of any format
  merge     fold a differencing disk into its parent
  resize    change the virtual size of an image

Run "hypatia vhd COMMAND --help" for the options of a command.`,
  create: `Usage: hypatia vhd create [OPTIONS] FILE

Options:
  --format F                 vhdx (default for .vhdx), vhd/vpc (default for .vhd), raw
  --type T                   fixed, dynamic (default) or differencing (implied by --parent)
  --size N                   virtual size, e.g. 10G, 512M, 1T (not with --parent)
  --block-size N             block size (VHDX: 1M-256M, default 32M; VHD: default 2M)
  --parent P                 create a differencing disk on top of P
  --logical-sector-size N    512 (default) or 4096 (VHDX only)
  --physical-sector-size N   512 or 4096 (VHDX default 4096)
  -h, --help                 show this help`,
  info: `Usage: hypatia vhd info [--json] FILE

Prints format, type, virtual size, file size, block size, sector sizes and parent.`,
  check: `Usage: hypatia vhd check [--repair] FILE

Validates headers, region tables, metadata, block map and parent chain. Exits 0 if the image is sound,
1 if not. --repair opens the image read-write, which replays the log of a VHDX that was not closed cleanly.`,
  convert: `Usage: hypatia vhd convert [OPTIONS] SRC DST

Copies SRC (with its parent chain, flattened) into a new image DST.

Options:
  --format F        vhdx, vhd/vpc or raw (default: from DST's extension)
  --type T          fixed or dynamic (default dynamic)
  --block-size N    block size of DST`,
  merge: `Usage: hypatia vhd merge CHILD

Writes the data of differencing disk CHILD into its parent, then deletes CHILD.`,
  resize: `Usage: hypatia vhd resize --size N FILE

Sets the virtual size of FILE to N (e.g. 20G), or grows/shrinks it by +N/-N. Shrinking discards data past
the new end.`,
};

function parse(argv: string[], spec: Spec): Parsed {
  const opts = new Map<string, string | true>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { args.push(...argv.slice(i + 1)); break; }
    if (a === '-h' || a === '--help') { opts.set('help', true); continue; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const kind = spec.flags[name];
      if (!kind) throw new UsageError(`unknown option --${name}`);
      if (kind === 'bool') {
        if (eq > 0) throw new UsageError(`option --${name} takes no value`);
        opts.set(name, true);
      } else {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`option --${name} needs a value`);
        opts.set(name, v);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) throw new UsageError(`unknown option ${a}`);
    args.push(a);
  }
  if (!opts.has('help')) {
    const [min, max] = spec.positional;
    if (args.length < min) throw new UsageError(`missing ${min - args.length === 1 && min === 1 ? 'file' : 'argument'}`);
    if (args.length > max) throw new UsageError(`unexpected argument ${args[max]}`);
  }
  return { opts, args };
}

function str(p: Parsed, name: string): string | undefined {
  const v = p.opts.get(name);
  return typeof v === 'string' ? v : undefined;
}

function formatOf(name: string | undefined, file: string): DiskFormat {
  const f = (name ?? path.extname(file).slice(1)).toLowerCase();
  if (f === 'vhdx') return 'vhdx';
  if (f === 'vhd' || f === 'vpc') return 'vhd';
  if (f === 'raw' || f === 'img' || f === 'bin') return 'raw';
  if (name === undefined) throw new UsageError(`cannot tell the format from "${file}"; give --format vhdx|vhd|raw`);
  throw new UsageError(`unknown format "${name}" (expected vhdx, vhd or raw)`);
}

function typeOf(name: string | undefined): DiskType | undefined {
  if (name === undefined) return undefined;
  if (name === 'fixed' || name === 'dynamic' || name === 'differencing') return name;
  throw new UsageError(`unknown type "${name}" (expected fixed, dynamic or differencing)`);
}

function sizeOpt(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  return v === undefined ? undefined : parseSize(v);
}

function progressBar(label: string): Progress | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = -1;
  return (done, total) => {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    if (pct === last) return;
    last = pct;
    const width = 30;
    const fill = Math.round((pct / 100) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%`);
    if (pct >= 100) process.stderr.write('\n');
  };
}

function printInfo(i: DiskInfo): void {
  const lines: [string, string][] = [
    ['file', i.path],
    ['format', i.format],
    ['type', i.type],
    ['virtual size', `${formatSize(i.virtualSize)} (${i.virtualSize} bytes)`],
    ['file size', `${formatSize(i.fileSize)} (${i.fileSize} bytes)`],
    ['allocated', `${formatSize(i.allocatedSize)}`],
    ['block size', i.blockSize === null ? '-' : formatSize(i.blockSize)],
    ['logical sector size', `${i.logicalSectorSize}`],
    ['physical sector size', `${i.physicalSectorSize}`],
    ['parent', i.parentPath ?? '-'],
  ];
  if (i.diskId) lines.push(['disk id', i.diskId]);
  for (const [k, v] of lines) process.stdout.write(`${(k + ':').padEnd(22)}${v}\n`);
}

const COMMANDS: Record<string, { spec: Spec; run: (p: Parsed) => number }> = {
  create: {
    spec: {
      flags: { format: 'value', type: 'value', size: 'value', 'block-size': 'value', parent: 'value', 'logical-sector-size': 'value', 'physical-sector-size': 'value' },
      positional: [1, 1],
    },
    run: (p) => {
      const file = p.args[0];
      const parent = str(p, 'parent');
      const type = typeOf(str(p, 'type')) ?? (parent ? 'differencing' : 'dynamic');
      const size = sizeOpt(p, 'size');
      if (type === 'differencing' && !parent) throw new UsageError('a differencing disk needs --parent');
      if (type !== 'differencing' && size === undefined) throw new UsageError('missing --size');
      if (type === 'differencing' && size !== undefined) throw new UsageError('--size cannot be given with --parent (the child has the size of its parent)');
      const disk = createDisk(file, {
        format: formatOf(str(p, 'format'), file), type, size, parentPath: parent, blockSize: sizeOpt(p, 'block-size'),
        logicalSectorSize: sizeOpt(p, 'logical-sector-size'), physicalSectorSize: sizeOpt(p, 'physical-sector-size'),
      });
      const i = disk.info();
      disk.close();
      process.stdout.write(`created ${file}: ${i.format} ${i.type}, ${formatSize(i.virtualSize)}${i.parentPath ? `, parent ${i.parentPath}` : ''}\n`);
      return 0;
    },
  },
  info: {
    spec: { flags: { json: 'bool' }, positional: [1, 1] },
    run: (p) => {
      const disk = openDisk(p.args[0], { readOnly: true });
      try {
        const i = disk.info();
        if (p.opts.has('json')) process.stdout.write(JSON.stringify(i, null, 2) + '\n');
        else printInfo(i);
      } finally {
        disk.close();
      }
      return 0;
    },
  },
  check: {
    spec: { flags: { repair: 'bool' }, positional: [1, 1] },
    run: (p) => {
      const r = checkImage(p.args[0], { repair: p.opts.has('repair') });
      for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
      if (r.ok) {
        process.stdout.write(`${p.args[0]}: no errors found (${r.info?.format} ${r.info?.type})\n`);
        return 0;
      }
      for (const e of r.errors) process.stdout.write(`error: ${e}\n`);
      return 1;
    },
  },
  convert: {
    spec: { flags: { format: 'value', type: 'value', 'block-size': 'value' }, positional: [2, 2] },
    run: (p) => {
      const [src, dst] = p.args;
      const type = typeOf(str(p, 'type'));
      if (type === 'differencing') throw new UsageError('convert makes standalone images (--type fixed or dynamic)');
      convertImage(src, dst, { format: formatOf(str(p, 'format'), dst), type, blockSize: sizeOpt(p, 'block-size'), onProgress: progressBar('converting') });
      process.stdout.write(`converted ${src} -> ${dst}\n`);
      return 0;
    },
  },
  merge: {
    spec: { flags: {}, positional: [1, 1] },
    run: (p) => {
      const { parentPath } = mergeIntoParent(p.args[0], { onProgress: progressBar('merging') });
      process.stdout.write(`merged ${p.args[0]} into ${parentPath}\n`);
      return 0;
    },
  },
  resize: {
    spec: { flags: { size: 'value' }, positional: [1, 1] },
    run: (p) => {
      const text = str(p, 'size');
      if (text === undefined) throw new UsageError('missing --size');
      const disk = openDisk(p.args[0]);
      try {
        const rel = text.startsWith('+') ? 1 : text.startsWith('-') ? -1 : 0;
        const n = parseSize(rel ? text.slice(1) : text);
        const target = rel ? disk.capacity + rel * n : n;
        disk.resize(target);
        process.stdout.write(`resized ${p.args[0]} to ${formatSize(disk.capacity)} (${disk.capacity} bytes)\n`);
      } finally {
        disk.close();
      }
      return 0;
    },
  },
};

/** Entry point for `hypatia vhd ...`; returns the exit status. */
export async function vhdCommand(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    (cmd === undefined ? process.stderr : process.stdout).write(HELP.vhd + '\n');
    return cmd === undefined ? 2 : 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`hypatia vhd: unknown command "${cmd}" (try hypatia vhd --help)\n`);
    return 2;
  }
  try {
    const p = parse(rest, c.spec);
    if (p.opts.has('help')) {
      process.stdout.write(HELP[cmd] + '\n');
      return 0;
    }
    return c.run(p);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`hypatia vhd ${cmd}: ${e.message} (try hypatia vhd ${cmd} --help)\n`);
      return 2;
    }
    if (e instanceof StorageError) {
      process.stderr.write(`hypatia vhd ${cmd}: ${e.message}\n`);
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`hypatia vhd ${cmd}: internal error: ${msg}\n`);
    return 70;
  }
}
