import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { AuthenticatorError } from './errors.ts';
import { PRIVATE_FILE_MODE, isErrnoException } from './private-files.ts';

const LOCK_FILE_NAME = 'store.lock';
const RETRY_MS = 20;
const DEFAULT_WAIT_MS = 10_000;
/** No change of the store takes this long; an older lock was left by a process that died. */
const STALE_MS = 30_000;

/**
 * Runs `task` while holding the store's lock, so that two processes changing the store at once
 * (an `add` while `listen` records something) cannot lose each other's change.
 */
export async function withStoreLock<T>(directory: string, task: () => Promise<T>, waitMs = DEFAULT_WAIT_MS): Promise<T> {
  const lockFile = path.join(directory, LOCK_FILE_NAME);
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await tryAcquire(lockFile)) break;
    if (await isStale(lockFile)) {
      await unlink(lockFile).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new AuthenticatorError(
        'store_locked',
        `The store is locked by another tessera-authenticator process (${lockFile}); try again, or remove that file if no such process runs.`,
      );
    }
    await sleep(RETRY_MS);
  }
  try {
    return await task();
  } finally {
    await unlink(lockFile).catch(() => undefined);
  }
}

async function tryAcquire(lockFile: string): Promise<boolean> {
  try {
    const handle = await open(lockFile, 'wx', PRIVATE_FILE_MODE);
    await handle.writeFile(String(process.pid));
    await handle.close();
    return true;
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') return false;
    throw error;
  }
}

async function isStale(lockFile: string): Promise<boolean> {
  try {
    const [info, content] = await Promise.all([stat(lockFile), readFile(lockFile, 'utf8')]);
    if (Date.now() - info.mtimeMs > STALE_MS) return true;
    const pid = Number(content);
    // An empty file is a lock being written right now, not a stale one.
    return Number.isInteger(pid) && pid > 0 && !isProcessAlive(pid);
  } catch {
    // Gone between the attempt and this look: not stale, just free.
    return false;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return isErrnoException(error) && error.code === 'EPERM';
  }
}
