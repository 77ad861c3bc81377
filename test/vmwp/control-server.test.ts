// The control socket's plumbing against a stub target (the real target, a booted guest's integration services,
// is exercised by test/linux/integration-services.test.ts): requests and replies line by line over a real Unix
// socket, ids echoed, every kind of garbage a local user can send answered with an error reply and the server
// still serving, over-long lines cut off, too many queued requests refused, target failures mapped to codes,
// the socket file 0600, a stale one replaced, a live one left alone.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlError, ControlServer, MAX_REQUEST_BYTES, parseRequest, type ControlTarget } from '../../src/vmwp/index.js';

class KvpLikeError extends Error {
  constructor(readonly code: string, message: string) { super(message); }
}

function stubTarget(): ControlTarget & { pools: Map<string, string>[]; shutdowns: string[]; stops: number } {
  const pools = [0, 1, 2, 3, 4].map(() => new Map<string, string>());
  const t = {
    pools,
    shutdowns: [] as string[],
    stops: 0,
    status: () => ({ state: 'running', boots: 1 }),
    heartbeat: () => ({ alive: true, lastSequence: 7, lastResponseAt: 1234 }),
    kvpGet: async (pool: number, key: string) => {
      if (key === 'slow') await new Promise((r) => setTimeout(r, 50));
      if (key === 'timeout') throw new KvpLikeError('timeout', 'the guest did not answer');
      if (key === 'throw') throw new Error('boom\nsecond line');
      return pools[pool].get(key);
    },
    kvpEnumerate: async (pool: number) => [...pools[pool]].map(([key, value]) => ({ key, value })),
    kvpSet: async (pool: number, key: string, value: string) => { pools[pool].set(key, value); },
    kvpDelete: async (pool: number, key: string) => pools[pool].delete(key),
    shutdown: (kind: 'shutdown' | 'reboot', reason: string) => {
      if (reason === 'no-ic') throw new ControlError('unavailable', 'the guest has not negotiated the shutdown service');
      t.shutdowns.push(`${kind}:${reason}`);
      return { requested: kind };
    },
    stop: () => { t.stops++; return { stopping: true }; },
  };
  return t;
}

/** A client that sends raw bytes and collects reply lines. */
class Client {
  private buf = '';
  private readonly waiters: ((line: string) => void)[] = [];
  readonly lines: string[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiters.shift();
        if (w) w(line); else this.lines.push(line);
      }
    });
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => {});
  }
  static connect(p: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = createConnection(p);
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  send(text: string): void { this.socket.write(text); }
  next(): Promise<Record<string, unknown>> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within 5 s')), 5000);
      this.waiters.push((line) => { clearTimeout(timer); resolve(JSON.parse(line)); });
    });
  }
  async ask(req: unknown): Promise<Record<string, unknown>> {
    this.send(`${JSON.stringify(req)}\n`);
    return this.next();
  }
  close(): void { this.socket.destroy(); }
}

