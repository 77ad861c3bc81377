// Kernel module dependency resolution: a synthetic modules.dep (order, each module once, cycles, missing and
// built-in modules), random dependency graphs against an independent closure, and a modules tree without
// modules.dep indexed from .modinfo sections of real ELF objects built by cc (plain, xz'd by xz, gzip'd).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  GuestImageError, indexFromModulesDep, loadModuleIndex, modInfoDepends, moduleName, parseModulesDep, readModInfo,
  readModuleFile, resolveModules,
} from '../../src/guest-images/index.js';
import { ensureDebianTool } from './debian-tools.js';

const MODULES_DEP = `# a synthetic modules.dep in depmod's format
kernel/drivers/hv/hv_vmbus.ko.xz:
kernel/drivers/hv/hv_utils.ko.xz: kernel/drivers/hv/hv_vmbus.ko.xz
kernel/drivers/scsi/scsi_common.ko:
kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_transport_fc.ko kernel/drivers/scsi/scsi_mod.ko kernel/drivers/hv/hv_vmbus.ko.xz kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/scsi_transport_fc.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko

kernel/drivers/hid/hid-hyperv.ko: kernel/drivers/hid/hid.ko kernel/drivers/hv/hv_vmbus.ko.xz
kernel/drivers/hid/hid.ko:
kernel/a/cyc1.ko: kernel/a/cyc2.ko
kernel/a/cyc2.ko: kernel/a/cyc3.ko
kernel/a/cyc3.ko: kernel/a/cyc1.ko
kernel/a/needs-missing.ko: kernel/a/ghost.ko
kernel/a/uses-builtin.ko: kernel/lib/crc32c.ko
`;
const MODULES_BUILTIN = 'kernel/lib/crc32c.ko\nkernel/drivers/hid/usbhid.ko\n';

describe('modules.dep resolution', () => {
  const index = indexFromModulesDep(MODULES_DEP, MODULES_BUILTIN);

  it('names modules as the kernel does', () => {
    assert.equal(moduleName('hid-hyperv'), 'hid_hyperv');
    assert.equal(moduleName('kernel/drivers/hid/hid-hyperv.ko.xz'), 'hid_hyperv');
    assert.equal(moduleName('hv_vmbus.ko.zst'), 'hv_vmbus');
    assert.equal(moduleName('x/y/scsi_mod.ko.gz'), 'scsi_mod');
    assert.equal(index.pathOf('hyperv_keyboard'), undefined);
    assert.equal(index.pathOf('hid-hyperv'), 'kernel/drivers/hid/hid-hyperv.ko');
  });

  it('orders dependencies first, each module once, in a stable order', () => {
    const r = resolveModules(index, ['hv_storvsc', 'hid-hyperv', 'hv_vmbus']);
    assert.deepEqual(r.order.map((m) => m.name), ['scsi_common', 'scsi_mod', 'scsi_transport_fc', 'hv_vmbus', 'hv_storvsc', 'hid', 'hid_hyperv']);
    assert.deepEqual(r.order.filter((m) => m.requested).map((m) => m.name), ['hv_vmbus', 'hv_storvsc', 'hid_hyperv']);
    assert.equal(r.order.find((m) => m.name === 'hv_vmbus')!.path, 'kernel/drivers/hv/hv_vmbus.ko.xz');
    assert.deepEqual(r.builtin, []);
  });

  it('reports built-in modules instead of loading them', () => {
    const r = resolveModules(index, ['uses-builtin', 'usbhid']);
    assert.deepEqual(r.order.map((m) => m.name), ['uses_builtin']);
    assert.deepEqual(r.builtin, ['crc32c', 'usbhid']);
  });

  it('names the chain that needs a missing module, and a cycle', () => {
    assert.throws(() => resolveModules(index, ['needs_missing']), (e: unknown) => e instanceof GuestImageError && /module ghost not found \(needed via needs_missing\)/.test(e.message));
    assert.throws(() => resolveModules(index, ['no-such-module']), (e: unknown) => e instanceof GuestImageError && /module no_such_module not found$/.test(e.message));
    assert.throws(() => resolveModules(index, ['cyc2']), (e: unknown) => e instanceof GuestImageError && /cycle: cyc2 -> cyc3 -> cyc1 -> cyc2/.test(e.message));
  });

  it('rejects malformed modules.dep lines', () => {
    assert.throws(() => parseModulesDep('kernel/a.ko kernel/b.ko\n'), GuestImageError);
    assert.throws(() => parseModulesDep('kernel/a.txt:\n'), GuestImageError);
    assert.equal(parseModulesDep('\n# only a comment\n\n').size, 0);
  });

  it('random dependency graphs: every module after its dependencies, exactly the closure, once each', () => {
    let seed = 12345;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let round = 0; round < 200; round++) {
      const n = 2 + rnd(30);
      // Edges only to lower-numbered modules: a DAG. modules.dep lists the full closure, as depmod does.
      const direct: number[][] = [];
      for (let i = 0; i < n; i++) {
        const ds = new Set<number>();
        for (let k = rnd(4); k > 0 && i > 0; k--) ds.add(rnd(i));
        direct.push([...ds]);
      }
      const closure = (i: number, seen = new Set<number>()): Set<number> => {
        for (const d of direct[i]) if (!seen.has(d)) { seen.add(d); closure(d, seen); }
        return seen;
      };
      const name = (i: number) => `m${i}${i % 3 === 0 ? '-x' : ''}`;
      const text = direct.map((_, i) => `kernel/m/${name(i)}.ko: ${[...closure(i)].map((d) => `kernel/m/${name(d)}.ko`).join(' ')}`).join('\n');
      const wanted = Array.from({ length: 1 + rnd(4) }, () => rnd(n));
      const r = resolveModules(indexFromModulesDep(text), wanted.map(name));
      const expected = new Set<number>();
      for (const w of wanted) { expected.add(w); for (const d of closure(w)) expected.add(d); }
      const got = r.order.map((m) => Number(/^m(\d+)/.exec(m.name)![1]));
      assert.equal(new Set(got).size, got.length, 'each module once');
      assert.deepEqual([...got].sort((a, b) => a - b), [...expected].sort((a, b) => a - b), 'exactly the closure');
      got.forEach((m, pos) => {
        for (const d of direct[m]) assert.ok(got.indexOf(d) < pos, `m${d} before m${m}`);
      });
    }
  });
});

