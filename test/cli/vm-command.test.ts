// `hypatia vm` as a user runs it, against a control server in this process whose target is a stub (the real
// VM behind the socket is test/linux/integration-services.test.ts's): each command's request, output and exit
// status, usage errors as one line with status 2, an absent or dead socket as status 3, and the --help text.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ControlError, ControlServer, type ControlTarget } from '../../src/vmwp/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The CLI's main from this build (shared dist/ or a private one), as bin/hypatia.js runs it. */
const RUNNER = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(2));\n`;
let runner: string;

function hypatia(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [runner, ...args], { env: { ...process.env, HYPATIA_CONTROL: '', ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

let dir: string;
let sock: string;
let server: ControlServer;
const pools = [0, 1, 2, 3, 4].map(() => new Map<string, string>());
const calls: string[] = [];
let alive = true;
let shutdownAvailable = true;

const target: ControlTarget = {
  status: () => ({ state: 'running', boots: 1, integration: { heartbeat: { phase: 'ready', service: '3.0' } } }),
  heartbeat: () => ({ alive, lastSequence: alive ? 42 : null, lastResponseAt: alive ? Date.now() - 1500 : null }),
  kvpGet: async (pool, key) => pools[pool].get(key),
  kvpEnumerate: async (pool) => [...pools[pool]].map(([key, value]) => ({ key, value })),
  kvpSet: async (pool, key, value) => { calls.push(`set ${pool} ${key}=${value}`); pools[pool].set(key, value); },
  kvpDelete: async (pool, key) => pools[pool].delete(key),
  shutdown: (kind, reason) => {
    if (!shutdownAvailable) throw new ControlError('unavailable', 'the guest has not negotiated the shutdown service (hv_utils not loaded?)');
    calls.push(`${kind} "${reason}"`);
    return { requested: kind };
  },
  stop: () => { calls.push('stop'); return { stopping: true }; },
};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-vmcli-'));
  sock = path.join(dir, 'vm.sock');
  runner = path.join(dir, 'hypatia.mjs');
  fs.writeFileSync(runner, RUNNER);
  server = await ControlServer.listen(sock, target);
});
after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('hypatia vm', () => {
  it('--help names every command and option; hypatia --help lists vm', async () => {
    const h = await hypatia(['vm', '--help']);
    assert.equal(h.status, 0);
    for (const w of ['status', 'heartbeat', 'kvp get', 'kvp set', 'kvp delete', 'shutdown', 'reboot', 'stop', '--control <socket>', '--pool <P>', '--json', '--timeout', 'HYPATIA_CONTROL', 'Exit status']) {
      assert.ok(h.stdout.includes(w), `help mentions ${w}`);
    }
    assert.match((await hypatia(['--help'])).stdout, /^ {2}vm {6}control a running VM/m);
    assert.equal((await hypatia(['help', 'vm'])).stdout, h.stdout);
  });

  it('kvp set, get, enumerate and delete, with pools by number or name and the documented defaults', async () => {
    const set = await hypatia(['vm', 'kvp', 'set', '--control', sock, 'Color', 'blue green']);
    assert.deepEqual([set.status, set.stdout, set.stderr], [0, '', '']);
    assert.equal(pools[0].get('Color'), 'blue green', 'set defaults to pool 0 (external)');
    const inGuestPool = await hypatia(['vm', 'kvp', 'set', `--control=${sock}`, '--pool', 'guest', 'Who', 'me']);
    assert.equal(inGuestPool.status, 0);
    assert.equal(pools[1].get('Who'), 'me');
    const get = await hypatia(['vm', 'kvp', 'get', '--control', sock, 'Who']);
    assert.deepEqual([get.status, get.stdout], [0, 'me\n'], 'get defaults to pool 1 (guest)');
    const get0 = await hypatia(['vm', 'kvp', 'get', '--control', sock, '--pool', '0', 'Color']);
    assert.deepEqual([get0.status, get0.stdout], [0, 'blue green\n']);
    const missing = await hypatia(['vm', 'kvp', 'get', '--control', sock, 'Nope']);
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, 'hypatia vm: no key "Nope" in pool guest (1)\n');
    pools[2].set('OSName', 'Linux');
    pools[2].set('OSVersion', '6.1.0');
    const all = await hypatia(['vm', 'kvp', 'get', '--control', sock, '--pool', 'auto']);
    assert.deepEqual([all.status, all.stdout], [0, 'OSName=Linux\nOSVersion=6.1.0\n']);
    const json = await hypatia(['vm', 'kvp', 'get', '--control', sock, '--pool', '2', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), { pool: 2, items: [{ key: 'OSName', value: 'Linux' }, { key: 'OSVersion', value: '6.1.0' }] });
    assert.equal((await hypatia(['vm', 'kvp', 'delete', '--control', sock, 'Color'])).status, 0);
    assert.equal(pools[0].has('Color'), false);
    const again = await hypatia(['vm', 'kvp', 'delete', '--control', sock, 'Color']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no key "Color" in pool external \(0\)/);
  });

  it('heartbeat exits 0 when the guest is alive and 1 when not; $HYPATIA_CONTROL stands for --control', async () => {
    alive = true;
    const yes = await hypatia(['vm', 'heartbeat'], { HYPATIA_CONTROL: sock });
    assert.equal(yes.status, 0, yes.stderr);
    assert.match(yes.stdout, /^alive: yes, last sequence 42, last answer 1\.\d s ago\n$/);
    alive = false;
    const no = await hypatia(['vm', 'heartbeat', '--control', sock]);
    assert.deepEqual([no.status, no.stdout], [1, 'alive: no, last sequence none, no answer yet\n']);
    alive = true;
  });

  it('status, shutdown, reboot and stop', async () => {
    const st = await hypatia(['vm', 'status', '--control', sock]);
    assert.equal(st.status, 0);
    assert.equal(st.stdout, 'state: running\nboots: 1\nintegration.heartbeat.phase: ready\nintegration.heartbeat.service: 3.0\n');
    calls.length = 0;
    assert.equal((await hypatia(['vm', 'shutdown', '--control', sock, '--reason', 'patching'])).status, 0);
    assert.equal((await hypatia(['vm', 'reboot', '--control', sock])).status, 0);
    assert.equal((await hypatia(['vm', 'stop', '--control', sock])).status, 0);
    assert.deepEqual(calls, ['shutdown "patching"', 'reboot ""', 'stop']);
    shutdownAvailable = false;
    const un = await hypatia(['vm', 'shutdown', '--control', sock]);
    assert.equal(un.status, 1);
    assert.equal(un.stderr, 'hypatia vm: unavailable: the guest has not negotiated the shutdown service (hv_utils not loaded?)\n');
    shutdownAvailable = true;
  });

  it('bad usage is one line and status 2; a missing or dead socket is status 3', async () => {
    const usage: string[][] = [
      ['vm'], ['vm', 'status'], ['vm', 'frobnicate', '--control', sock], ['vm', 'kvp', '--control', sock],
      ['vm', 'kvp', 'set', '--control', sock, 'onlykey'], ['vm', 'kvp', 'get', '--control', sock, 'a', 'b'],
      ['vm', 'kvp', 'get', '--control', sock, '--pool', '9'], ['vm', 'status', '--control', sock, '--pool', '1'],
      ['vm', 'heartbeat', '--control', sock, 'extra'], ['vm', 'status', '--control', sock, '--timeout', '0'],
      ['vm', 'status', '--control'], ['vm', 'status', '--control', sock, '--bogus'],
    ];
    for (const args of usage) {
      const r = await hypatia(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^hypatia vm: [^\n]+\(see hypatia vm --help\)\n$/, args.join(' '));
    }
    const gone = await hypatia(['vm', 'status', '--control', path.join(dir, 'nothing.sock')]);
    assert.deepEqual([gone.status, gone.stderr], [3, `hypatia vm: ${path.join(dir, 'nothing.sock')}: no such socket\n`]);
    const dead = path.join(dir, 'dead.sock');
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(dead)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    const refused = await hypatia(['vm', 'status', '--control', dead]);
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /nothing listens there/);
  });
});
