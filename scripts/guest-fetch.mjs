#!/usr/bin/env node
// npm run guest:fetch [-- options]: `hypatia guest fetch` (see `hypatia guest --help`). Builds dist/ first if
// it is missing (a fresh clone before npm ci), so the command works from any checkout.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The guest command alone: it loads nothing of the hypervisor stack.
const cli = join(root, 'dist', 'src', 'cli', 'guest-command.js');
if (!existsSync(cli) || !existsSync(join(root, 'dist', 'src', 'guest-images', 'index.js'))) {
  const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const { guestCommand } = await import(pathToFileURL(cli).href);
process.exitCode = await guestCommand(['fetch', ...process.argv.slice(2)]);
