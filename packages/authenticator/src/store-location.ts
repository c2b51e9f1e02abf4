import path from 'node:path';

export const STORE_FILE_NAME = 'store.json';

/**
 * Where the store lives: `$TESSERA_AUTHENTICATOR_HOME`, else the XDG config directory
 * (`$XDG_CONFIG_HOME/tessera-authenticator`, else `~/.config/tessera-authenticator`).
 */
export function resolveStoreDirectory(env: Readonly<Record<string, string | undefined>>, homeDirectory: string): string {
  const explicit = env.TESSERA_AUTHENTICATOR_HOME;
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  // XDG Base Directory spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  const configHome = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(homeDirectory, '.config');
  return path.join(configHome, 'tessera-authenticator');
}

export function storeFilePath(directory: string): string {
  return path.join(directory, STORE_FILE_NAME);
}