let dir: string;
let sock: string;
let server: ControlServer;
let target: ReturnType<typeof stubTarget>;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-control-'));
  sock = path.join(dir, 'vm.sock');
  target = stubTarget();
  server = await ControlServer.listen(sock, target, { maxConnections: 4, maxQueued: 4 });
});
after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('control socket', () => {
  it('is a socket only its owner may open', () => {
    const st = fs.statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  it('answers each operation, echoing ids', async () => {
    const c = await Client.connect(sock);
    try {
      assert.deepEqual(await c.ask({ id: 1, op: 'status' }), { id: 1, ok: true, result: { state: 'running', boots: 1 } });
      assert.deepEqual(await c.ask({ id: 'hb', op: 'heartbeat' }), { id: 'hb', ok: true, result: { alive: true, lastSequence: 7, lastResponseAt: 1234 } });
      assert.deepEqual(await c.ask({ id: 2, op: 'kvp-set', pool: 0, key: 'k', value: 'v é ✓' }), { id: 2, ok: true, result: { pool: 0, key: 'k' } });
      assert.equal(target.pools[0].get('k'), 'v é ✓');
      assert.deepEqual(await c.ask({ id: 3, op: 'kvp-get', pool: 'external', key: 'k' }), { id: 3, ok: true, result: { pool: 0, key: 'k', value: 'v é ✓' } });
      assert.deepEqual(await c.ask({ id: 4, op: 'kvp-get', pool: 1, key: 'k' }), { id: 4, ok: true, result: { pool: 1, key: 'k', value: null } });
      assert.deepEqual(await c.ask({ op: 'kvp-enumerate', pool: 0 }), { id: null, ok: true, result: { pool: 0, items: [{ key: 'k', value: 'v é ✓' }] } });
      assert.deepEqual(await c.ask({ op: 'kvp-delete', pool: 0, key: 'k' }), { id: null, ok: true, result: { pool: 0, key: 'k', deleted: true } });
      assert.deepEqual(await c.ask({ op: 'shutdown', reason: 'maintenance' }), { id: null, ok: true, result: { requested: 'shutdown' } });
      assert.deepEqual(await c.ask({ op: 'reboot' }), { id: null, ok: true, result: { requested: 'reboot' } });
      assert.deepEqual(target.shutdowns, ['shutdown:maintenance', 'reboot:']);
      assert.deepEqual(await c.ask({ op: 'stop' }), { id: null, ok: true, result: { stopping: true } });
      assert.equal(target.stops, 1);
    } finally { c.close(); }
  });

  it('answers garbage with error replies and keeps serving the same connection', async () => {
    const c = await Client.connect(sock);
    try {
      const cases: [string, string][] = [
        ['not json', 'bad-request'],
        ['[1,2]', 'bad-request'],
        ['"status"', 'bad-request'],
        ['null', 'bad-request'],
        ['{}', 'bad-request'],
        ['{"op":42}', 'bad-request'],
        ['{"op":"format-disk"}', 'unknown-op'],
        ['{"op":"__proto__"}', 'unknown-op'],
        ['{"op":"kvp-get","pool":5,"key":"k"}', 'bad-request'],
        ['{"op":"kvp-get","pool":-1,"key":"k"}', 'bad-request'],
        ['{"op":"kvp-get","pool":1.5,"key":"k"}', 'bad-request'],
        ['{"op":"kvp-get","pool":"guests","key":"k"}', 'bad-request'],
        ['{"op":"kvp-get","pool":1}', 'bad-request'],
        ['{"op":"kvp-get","pool":1,"key":""}', 'bad-request'],
        ['{"op":"kvp-get","pool":1,"key":["k"]}', 'bad-request'],
        [`{"op":"kvp-get","pool":1,"key":"${'k'.repeat(256)}"}`, 'bad-request'],
        ['{"op":"kvp-set","pool":0,"key":"a\\u0000b","value":"v"}', 'bad-request'],
        ['{"op":"kvp-set","pool":0,"key":"k"}', 'bad-request'],
        [`{"op":"kvp-set","pool":0,"key":"k","value":"${'v'.repeat(1024)}"}`, 'bad-request'],
        ['{"op":"shutdown","reason":7}', 'bad-request'],
      ];
      for (const [line, code] of cases) {
        c.send(`${line}\n`);
        const r = await c.next();
        assert.equal(r.ok, false, line);
        assert.equal((r.error as { code: string }).code, code, line);
        assert.equal(typeof (r.error as { message: string }).message, 'string');
      }
      assert.equal(target.pools[0].size, 0, 'nothing was set by a refused request');
      // A bad id is dropped, not echoed; a good request still works afterwards.
      assert.deepEqual(await c.ask({ id: { x: 1 }, op: 'status' }), { id: null, ok: true, result: { state: 'running', boots: 1 } });
      assert.equal((await c.ask({ id: 'x'.repeat(65), op: 'status' })).id, null);
      // Blank lines and CRLF are tolerated.
      c.send('\n\r\n{"id":9,"op":"status"}\r\n');
      assert.equal((await c.next()).id, 9);
    } finally { c.close(); }
  });

  it('maps target failures to error codes and one-line messages', async () => {
    const c = await Client.connect(sock);
    try {
      const t = await c.ask({ id: 1, op: 'kvp-get', pool: 1, key: 'timeout' });
      assert.deepEqual(t, { id: 1, ok: false, error: { code: 'timeout', message: 'the guest did not answer' } });
      const i = await c.ask({ id: 2, op: 'kvp-get', pool: 1, key: 'throw' });
      assert.deepEqual(i, { id: 2, ok: false, error: { code: 'internal', message: 'boom' } });
      const u = await c.ask({ id: 3, op: 'shutdown', reason: 'no-ic' });
      assert.deepEqual(u, { id: 3, ok: false, error: { code: 'unavailable', message: 'the guest has not negotiated the shutdown service' } });
    } finally { c.close(); }
  });

  it('answers pipelined requests in order, even a request split across writes', async () => {
    const c = await Client.connect(sock);
    try {
      c.send('{"id":1,"op":"kvp-get","pool":1,"key":"slow"}\n{"id":2,"op":"status"}\n{"id":3,"op":"hea');
      await new Promise((r) => setTimeout(r, 20));
      c.send('rtbeat"}\n');
      assert.equal((await c.next()).id, 1);
      assert.equal((await c.next()).id, 2);
      assert.equal((await c.next()).id, 3);
    } finally { c.close(); }
  });

  it('refuses requests beyond the queue limit with busy', async () => {
    const c = await Client.connect(sock);
    try {
      const many = Array.from({ length: 8 }, (_, i) => `{"id":${i},"op":"kvp-get","pool":1,"key":"slow"}\n`).join('');
      c.send(many);
      const replies = [];
      for (let i = 0; i < 8; i++) replies.push(await c.next());
      const busy = replies.filter((r) => r.ok === false && (r.error as { code: string }).code === 'busy');
      const served = replies.filter((r) => r.ok === true).map((r) => r.id);
      assert.ok(busy.length >= 3, `some refused: ${JSON.stringify(replies)}`);
      assert.deepEqual(served, served.slice().sort((a, b) => Number(a) - Number(b)), 'served in order');
      assert.equal(busy.length + served.length, 8);
    } finally { c.close(); }
  });

  it('cuts off a line longer than the limit, with a reply, and keeps serving others', async () => {
    const c = await Client.connect(sock);
    c.send('{"op":"status","pad":"');
    c.send('x'.repeat(MAX_REQUEST_BYTES));
    const r = await c.next();
    assert.equal((r.error as { code: string }).code, 'too-long');
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(c.closed, 'connection closed');
    const d = await Client.connect(sock);
    try {
      assert.equal((await d.ask({ op: 'status' })).ok, true);
    } finally { d.close(); }
  });

  it('limits concurrent connections', async () => {
    const clients = await Promise.all([0, 1, 2, 3].map(() => Client.connect(sock)));
    try {
      await Promise.all(clients.map((c) => c.ask({ op: 'status' }))); // all four accepted
      const extra = await Client.connect(sock);
      const r = await extra.next();
      assert.equal((r.error as { code: string }).code, 'busy');
      extra.close();
    } finally { for (const c of clients) c.close(); }
  });

  it('parseRequest never throws, whatever the line', () => {
    const samples = ['', '{', '{"op":"kvp-set","pool":0,"key":1,"value":2}', '1e999', '{"op":"kvp-get","pool":"0","key":"k"}', '\u0000', '{"op":"status","id":1e300}'];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const base = samples[seed % samples.length];
      const pos = seed % (base.length + 1);
      samples.push(base.slice(0, pos) + String.fromCharCode(seed >>> 16 & 0x7f) + base.slice(pos));
    }
    for (const s of samples) {
      const r = parseRequest(s);
      assert.ok(r.ok === true || typeof r.error.code === 'string');
    }
    assert.deepEqual(parseRequest('{"op":"kvp-get","pool":"0","key":"k"}'), { ok: true, request: { id: null, op: 'kvp-get', pool: 0, key: 'k' } });
  });
});

describe('control socket file', () => {
  it('replaces a stale socket, refuses a live one or a non-socket, and removes its file on close', async () => {
    const p = path.join(dir, 'stale.sock');
    // A socket file nobody listens on: what a hypatia killed by SIGKILL leaves behind.
    const child = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(child.signal, 'SIGKILL');
    assert.ok(fs.lstatSync(p).isSocket(), 'stale socket file is there');
    const s2 = await ControlServer.listen(p, stubTarget());
    const c = await Client.connect(p);
    assert.equal((await c.ask({ op: 'status' })).ok, true);
    c.close();
    await assert.rejects(ControlServer.listen(p, stubTarget()), /in use by another process/);
    await s2.close();
    assert.equal(fs.existsSync(p), false, 'close removes the socket file');
    const f = path.join(dir, 'plain-file');
    fs.writeFileSync(f, 'x');
    await assert.rejects(ControlServer.listen(f, stubTarget()), /not a socket/);
    assert.equal(fs.readFileSync(f, 'utf8'), 'x', 'a non-socket is left alone');
  });
});
