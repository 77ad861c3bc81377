// KVP through the real VmbusServer and the TS guest bus client, with a guest that answers as hv_kvp.c and
// hv_kvp_daemon do: nothing before the daemon registers, then SET/GET/DELETE/ENUMERATE on the five pools,
// strings as NUL-terminated UTF-16LE, one transaction at a time, timeouts, close, and hostile answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HV_S_OK, IC_BODY, IcFlag, IcHdr, KVP_BODY_SIZE, KvpEnumerate, KvpError, KvpHdr, KvpOp, KvpPool, KvpValue, writeU32,
} from '../../src/vsp/ic/index.js';
import { driving, icBed, pumpUntil } from './ic-guest.js';

describe('KVP IC', () => {
  it('waits for hv_kvp_daemon: no negotiation and requests time out while the guest does not read', async () => {
    const { ics, open } = icBed({ kvp: { timeoutMs: 50 } });
    const g = open('kvp');
    g.reading = false;
    const err = await driving([g], ics.kvp.set(KvpPool.EXTERNAL, 'k', 'v')).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof KvpError && err.code === 'timeout', String(err));
    assert.match((err as Error).message, /hv_kvp_daemon/);
    assert.equal(ics.kvp.phase, 'negotiating');
    g.reading = true;
    await pumpUntil([g], () => ics.kvp.phase === 'ready', 2000, 'negotiation once the daemon runs');
    assert.equal(`${ics.kvp.service?.major}.${ics.kvp.service?.minor}`, '4.0');
  });

  it('sets, gets, deletes and enumerates pairs in the guest pools', async () => {
    const { ics, open } = icBed();
    const g = open('kvp');
    await driving([g], ics.kvp.set(KvpPool.EXTERNAL, 'HostName', 'hypatia-host'));
    assert.equal(g.pools[0].get('HostName'), 'hypatia-host');
    await driving([g], ics.kvp.set(KvpPool.EXTERNAL, 'clé-ü', 'värde ✓ 𝄞'));
    assert.equal(g.pools[0].get('clé-ü'), 'värde ✓ 𝄞');
    assert.equal(await driving([g], ics.kvp.get(KvpPool.EXTERNAL, 'clé-ü')), 'värde ✓ 𝄞');
    assert.equal(await driving([g], ics.kvp.get(KvpPool.EXTERNAL, 'missing')), undefined);
    g.pools[KvpPool.GUEST].set('GuestKey', 'guest value');
    g.pools[KvpPool.GUEST].set('Another', '2');
    assert.deepEqual(await driving([g], ics.kvp.enumerate(KvpPool.GUEST)), [{ key: 'GuestKey', value: 'guest value' }, { key: 'Another', value: '2' }]);
    assert.deepEqual(await driving([g], ics.kvp.enumerate(KvpPool.AUTO)), g.autoPool.map(([key, value]) => ({ key, value })));
    assert.deepEqual(await driving([g], ics.kvp.enumerate(KvpPool.AUTO_INTERNAL)), []);
    assert.equal(await driving([g], ics.kvp.delete(KvpPool.EXTERNAL, 'HostName')), true);
    assert.equal(await driving([g], ics.kvp.delete(KvpPool.EXTERNAL, 'HostName')), false);
    assert.equal(g.pools[0].has('HostName'), false);
    // Reads go by ENUMERATE (Linux 6.1 answers GET with an empty value).
    assert.deepEqual(g.log.kvpOps.slice(0, 3).map((o) => o.op), [KvpOp.SET, KvpOp.SET, KvpOp.ENUMERATE]);
    assert.ok(!g.log.kvpOps.some((o) => o.op === KvpOp.GET));
    assert.deepEqual(ics.kvp.state(), { negotiated: true, pending: 0, completed: ics.kvp.state().completed, failed: 0 });
  });

  it('sends one transaction at a time, in order, and the largest key and value fit their fields', async () => {
    const { ics, open } = icBed();
    const g = open('kvp');
    g.pump();
    // Wrap the guest's reads: a second request already waiting behind the one just read would mean the host
    // did not wait for the answer.
    const recv = g.ch.receive.bind(g.ch);
    let stash: ReturnType<typeof recv> = null;
    let overlapping = 0;
    let requests = 0;
    g.ch.receive = () => {
      if (stash) { const s0 = stash; stash = null; return s0; }
      const p = recv();
      if (!p) return null;
      requests++;
      assert.ok(p.payload.length >= IC_BODY + KVP_BODY_SIZE, `request of ${p.payload.length} bytes`);
      const next = recv();
      if (next) { overlapping++; stash = next; }
      return p;
    };
    const key = 'k'.repeat(255);
    const value = 'v'.repeat(1023);
    await driving([g], Promise.all([0, 1, 2, 3, 4].map((i) => ics.kvp.set(KvpPool.EXTERNAL, `${key.slice(0, 250)}${i}`, value))));
    assert.equal(requests, 5);
    assert.equal(overlapping, 0, 'the host had at most one request outstanding');
    assert.deepEqual([...g.pools[0].keys()], [0, 1, 2, 3, 4].map((i) => `${key.slice(0, 250)}${i}`));
    assert.equal(g.pools[0].get(`${key.slice(0, 250)}0`), value);
    await driving([g], ics.kvp.set(KvpPool.EXTERNAL, key, value));
    assert.equal(g.pools[0].get(key), value);
  });

  it('refuses bad arguments before sending anything', async () => {
    const { ics, open } = icBed();
    const g = open('kvp');
    g.pump();
    await assert.rejects(ics.kvp.set(7, 'k', 'v'), RangeError);
    await assert.rejects(ics.kvp.set(-1, 'k', 'v'), RangeError);
    await assert.rejects(ics.kvp.set(0, 'k'.repeat(256), 'v'), RangeError);
    await assert.rejects(ics.kvp.set(0, 'k', 'v'.repeat(1024)), RangeError);
    assert.equal(g.log.kvpOps.length, 0);
  });

  it('rejects pending requests when the channel closes, and later ones as not connected', async () => {
    const { ics, open } = icBed();
    const g = open('kvp');
    g.pump();
    g.reading = false;
    const pending = ics.kvp.get(KvpPool.EXTERNAL, 'x');
    const queued = ics.kvp.get(KvpPool.EXTERNAL, 'y');
    g.ch.close();
    await assert.rejects(pending, (e: unknown) => e instanceof KvpError && e.code === 'closed');
    await assert.rejects(queued, (e: unknown) => e instanceof KvpError && e.code === 'closed');
    await assert.rejects(ics.kvp.set(0, 'k', 'v'), (e: unknown) => e instanceof KvpError && e.code === 'not-connected');
  });

  it('rejects a guest answer with absurd key or value sizes, or cut short, and carries on', async () => {
    const { ics, bus, open } = icBed();
    const g = open('kvp');
    g.pump();
    g.reading = false;
    const answerWith = (mutate: (b: Uint8Array) => void, cut?: number): void => {
      const req = g.ch.receive()!;
      let b = new Uint8Array(req.payload);
      b[IcHdr.flags] = IcFlag.TRANSACTION | IcFlag.RESPONSE;
      new DataView(b.buffer).setUint32(IcHdr.status, HV_S_OK, true);
      mutate(b);
      if (cut !== undefined) b = b.slice(0, cut);
      g.ch.send(b, { transIdLo: req.transIdLo });
    };
    const en = IC_BODY + KvpHdr.SIZE + KvpEnumerate.value;
    const p1 = ics.kvp.enumerate(KvpPool.GUEST);
    answerWith((b) => { writeU32(b, en + KvpValue.keySize, 9999); });
    await assert.rejects(p1, (e: unknown) => e instanceof KvpError && e.code === 'malformed');
    const p2 = ics.kvp.get(KvpPool.GUEST, 'k');
    await new Promise((r) => setImmediate(r)); // get() enumerates: its first request goes out after a tick
    answerWith((b) => { writeU32(b, en + KvpValue.valueSize, 0x8000_0000); });
    await assert.rejects(p2, (e: unknown) => e instanceof KvpError && e.code === 'malformed');
    const p3 = ics.kvp.enumerate(KvpPool.GUEST);
    answerWith(() => {}, IC_BODY + 16);
    await assert.rejects(p3, (e: unknown) => e instanceof KvpError && e.code === 'malformed');
    assert.ok(!bus.log.some((l) => /threw/.test(l)));
    g.reading = true;
    g.pools[KvpPool.GUEST].set('k', 'fine');
    assert.equal(await driving([g], ics.kvp.get(KvpPool.GUEST, 'k')), 'fine');
  });

  it('drops a late answer to a request that timed out instead of taking it for the next one', async () => {
    const { ics, open } = icBed({ kvp: { timeoutMs: 30 } });
    const g = open('kvp');
    g.pump();
    g.reading = false;
    g.pools[0].set('a', 'A');
    g.pools[0].set('b', 'B');
    // driving() keeps the event loop alive: the host's timeout timers are unref'd, as in the worker.
    await driving([g], assert.rejects(ics.kvp.get(0, 'a'), (e: unknown) => e instanceof KvpError && e.code === 'timeout'));
    const second = ics.kvp.get(0, 'b');
    g.reading = true;
    assert.equal(await driving([g], second), 'B', 'the answer for "a" was not taken for "b"');
    assert.ok(ics.kvp.inspect().dropped >= 1);
  });
});
