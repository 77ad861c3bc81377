// The control socket of a running VM: a Unix stream socket served by the process that owns the VM (the worker
// in `hypatia run`), speaking control-protocol.ts. Requests on one connection are answered in order, one at a
// time (a KVP request waits for the guest); a client that queues too many gets 'busy', one that sends an
// over-long line gets 'too-long' and is disconnected. Nothing a client sends can throw out of here: a target
// failure becomes an error reply. The socket file is created 0600 (only the VM's user may control it); a stale
// one left by a dead process is replaced, a live one is not.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  ControlError, encodeReply, MAX_REQUEST_BYTES, parseRequest, type ControlReply, type ControlRequest,
} from './control-protocol.js';

/** What the server controls; implemented over the worker by worker-control.ts, by a stub in unit tests. */
export interface ControlTarget {
  status(): unknown;
  /** The heartbeat state; throws ControlError('unavailable') when there is no heartbeat service. */
  heartbeat(): unknown;
  kvpGet(pool: number, key: string): Promise<string | undefined>;
  kvpEnumerate(pool: number): Promise<readonly { key: string; value: string }[]>;
  kvpSet(pool: number, key: string, value: string): Promise<void>;
  kvpDelete(pool: number, key: string): Promise<boolean>;
  /** Ask the guest; throws ControlError('unavailable') when the shutdown service is not negotiated. */
  shutdown(kind: 'shutdown' | 'reboot', reason: string): unknown;
  /** Power off now. */
  stop(): unknown;
}

export interface ControlServerOptions {
  /** At most this many clients at once; more are told 'busy' and closed. Default 16. */
  maxConnections?: number;
  /** Requests queued per connection before 'busy'. Default 16. */
  maxQueued?: number;
  log?: (line: string) => void;
}

export class ControlServer {
  private readonly sockets = new Set<Socket>();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly target: ControlTarget,
    private readonly opts: Required<ControlServerOptions>,
  ) {
    server.on('connection', (s) => this.accept(s));
    server.on('error', (e) => this.opts.log(`control: ${e.message}`));
  }

  /** Listen on `path`. Rejects if another live process serves it or the path is something other than a socket. */
  static async listen(path: string, target: ControlTarget, options: ControlServerOptions = {}): Promise<ControlServer> {
    await removeStaleSocket(path);
    const server = createServer({ allowHalfOpen: false });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The socket file is born 0600: Node binds inside listen(), so a umask set around the call applies.
      const umask = process.umask(0o177);
      try {
        server.listen(path, () => { server.off('error', reject); resolve(); });
      } finally {
        process.umask(umask);
      }
    });
    try { chmodSync(path, 0o600); } catch (e) { server.close(); throw e; }
    const opts: Required<ControlServerOptions> = {
      maxConnections: options.maxConnections ?? 16,
      maxQueued: options.maxQueued ?? 16,
      log: options.log ?? (() => {}),
    };
    return new ControlServer(path, server, target, opts);
  }

  /** Stop listening, drop the clients, remove the socket file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => {
      try { unlinkSync(this.path); } catch { /* already gone */ }
      resolve();
    }));
  }

  private accept(socket: Socket): void {
    if (this.closed || this.sockets.size >= this.opts.maxConnections) {
      socket.end(encodeReply({ id: null, ok: false, error: { code: 'busy', message: 'too many control connections' } }));
      return;
    }
    this.sockets.add(socket);
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    const queue: string[] = [];
    let working = false;
    const send = (r: ControlReply) => { if (!socket.destroyed) socket.write(encodeReply(r)); };
    const drain = async () => {
      if (working) return;
      working = true;
      while (queue.length > 0 && !socket.destroyed) send(await this.handle(queue.shift()!));
      working = false;
    };
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const part = chunk.subarray(start, nl);
        start = nl + 1;
        if (bufferedBytes + part.length > MAX_REQUEST_BYTES) return this.tooLong(socket);
        const line = Buffer.concat([...buffered, part]).toString('utf8').replace(/\r$/, '');
        buffered = [];
        bufferedBytes = 0;
        if (line.trim() === '') continue;
        if (queue.length >= this.opts.maxQueued) { send({ id: null, ok: false, error: { code: 'busy', message: `more than ${this.opts.maxQueued} requests queued` } }); continue; }
        queue.push(line);
      }
      const rest = chunk.subarray(start);
      if (bufferedBytes + rest.length > MAX_REQUEST_BYTES) return this.tooLong(socket);
      if (rest.length > 0) { buffered.push(Buffer.from(rest)); bufferedBytes += rest.length; }
      void drain();
    });
    socket.on('error', () => { /* the client went away; nothing to tell it */ });
    socket.on('close', () => this.sockets.delete(socket));
  }

  private tooLong(socket: Socket): void {
    socket.end(encodeReply({ id: null, ok: false, error: { code: 'too-long', message: `request longer than ${MAX_REQUEST_BYTES} bytes` } }));
    socket.destroySoon();
  }

  /** One line in, one reply out; never throws. */
  async handle(line: string): Promise<ControlReply> {
    const parsed = parseRequest(line);
    if (!parsed.ok) return { id: parsed.id, ok: false, error: parsed.error };
    const req = parsed.request;
    try {
      return { id: req.id, ok: true, result: await this.run(req) };
    } catch (e) {
      return { id: req.id, ok: false, error: errorBody(e) };
    }
  }

  private async run(req: ControlRequest): Promise<unknown> {
    const t = this.target;
    switch (req.op) {
      case 'status': return t.status();
      case 'heartbeat': return t.heartbeat();
      case 'kvp-get': return { pool: req.pool, key: req.key, value: (await t.kvpGet(req.pool, req.key)) ?? null };
      case 'kvp-enumerate': return { pool: req.pool, items: await t.kvpEnumerate(req.pool) };
      case 'kvp-set': await t.kvpSet(req.pool, req.key, req.value); return { pool: req.pool, key: req.key };
      case 'kvp-delete': return { pool: req.pool, key: req.key, deleted: await t.kvpDelete(req.pool, req.key) };
      case 'shutdown': case 'reboot': return t.shutdown(req.op, req.reason);
      case 'stop': return t.stop();
    }
  }
}

function errorBody(e: unknown): { code: ControlError['code']; message: string } {
  if (e instanceof ControlError) return { code: e.code, message: e.message };
  // KvpError (src/vsp/ic/kvp.ts) and RangeError carry what went wrong; map by shape, not by import.
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  if (err instanceof RangeError) return { code: 'bad-request', message: err.message };
  if (code === 'timeout') return { code: 'timeout', message: err.message };
  if (code === 'busy') return { code: 'busy', message: err.message };
  if (code === 'not-connected' || code === 'closed') return { code: 'unavailable', message: err.message };
  if (code === 'guest-status' || code === 'malformed') return { code: 'guest', message: err.message };
  return { code: 'internal', message: err.message.split('\n')[0] };
}

/** Removes `path` if it is a socket nobody answers on; throws if it is live or not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSocket()) throw new ControlError('internal', `${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  if (live) throw new ControlError('internal', `${path} is in use by another process`);
  unlinkSync(path);
}
