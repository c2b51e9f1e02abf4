import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { AuthenticatorError } from './errors.ts';

export const PRIVATE_DIRECTORY_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates the directory if needed and makes it private (0700). A directory someone else owns, or a shared
 * one such as /tmp (sticky bit), is refused rather than changed: its mode is not ours to fix.
 */
export async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  const info = await stat(directory);
  if (!info.isDirectory()) {
    throw new AuthenticatorError('store_unsafe', `${directory} is not a directory.`);
  }
  checkOwner(directory, info);
  if ((info.mode & 0o1000) !== 0) {
    throw new AuthenticatorError(
      'store_unsafe',
      `${directory} is a shared directory (sticky bit set); point TESSERA_AUTHENTICATOR_HOME at a private one.`,
    );
  }
  if ((info.mode & 0o7777) !== PRIVATE_DIRECTORY_MODE) {
    await chmod(directory, PRIVATE_DIRECTORY_MODE);
  }
}

/** Makes an existing file readable by its owner only (0600); does nothing when the file does not exist. */
export async function ensurePrivateFile(file: string): Promise<void> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return;
    throw error;
  }
  if (!info.isFile()) {
    throw new AuthenticatorError('store_unsafe', `${file} is not a regular file.`);
  }
  checkOwner(file, info);
  if ((info.mode & 0o7777) !== PRIVATE_FILE_MODE) {
    await chmod(file, PRIVATE_FILE_MODE);
  }
}

/**
 * Replaces `file` with `contents` so that a reader sees the old or the new file, never half of one,
 * even after a crash: write a private temporary file beside it, flush it, rename it over.
 */
export async function writePrivateFileAtomically(file: string, contents: string): Promise<void> {
  const directory = path.dirname(file);
  await ensurePrivateDirectory(directory);
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  // 'wx' fails rather than follow a file or link that someone placed under this name.
  const handle = await open(temporary, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(contents, 'utf8');
    // The umask can only remove bits; chmod makes the mode exact whatever the umask.
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.sync();
    await handle.close();
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(directory);
}

/** Makes the rename itself durable (POSIX); some platforms cannot open a directory, which is fine. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort only.
  }
}

function checkOwner(target: string, info: Stats): void {
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new AuthenticatorError('store_unsafe', `${target} belongs to another user.`);
  }
}

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
