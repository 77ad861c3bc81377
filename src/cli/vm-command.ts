// `hypatia vm`: control a VM that `hypatia run --control <socket>` is running, through its control socket
// (src/vmwp/control-protocol.ts): status, the heartbeat, KVP pairs, a clean shutdown or reboot through the
// shutdown integration service, or a hard stop. One request per invocation.
import { createConnection } from 'node:net';
import {
  encodeRequest, KVP_POOLS, parsePool, parseReply, type ControlOp, type ControlReply,
} from '../vmwp/index.js';
import { ArgReader } from './arg-reader.js';
import { UsageError } from './size-option.js';

export const VM_HELP = `Usage: hypatia vm <command> [--control <socket>] [options]

Control a running VM through the control socket that "hypatia run --control <socket>" serves.

Commands:
  status                      the VM: state, boots, memory, the integration services and their versions
  heartbeat                   whether the guest answers the heartbeat service (exit 0 if alive, 1 if not)
  kvp get [--pool P] [KEY]    KEY's value in a KVP pool of the guest, or every KEY=VALUE pair without KEY
                              (default pool: guest, where guest software publishes; exit 1 if KEY is absent).
                              It enumerates the pool, as hosts do: Linux answers a single-key GET empty
  kvp set [--pool P] KEY VALUE
                              set KEY to VALUE in a pool of the guest (default pool: external, the pool a
                              host writes); Linux's hv_kvp_daemon keeps it in /var/lib/hyperv/.kvp_pool_<n>
  kvp delete [--pool P] KEY   delete KEY from a pool (default pool: external; exit 1 if it was absent)
  shutdown [--reason TEXT]    ask the guest to shut down through the shutdown integration service; the guest
                              powers off when it is done and "hypatia run" then exits 0
  reboot [--reason TEXT]      ask the guest to restart the same way
  stop                        power the VM off now, without asking the guest

Options:
  --control <socket>  the VM's control socket (default: $HYPATIA_CONTROL)
  --pool <P>          a KVP pool: 0 external, 1 guest, 2 auto (the guest's intrinsic values: OS, FQDN, ...),
                      3 auto-external, 4 auto-internal; a number or a name
  --json              print the reply's result as JSON
  --timeout <s>       how long to wait for the reply, in seconds (default 30)
  -h, --help          show this help

Exit status: 0 done; 1 the VM answered with an error (e.g. "unavailable": the guest has not loaded hv_utils
or its KVP daemon does not run) or the answer is "no"; 2 usage; 3 no VM answers on the socket.
`;

interface VmArgs {
  control: string;
  json: boolean;
  timeoutMs: number;
  pool?: number;
  reason?: string;
  words: string[];
}

function parseVmArgs(argv: string[]): VmArgs | 'help' {
  let control = process.env.HYPATIA_CONTROL;
  let json = false;
  let timeoutMs = 30_000;
  let pool: number | undefined;
  let reason: string | undefined;
  const words: string[] = [];
  const r = new ArgReader(argv);
  for (let name = r.next(); name !== null; name = r.next()) {
    switch (name) {
      case '-h': case '--help': return 'help';
      case '--control': control = r.value(); break;
      case '--json': json = true; break;
      case '--timeout': timeoutMs = r.secondsMs(3600); break;
      case '--pool': {
        const v = r.value();
        pool = parsePool(/^\d+$/.test(v) ? Number(v) : v);
        if (pool === undefined) throw new UsageError(`--pool takes 0-4 or ${KVP_POOLS.join(', ')} (got "${v}")`);
        break;
      }
      case '--reason': reason = r.value(); break;
      case '--': words.push(...r.rest()); break;
      default:
        if (r.arg.startsWith('-') && r.arg !== '-') throw new UsageError(`unknown option ${name} for vm`);
        words.push(r.arg);
    }
  }
  if (words.length === 0) throw new UsageError('vm needs a command (status, heartbeat, kvp, shutdown, reboot, stop)');
  if (control === undefined || control === '') throw new UsageError('vm needs --control <socket> (or $HYPATIA_CONTROL): the socket "hypatia run --control" serves');
  return { control, json, timeoutMs, pool, reason, words };
}

type Request = Record<string, unknown> & { op: ControlOp };
/** What to print for a result, and the exit status it means. */
interface Shown { out: string; status: number; err?: string }

