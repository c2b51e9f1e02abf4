import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../../test/run-cli.ts';

const SECRET = 'JBSWY3DPEHPK3PXP';

let temp: { dir: string; remove: () => Promise<void> };
let home: string;
beforeEach(async () => {
  temp = await makeTempDir();
  home = path.join(temp.dir, 'home');
});
afterEach(() => temp.remove());

describe('list', () => {
  it('says how to add an account when there is none', async () => {
    const result = await runCli(['list'], { home });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('No accounts yet');
    expect(JSON.parse((await runCli(['list', '--json'], { home })).stdout)).toEqual([]);
  });

  it('lists issuer, label, algorithm, digits and period, never the secret', async () => {
    await runCli(['add', `otpauth://totp/Example:alice@example.com?secret=${SECRET}`], { home });
    await runCli(['add', `otpauth://totp/bob?secret=${SECRET}&algorithm=SHA256&digits=8&period=60`], { home });

    const text = await runCli(['list'], { home });
    expect(text.status).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      'ISSUER   LABEL              ALGORITHM  DIGITS  PERIOD',
      'Example  alice@example.com  SHA1       6       30s',
      '-        bob                SHA256     8       60s',
      '',
    ]);
    expect(text.stdout).not.toContain(SECRET);

    const json = await runCli(['list', '--json'], { home });
    expect(JSON.parse(json.stdout)).toEqual([
      { issuer: 'Example', label: 'alice@example.com', algorithm: 'SHA1', digits: 6, period: 30, added_at: expect.any(String) },
      { issuer: '', label: 'bob', algorithm: 'SHA256', digits: 8, period: 60, added_at: expect.any(String) },
    ]);
    expect(json.stdout).not.toContain(SECRET);
  });
});
