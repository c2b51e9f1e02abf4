import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../test/run-cli.ts';
import { readStore, updateStore } from './store.ts';
import type { StoreContents } from './store.ts';
import type { TotpAccount } from './totp-account.ts';

const alice: TotpAccount = {
  issuer: 'Example',
  label: 'alice',
  secret: 'JBSWY3DPEHPK3PXP',
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
  added_at: '2026-03-01T12:00:00.000Z',
};

let temp: { dir: string; remove: () => Promise<void> };
let home: string;
beforeEach(async () => {
  temp = await makeTempDir();
  home = path.join(temp.dir, 'home');
});
afterEach(() => temp.remove());

function append(account: TotpAccount) {
  return (contents: StoreContents) => ({ contents: { ...contents, accounts: [...contents.accounts, account] }, result: undefined });
}

const mode = async (target: string): Promise<number> => (await stat(target)).mode & 0o7777;

describe('store', () => {
  it('is empty before anything is written, and creates nothing by reading', async () => {
    expect(await readStore(home)).toEqual({ accounts: [], identity: null, registrations: [], profile: null, unknownFields: {} });
    await expect(stat(home)).rejects.toThrow(/ENOENT/);
  });

  it('writes a versioned JSON file, mode 0600 in a directory of mode 0700', async () => {
    await updateStore(home, append(alice));
    expect(JSON.parse(await readFile(path.join(home, 'store.json'), 'utf8'))).toEqual({ version: 1, accounts: [alice] });
    expect(await mode(home)).toBe(0o700);
    expect(await mode(path.join(home, 'store.json'))).toBe(0o600);
    expect((await readStore(home)).accounts).toEqual([alice]);
  });

  it('makes loosened modes private again on the next write', async () => {
    await updateStore(home, append(alice));
    await chmod(home, 0o755);
    await chmod(path.join(home, 'store.json'), 0o644);
    await updateStore(home, append({ ...alice, label: 'bob' }));
    expect(await mode(home)).toBe(0o700);
    expect(await mode(path.join(home, 'store.json'))).toBe(0o600);
  });

  it('makes loosened modes private again when it is read', async () => {
    await updateStore(home, append(alice));
    await chmod(path.join(home, 'store.json'), 0o644);
    await readStore(home);
    expect(await mode(path.join(home, 'store.json'))).toBe(0o600);
  });

  it('writes under a strict umask and a loose one alike', async () => {
    const previous = process.umask(0o000);
    try {
      await updateStore(home, append(alice));
    } finally {
      process.umask(previous);
    }
    expect(await mode(path.join(home, 'store.json'))).toBe(0o600);
  });

  it('leaves no temporary or lock file behind', async () => {
    await updateStore(home, append(alice));
    await updateStore(home, append({ ...alice, label: 'bob' }));
    expect(await readdir(home)).toEqual(['store.json']);
  });

  it('does not write when the change returns null', async () => {
    await updateStore(home, append(alice));
    const before = await stat(path.join(home, 'store.json'));
    await updateStore(home, () => ({ contents: null, result: undefined }));
    expect((await stat(path.join(home, 'store.json'))).mtimeMs).toBe(before.mtimeMs);
  });

  it('keeps top-level fields it does not know (a device identity written by a later version)', async () => {
    await mkdir(home, { mode: 0o700 });
    const device = { device_id: 'dev_1', public_key: 'abc' };
    await writeFile(path.join(home, 'store.json'), JSON.stringify({ version: 1, accounts: [], device }), { mode: 0o600 });
    await updateStore(home, append(alice));
    expect(JSON.parse(await readFile(path.join(home, 'store.json'), 'utf8'))).toEqual({ version: 1, accounts: [alice], device });
  });

  it.each([
    ['not JSON', '{"version": 1, "accounts": [', 'store_corrupt'],
    ['an array', '[]', 'store_corrupt'],
    ['without version', '{"accounts": []}', 'store_corrupt'],
    ['with accounts not an array', '{"version": 1, "accounts": {}}', 'store_corrupt'],
    ['with an account without secret', '{"version": 1, "accounts": [{"issuer": "", "label": "a", "algorithm": "SHA1", "digits": 6, "period": 30, "added_at": ""}]}', 'store_corrupt'],
    ['from a newer version', '{"version": 2, "accounts": []}', 'store_too_new'],
    ['with an identity without its private key', '{"version": 1, "accounts": [], "identity": {"name": "a", "created_at": "", "alg": "ES256", "public_jwk": {}}}', 'store_corrupt'],
    ['with registrations not an array', '{"version": 1, "accounts": [], "registrations": {}}', 'store_corrupt'],
  ])('refuses a store %s and leaves it untouched', async (_what, text, code) => {
    await mkdir(home, { mode: 0o700 });
    const file = path.join(home, 'store.json');
    await writeFile(file, text, { mode: 0o600 });
    await expect(readStore(home)).rejects.toMatchObject({ code });
    await expect(updateStore(home, append(alice))).rejects.toMatchObject({ code });
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('refuses a shared directory such as /tmp instead of changing its mode', async () => {
    await mkdir(home);
    await chmod(home, 0o1777);
    await expect(updateStore(home, append(alice))).rejects.toMatchObject({ code: 'store_unsafe' });
    expect(await mode(home)).toBe(0o1777);
  });

  it('loses no change when many writers run at once (lock)', async () => {
    const labels = Array.from({ length: 20 }, (_, i) => `user${i}`);
    await Promise.all(labels.map((label) => updateStore(home, append({ ...alice, label }))));
    const stored = (await readStore(home)).accounts.map((account) => account.label);
    expect(stored.sort()).toEqual([...labels].sort());
  });

  it('takes over a lock left by a process that died', async () => {
    await mkdir(home, { mode: 0o700 });
    const deadPid = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('exit', () => resolve(child.pid ?? 0));
    });
    await writeFile(path.join(home, 'store.lock'), String(deadPid));
    await updateStore(home, append(alice));
    expect((await readStore(home)).accounts).toHaveLength(1);
  });
});
