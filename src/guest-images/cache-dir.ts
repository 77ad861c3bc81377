// Where fetched guest images live: $HYPATIA_CACHE if set, else ~/.cache/hypatia/guest (honouring
// XDG_CACHE_HOME). One directory shared by the CLI and the tests, so the download happens once per machine.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function defaultGuestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HYPATIA_CACHE) return resolve(env.HYPATIA_CACHE);
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'hypatia', 'guest');
}
