// Kernel module dependency resolution. The kernel's modules.dep (written by depmod) maps each module's path,
// relative to /lib/modules/<release>/, to the paths of every module it needs ("kernel/a.ko: kernel/b.ko ...");
// modprobe loads those first. Module names are file names without .ko[.xz|.gz|.zst], with '-' read as '_'
// (the kernel treats them alike). A kernel package without modules.dep (Debian generates it at install time)
// is indexed from the modules' own .modinfo "depends=" fields instead.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modInfoDepends, readModInfo } from './elf-modinfo.js';
import { GuestImageError } from './errors.js';
import { readModuleFile } from './module-file.js';

const MODULE_SUFFIX = /\.ko(\.xz|\.gz|\.zst)?$/;

/** The canonical name of a module given its name or path ("drivers/hid/hid-hyperv.ko.xz" -> "hid_hyperv"). */
export function moduleName(nameOrPath: string): string {
  const base = nameOrPath.slice(nameOrPath.lastIndexOf('/') + 1);
  return base.replace(MODULE_SUFFIX, '').replace(/-/g, '_');
}

/** What resolution needs to know about a kernel's modules. */
export interface ModuleIndex {
  /** The module's path relative to the modules directory, or undefined if there is no such loadable module. */
  pathOf(name: string): string | undefined;
  /** Names of the modules it needs (direct, or all of them as modules.dep lists). */
  depsOf(name: string): string[];
  /** Whether the module is built into the kernel (listed in modules.builtin). */
  isBuiltin(name: string): boolean;
}

/** Parses modules.dep text into path -> dependency paths. Blank lines and # comments are ignored. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new GuestImageError('bad-kernel', `modules.dep line ${i + 1}: expected "path: deps", got ${JSON.stringify(line.slice(0, 80))}`);
    const path = line.slice(0, colon).trim();
    if (!MODULE_SUFFIX.test(path)) throw new GuestImageError('bad-kernel', `modules.dep line ${i + 1}: ${path} is not a module path`);
    map.set(path, line.slice(colon + 1).trim().split(/\s+/).filter((s) => s !== ''));
  });
  return map;
}

/** Names listed in a modules.builtin file (paths of modules compiled into the kernel). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map(moduleName));
}

/** An index over parsed modules.dep / modules.builtin contents. */
export function indexFromModulesDep(modulesDep: string, modulesBuiltin = ''): ModuleIndex {
  const paths = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const [path, ds] of parseModulesDep(modulesDep)) {
    const name = moduleName(path);
    paths.set(name, path);
    deps.set(name, ds.map(moduleName));
  }
  const builtin = parseModulesBuiltin(modulesBuiltin);
  return {
    pathOf: (n) => paths.get(moduleName(n)),
    depsOf: (n) => deps.get(moduleName(n)) ?? [],
    isBuiltin: (n) => builtin.has(moduleName(n)),
  };
}

function walkModules(root: string, rel: string, out: Map<string, string>): void {
  for (const ent of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) walkModules(root, r, out);
    else if (MODULE_SUFFIX.test(ent.name)) out.set(moduleName(ent.name), r);
  }
}

/**
 * The index of an unpacked /lib/modules/<release> directory: from its modules.dep when present, else from the
 * file tree and each needed module's .modinfo (read on demand, so only the modules we resolve are opened).
 */
export function loadModuleIndex(modulesDir: string): ModuleIndex {
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtinText = existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8') : '';
  const depFile = join(modulesDir, 'modules.dep');
  if (existsSync(depFile)) return indexFromModulesDep(readFileSync(depFile, 'utf8'), builtinText);
  if (!existsSync(join(modulesDir, 'kernel'))) throw new GuestImageError('bad-kernel', `${modulesDir} has neither modules.dep nor a kernel/ tree`);
  const paths = new Map<string, string>();
  walkModules(modulesDir, 'kernel', paths);
  const builtin = parseModulesBuiltin(builtinText);
  const deps = new Map<string, string[]>();
  return {
    pathOf: (n) => paths.get(moduleName(n)),
    depsOf: (n) => {
      const name = moduleName(n);
      let d = deps.get(name);
      if (!d) {
        const path = paths.get(name);
        d = path ? modInfoDepends(readModInfo(readModuleFile(join(modulesDir, path)), path)).map(moduleName) : [];
        deps.set(name, d);
      }
      return d;
    },
    isBuiltin: (n) => builtin.has(moduleName(n)),
  };
}

export interface ResolvedModule {
  name: string;
  /** Path relative to the modules directory, as the kernel package has it (maybe compressed). */
  path: string;
  /** True if asked for by name, false if pulled in as a dependency. */
  requested: boolean;
}

export interface ModuleResolution {
  /** Every module to load, each after all of its dependencies. */
  order: ResolvedModule[];
  /** Requested or needed modules that are built into the kernel (nothing to load). */
  builtin: string[];
}

/**
 * The modules to load for `wanted`, dependencies first, each once. A module that is neither loadable nor
 * built in, or a dependency cycle, is an error naming the chain that led to it.
 */
export function resolveModules(index: ModuleIndex, wanted: readonly string[]): ModuleResolution {
  const order: ResolvedModule[] = [];
  const builtin: string[] = [];
  const done = new Set<string>();
  const active: string[] = [];
  const requested = new Set(wanted.map(moduleName));
  const visit = (name: string) => {
    if (done.has(name)) return;
    const cycleAt = active.indexOf(name);
    if (cycleAt >= 0) throw new GuestImageError('bad-kernel', `module dependency cycle: ${[...active.slice(cycleAt), name].join(' -> ')}`);
    const path = index.pathOf(name);
    if (path === undefined) {
      if (index.isBuiltin(name)) {
        done.add(name);
        builtin.push(name);
        return;
      }
      const chain = active.length ? ` (needed via ${active.join(' -> ')})` : '';
      throw new GuestImageError('bad-kernel', `kernel module ${name} not found${chain}`);
    }
    active.push(name);
    for (const d of index.depsOf(name)) visit(moduleName(d));
    active.pop();
    done.add(name);
    order.push({ name, path, requested: requested.has(name) });
  };
  for (const w of wanted) visit(moduleName(w));
  return { order, builtin };
}
