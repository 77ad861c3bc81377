// `hypatia run --control`'s shutdown deadline: a shutdown asked through the socket gives the guest the run's
// --shutdown-timeout to power off, as SIGTERM does, and then stops the VM; a reboot has no deadline. The worker
// is a stand-in (a guest that accepts the request and never powers off is what this is about); the socket,
// the server and the target are the real ones.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startControl } from '../../src/cli/run-control.js';
import type { VmWorker } from '../../src/vmwp/index.js';

function ask(sock: string, req: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(sock);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) { s.end(); resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>); }
    });
    s.on('error', reject);
    s.write(`${JSON.stringify(req)}\n`);
  });
}

test('a shutdown through the control socket stops the VM after the shutdown timeout if the guest never powers off; a reboot does not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypatia-run-control-'));
  const stops: string[] = [];
  const requests: string[] = [];
  const logs: string[] = [];
  const worker = {
    boots: 1,
    integration: { shutdown: { phase: 'ready', request: (kind: string, reason: string) => { requests.push(`${kind}:${reason}`); return true; } } },
    requestStop: (reason: string) => { stops.push(reason); },
    inspect: () => ({}),
  } as unknown as VmWorker;
  const sock = join(dir, 'vm.sock');
  const server = await startControl(sock, worker, {}, (l) => logs.push(l), 300);
  try {
    assert.deepEqual(await ask(sock, { op: 'reboot', reason: 'r' }), { id: null, ok: true, result: { requested: 'reboot' } });
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(stops, [], 'a reboot sets no deadline');
    const t0 = Date.now();
    assert.deepEqual(await ask(sock, { op: 'shutdown', reason: 's' }), { id: null, ok: true, result: { requested: 'shutdown' } });
    assert.deepEqual(await ask(sock, { op: 'shutdown', reason: 's2' }), { id: null, ok: true, result: { requested: 'shutdown' } });
    while (stops.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    const waited = Date.now() - t0;
    assert.deepEqual(stops, ['host'], 'stopped once, as a management request');
    assert.ok(waited >= 290 && waited < 2000, `stopped ${waited} ms after the request (timeout 300 ms)`);
    assert.deepEqual(requests, ['reboot:r', 'shutdown:s', 'shutdown:s2']);
    assert.deepEqual(logs.filter((l) => l.includes('did not power off')), ['the guest did not power off within 0.3 s of "vm shutdown"; stopping the VM']);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
