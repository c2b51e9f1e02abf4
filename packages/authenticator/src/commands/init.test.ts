import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, importJWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../../test/run-cli.ts';

let temp: { dir: string; remove: () => Promise<void> };
let home: string;
beforeEach(async () => {
  temp = await makeTempDir();
  home = path.join(temp.dir, 'home');
});
afterEach(() => temp.remove());

const storeOf = async () => JSON.parse(await readFile(path.join(home, 'store.json'), 'utf8'));

describe('init', () => {
  it.each(['ES256', 'EdDSA'])('creates a usable %s identity key in a 0600 store, once', async (alg) => {
    const created = await runCli(['init', '--name', 'Ada laptop', '--alg', alg, '--json'], { home });
    expect(created.status).toBe(0);
    const answer = JSON.parse(created.stdout);
    expect(answer).toMatchObject({ name: 'Ada laptop', alg, created: true });

    const { identity } = await storeOf();
    expect((await stat(path.join(home, 'store.json'))).mode & 0o777).toBe(0o600);
    expect(await calculateJwkThumbprint(identity.public_jwk)).toBe(answer.thumbprint);
    expect(identity.public_jwk.d).toBeUndefined();
    await expect(importJWK(identity.private_jwk, alg)).resolves.toBeTruthy();

    const again = await runCli(['init'], { home });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('Already initialized as "Ada laptop"');
    expect((await storeOf()).identity).toEqual(identity);
  });

  it('renames with --name and keeps the key; refuses a bad algorithm', async () => {
    await runCli(['init', '--name', 'one'], { home });
    const before = (await storeOf()).identity;
    expect((await runCli(['init', '--name', 'two'], { home })).status).toBe(0);
    expect((await storeOf()).identity).toEqual({ ...before, name: 'two' });
    const refused = await runCli(['init', '--alg', 'RS256'], { home });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--alg must be ES256 or EdDSA');
  });

  it('keeps the existing identity’s algorithm, naming it, and exits 1 when --alg asks for another', async () => {
    await runCli(['init', '--alg', 'ES256'], { home });
    const before = (await storeOf()).identity;

    const same = await runCli(['init', '--alg', 'ES256'], { home });
    expect([same.status, same.stdout]).toEqual([0, expect.stringContaining('Already initialized')]);
    expect(same.stdout).toContain('ES256 key');

    const other = await runCli(['init', '--alg', 'EdDSA', '--name', 'renamed'], { home });
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/keeps its ES256 key.*--alg EdDSA was not applied/);
    expect((await storeOf()).identity).toEqual(before);
  });
});