describe('modules without modules.dep: .modinfo of real ELF objects', () => {
  let dir: string;
  let modules: string;
  const objs = new Map<string, Buffer>();

  /** A relocatable object with a .modinfo section, as modpost leaves in a .ko. */
  function buildModule(name: string, fields: string[]): Buffer {
    const src = path.join(dir, `${name}.c`);
    const vars = fields.map((f, i) => `__attribute__((section(".modinfo"), used, aligned(1))) static const char mi${i}[] = ${JSON.stringify(f)};`);
    fs.writeFileSync(src, `${vars.join('\n')}\nint ${name.replace(/-/g, '_')}_init(void) { return 0; }\n`);
    const out = path.join(dir, `${name}.o`);
    execFileSync('cc', ['-c', '-O0', '-o', out, src]);
    return fs.readFileSync(out);
  }

  before(() => {
    ensureDebianTool('xz', 'xz-utils');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-mods-'));
    modules = path.join(dir, 'lib', 'modules', '6.1.0-test');
    const put = (rel: string, data: Buffer) => {
      fs.mkdirSync(path.dirname(path.join(modules, rel)), { recursive: true });
      fs.writeFileSync(path.join(modules, rel), data);
    };
    objs.set('a', buildModule('a', ['license=GPL', 'depends=b,c-dash', 'name=a', 'vermagic=6.1.0-test SMP']));
    objs.set('b', buildModule('b', ['depends=c-dash', 'name=b']));
    objs.set('c_dash', buildModule('c-dash', ['depends=', 'name=c_dash']));
    objs.set('f', buildModule('f', ['depends=e', 'name=f']));
    put('kernel/x/a.ko', objs.get('a')!);
    put('kernel/y/b.ko', objs.get('b')!);
    execFileSync('xz', ['-k', path.join(modules, 'kernel/y/b.ko')]);
    fs.rmSync(path.join(modules, 'kernel/y/b.ko'));
    put('kernel/z/c-dash.ko.gz', gzipSync(objs.get('c_dash')!));
    put('kernel/x/f.ko', objs.get('f')!);
    fs.writeFileSync(path.join(modules, 'modules.builtin'), 'kernel/x/e.ko\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the depends= field cc put in .modinfo', () => {
    const fields = readModInfo(objs.get('a')!);
    assert.deepEqual(fields.map((f) => `${f.key}=${f.value}`), ['license=GPL', 'depends=b,c-dash', 'name=a', 'vermagic=6.1.0-test SMP']);
    assert.deepEqual(modInfoDepends(fields), ['b', 'c-dash']);
    assert.deepEqual(modInfoDepends(readModInfo(objs.get('c_dash')!)), []);
  });

  it('decompresses .ko.xz (xz), .ko.zst (zstd) and .ko.gz (zlib) back to the exact object', () => {
    assert.ok(readModuleFile(path.join(modules, 'kernel/y/b.ko.xz')).equals(objs.get('b')!));
    assert.ok(readModuleFile(path.join(modules, 'kernel/z/c-dash.ko.gz')).equals(objs.get('c_dash')!));
    ensureDebianTool('zstd', 'zstd');
    const plain = path.join(dir, 'zst-a.ko');
    fs.writeFileSync(plain, objs.get('a')!);
    execFileSync('zstd', ['-q', plain]);
    assert.ok(readModuleFile(`${plain}.zst`).equals(objs.get('a')!));
  });

  it('resolves through modinfo when there is no modules.dep', () => {
    const index = loadModuleIndex(modules);
    const r = resolveModules(index, ['a', 'f']);
    assert.deepEqual(r.order.map((m) => [m.name, m.path]), [
      ['c_dash', 'kernel/z/c-dash.ko.gz'], ['b', 'kernel/y/b.ko.xz'], ['a', 'kernel/x/a.ko'], ['f', 'kernel/x/f.ko'],
    ]);
    assert.deepEqual(r.builtin, ['e']);
  });

  it('says clearly when xz is missing', () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(dir, 'empty-path');
    try {
      assert.throws(() => readModuleFile(path.join(modules, 'kernel/y/b.ko.xz')),
        (e: unknown) => e instanceof GuestImageError && e.code === 'tool' && /^xz not found: .*apt-get install xz-utils/.test(e.message));
    } finally {
      process.env.PATH = saved;
    }
  });

  it('rejects files that are not modules', () => {
    assert.throws(() => readModInfo(Buffer.from('#!/bin/sh\n')), (e: unknown) => e instanceof GuestImageError && /not an ELF/.test(e.message));
    const plain = path.join(dir, 'plain.c');
    fs.writeFileSync(plain, 'int x(void) { return 1; }\n');
    execFileSync('cc', ['-c', '-o', `${plain}.o`, plain]);
    assert.throws(() => readModInfo(fs.readFileSync(`${plain}.o`)), (e: unknown) => e instanceof GuestImageError && /no \.modinfo/.test(e.message));
    const truncated = objs.get('a')!.subarray(0, 80);
    assert.throws(() => readModInfo(truncated), GuestImageError);
  });
});
