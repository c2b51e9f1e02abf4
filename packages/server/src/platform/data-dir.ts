import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StartupError } from './startup-error.ts';

/**
 * Reads a secret kept in the data directory, or makes one on first start (mode 0600).
 * Returns whether it was created now, so that the caller can show it once.
 */
async function keptSecret(dataDir: string, file: string, make: () => string): Promise<{ value: string; created: boolean }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const location = path.join(dataDir, file);
  try {
    return { value: (await readFile(location, 'utf8')).trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = make();
  // 'wx': if another instance created it meanwhile, fail rather than overwrite it.
  await writeFile(location, `${value}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(location, 0o600);
  return { value, created: true };
}

export function adminTokenFile(dataDir: string) {
  return keptSecret(dataDir, 'admin-token', () => `adm_${randomBytes(32).toString('base64url')}`);
}

export async function masterKeyFile(dataDir: string): Promise<Buffer> {
  const { value } = await keptSecret(dataDir, 'master.key', () => randomBytes(32).toString('base64'));
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) {
    throw new StartupError(`${path.join(dataDir, 'master.key')} does not hold a 32-byte base64 key: restore it, or set TESSERA_MASTER_KEY`);
  }
  return key;
}
