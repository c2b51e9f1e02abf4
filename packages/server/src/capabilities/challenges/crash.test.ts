import { describe, expect, it } from 'vitest';
import { databaseKinds, freshStorage, testAdminToken } from '../../../test/harness.ts';
import { client } from '../../../test/http.ts';
import { awayFromStepBoundary } from '../../../test/otp-tools.ts';
import { freePort, runServerProcess, waitUntilHealthy } from '../../../test/process.ts';
import { newChallenge, totpUser } from '../../../test/totp-user.ts';

describe.each(databaseKinds())('verified codes across a crash on %s', (kind) => {
  it('keeps an accepted code used after kill -9: its replay is refused by the restarted server', async () => {
    const storage = await freshStorage(kind);
    try {
      const port = await freePort();
      const env: Record<string, string> = {
        PORT: String(port),
        TESSERA_DATA_DIR: storage.dataDir,
        TESSERA_ADMIN_TOKEN: testAdminToken,
        LOG_LEVEL: 'warn',
        ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}),
      };
      const baseUrl = `http://127.0.0.1:${port}`;
      const first = runServerProcess(env);
      await waitUntilHealthy(baseUrl, first);
      const api = client(baseUrl, { app: (await client(baseUrl).post('/v1/apps', { name: 'A' })).body });
      await awayFromStepBoundary();
      const user = await totpUser(api);
      const code = await user.code();
      expect((await api.post(`/v1/challenges/${await newChallenge(api, user.userId)}/verify`, { code })).status).toBe(200);
      first.child.kill('SIGKILL');
      await first.exited;

      const second = runServerProcess(env);
      await waitUntilHealthy(baseUrl, second);
      const replay = await api.post(`/v1/challenges/${await newChallenge(api, user.userId)}/verify`, { code });
      expect(replay.status).toBe(422);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await storage.drop();
    }
  }, 90_000);
});
