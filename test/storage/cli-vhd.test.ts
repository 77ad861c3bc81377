// hypatia vhd ...: each subcommand end to end in a child process (as the real CLI runs it), checking output,
// exit status and that errors are one clear line without a stack trace.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, scratchDir } from './helpers.js';
import { ensureQemuTools, qemuCheckClean, qemuImgOk, qemuIo } from './qemu-tools.js';

const cliModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/vhd.js');
let dir = '';
before(() => { ensureQemuTools(); dir = scratchDir('cli'); });
after(() => removeDir(dir));

function vhd(...args: string[]): { status: number; stdout: string; stderr: string } {
  const script = `import(${JSON.stringify(cliModule)}).then(async (m) => { process.exitCode = await m.vhdCommand(process.argv.slice(1)); });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { encoding: 'utf8', cwd: dir });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function oneLineError(r: { status: number; stderr: string }, re: RegExp): void {
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe('hypatia vhd', () => {
  it('create, info, check, resize, convert and merge', () => {
    let r = vhd('create', '--format', 'vhdx', '--type', 'dynamic', '--size', '64M', '--block-size', '8M', 'base.vhdx');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /created base\.vhdx: vhdx dynamic, 64 MiB/);
    qemuCheckClean(path.join(dir, 'base.vhdx'), 'vhdx');
    r = vhd('info', 'base.vhdx');
    assert.equal(r.status, 0, r.stderr);
    for (const re of [/format:\s+vhdx/, /type:\s+dynamic/, /virtual size:\s+64 MiB \(67108864 bytes\)/, /file size:/, /block size:\s+8 MiB/, /logical sector size:\s+512/, /physical sector size:\s+4096/, /parent:\s+-/]) assert.match(r.stdout, re);
    qemuIo(path.join(dir, 'base.vhdx'), 'vhdx', ['write -P 65 1048576 65536']);
    r = vhd('create', '--parent', 'base.vhdx', 'child.vhdx');
    assert.equal(r.status, 0, r.stderr);
    r = vhd('info', '--json', 'child.vhdx');
    const info = JSON.parse(r.stdout);
    assert.equal(info.type, 'differencing');
    assert.equal(info.parentPath, path.join(fs.realpathSync(dir), 'base.vhdx'));
    r = vhd('check', 'child.vhdx');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /no errors found/);
    r = vhd('convert', 'child.vhdx', 'flat.vhd', '--type', 'fixed');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
    qemuIo(path.join(dir, 'flat.vhd'), 'vpc', ['read -P 65 1048576 65536', 'read -P 0 0 1048576']);
    r = vhd('merge', 'child.vhdx');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(dir, 'child.vhdx')));
    r = vhd('resize', '--size', '+64M', 'base.vhdx');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /128 MiB \(134217728 bytes\)/);
    assert.equal(JSON.parse(qemuImgOk('info', '--output=json', path.join(dir, 'base.vhdx')))['virtual-size'], 128 * 1024 * 1024);
    qemuCheckClean(path.join(dir, 'base.vhdx'), 'vhdx');
  });

  it('--help on every command', () => {
    for (const c of [[], ['create'], ['info'], ['check'], ['convert'], ['merge'], ['resize']]) {
      const r = vhd(...c, '--help');
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^Usage: hypatia vhd/);
    }
  });

  it('bad input gives one clear line and a non-zero status', () => {
    oneLineError(vhd('frobnicate'), /unknown command "frobnicate"/);
    oneLineError(vhd('create', '--size', '10Q', 'x.vhdx'), /bad size "10Q"/);
    oneLineError(vhd('create', 'x.vhdx'), /missing --size/);
    oneLineError(vhd('create', '--bogus', 'x.vhdx'), /unknown option --bogus/);
    oneLineError(vhd('create', '--size', '1G', '--block-size', '3M', 'x.vhdx'), /block size 3145728 must be a power of two/);
    oneLineError(vhd('info', 'missing.vhdx'), /cannot open missing\.vhdx: no such file/);
    oneLineError(vhd('merge', 'base.vhdx'), /is not a differencing disk/);
    fs.writeFileSync(path.join(dir, 'bad.vhdx'), Buffer.concat([Buffer.from('vhdxfile'), Buffer.alloc(2 * 1024 * 1024)]));
    oneLineError(vhd('info', 'bad.vhdx'), /^hypatia vhd info: vhdx: no valid header/);
    const r = vhd('check', 'bad.vhdx');
    assert.equal(r.status, 1);
    assert.match(r.stdout, /error: vhdx: no valid header/);
  });
});