/** The request for the command words, with what to print for its result. */
function requestFor(a: VmArgs): { request: Request; show: (result: unknown) => Shown } {
  const [cmd, ...rest] = a.words;
  const none = (what: string) => { if (rest.length > 0) throw new UsageError(`${what} takes no arguments (got "${rest[0]}")`); };
  const noPool = (what: string) => { if (a.pool !== undefined) throw new UsageError(`${what} takes no --pool`); };
  const noReason = (what: string) => { if (a.reason !== undefined) throw new UsageError(`${what} takes no --reason`); };
  const poolName = (p: number) => `${KVP_POOLS[p]} (${p})`;
  switch (cmd) {
    case 'status':
      none(cmd); noPool(cmd); noReason(cmd);
      return { request: { op: 'status' }, show: (r) => ({ out: formatStatus(r), status: 0 }) };
    case 'heartbeat':
      none(cmd); noPool(cmd); noReason(cmd);
      return {
        request: { op: 'heartbeat' },
        show: (r) => {
          const h = (r ?? {}) as { alive?: boolean; lastSequence?: number | null; lastResponseAt?: number | null };
          const age = typeof h.lastResponseAt === 'number' ? `, last answer ${((Date.now() - h.lastResponseAt) / 1000).toFixed(1)} s ago` : ', no answer yet';
          return { out: `alive: ${h.alive ? 'yes' : 'no'}, last sequence ${h.lastSequence ?? 'none'}${age}\n`, status: h.alive ? 0 : 1 };
        },
      };
    case 'shutdown': case 'reboot':
      none(cmd); noPool(cmd);
      return {
        request: { op: cmd, ...(a.reason !== undefined ? { reason: a.reason } : {}) },
        show: () => ({ out: `${cmd} requested: the guest is asked through the shutdown integration service\n`, status: 0 }),
      };
    case 'stop':
      none(cmd); noPool(cmd); noReason(cmd);
      return { request: { op: 'stop' }, show: () => ({ out: 'stopping the VM\n', status: 0 }) };
    case 'kvp': {
      noReason('kvp');
      const [sub, ...args] = rest;
      if (sub === 'get') {
        const pool = a.pool ?? 1;
        if (args.length > 1) throw new UsageError('kvp get takes at most one KEY');
        if (args.length === 0) {
          return {
            request: { op: 'kvp-enumerate', pool },
            show: (r) => ({ out: ((r as { items?: { key: string; value: string }[] }).items ?? []).map((x) => `${x.key}=${x.value}\n`).join(''), status: 0 }),
          };
        }
        return {
          request: { op: 'kvp-get', pool, key: args[0] },
          show: (r) => {
            const v = (r as { value?: string | null }).value;
            return typeof v === 'string' ? { out: `${v}\n`, status: 0 } : { out: '', status: 1, err: `no key "${args[0]}" in pool ${poolName(pool)}` };
          },
        };
      }
      if (sub === 'set') {
        if (args.length !== 2) throw new UsageError('kvp set takes KEY VALUE');
        return { request: { op: 'kvp-set', pool: a.pool ?? 0, key: args[0], value: args[1] }, show: () => ({ out: '', status: 0 }) };
      }
      if (sub === 'delete') {
        if (args.length !== 1) throw new UsageError('kvp delete takes KEY');
        const pool = a.pool ?? 0;
        return {
          request: { op: 'kvp-delete', pool, key: args[0] },
          show: (r) => ((r as { deleted?: boolean }).deleted ? { out: '', status: 0 } : { out: '', status: 1, err: `no key "${args[0]}" in pool ${poolName(pool)}` }),
        };
      }
      throw new UsageError(sub === undefined ? 'kvp needs get, set or delete' : `unknown kvp command "${sub}" (get, set, delete)`);
    }
    default:
      throw new UsageError(`unknown vm command "${cmd}"`);
  }
}

function formatStatus(r: unknown): string {
  if (typeof r !== 'object' || r === null) return `${JSON.stringify(r)}\n`;
  const lines: string[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
    } else {
      lines.push(`${prefix}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  };
  walk(r, '');
  return `${lines.join('\n')}\n`;
}

/** Sends one request line and resolves with the first reply line. */
export function controlRequest(path: string, request: Request, timeoutMs: number): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let data = '';
    let done = false;
    const finish = (e: Error | null, r?: ControlReply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (e) reject(e); else resolve(r!);
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encodeRequest({ ...request, id: 1 })));
    socket.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      const reply = parseReply(data.slice(0, nl));
      if (reply === null) finish(new Error('the VM sent a malformed reply'));
      else finish(null, reply);
    });
    socket.on('error', (e) => finish(e));
    socket.on('close', () => finish(new Error('the VM closed the connection without answering')));
  });
}

export async function vmCommand(argv: string[]): Promise<number> {
  let args: VmArgs | 'help';
  let plan: ReturnType<typeof requestFor>;
  try {
    args = parseVmArgs(argv);
    if (args === 'help') { process.stdout.write(VM_HELP); return 0; }
    plan = requestFor(args);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hypatia vm: ${e.message} (see hypatia vm --help)\n`); return 2; }
    throw e;
  }
  let reply: ControlReply;
  try {
    reply = await controlRequest(args.control, plan.request, args.timeoutMs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such socket' : code === 'ECONNREFUSED' ? 'nothing listens there (the VM has ended?)' : (e as Error).message;
    process.stderr.write(`hypatia vm: ${args.control}: ${why}\n`);
    return 3;
  }
  if (!reply.ok) {
    process.stderr.write(`hypatia vm: ${reply.error.code}: ${reply.error.message}\n`);
    return 1;
  }
  const shown = plan.show(reply.result);
  process.stdout.write(args.json ? `${JSON.stringify(reply.result, null, 2)}\n` : shown.out);
  if (shown.err) process.stderr.write(`hypatia vm: ${shown.err}\n`);
  return shown.status;
}
