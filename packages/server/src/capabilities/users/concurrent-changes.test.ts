import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client, type Reply } from '../../../test/http.ts';
import { awayFromStepBoundary } from '../../../test/otp-tools.ts';
import { deviceKeys, registerPushDevice, tokenOf } from '../../../test/push-device.ts';
import { newChallenge, totpUser } from '../../../test/totp-user.ts';

// A user's factors, codes and existence changed while their codes are checked, all at once: the answers are those of
// some order of the calls, never a 5xx (a deadlock, a row deleted under a statement). PGlite runs one statement at a
// time, so only PostgreSQL really overlaps them.
describe.each(databaseKinds())('changes to a user while their codes are checked, at once, on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let admin: Client;
  let api: Client;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000' } });
    admin = client(server.url);
    api = client(server.url, { app: (await admin.post('/v1/apps', { name: 'Bank' })).body });
  });
  afterAll(() => server?.stop());

  const statuses = (replies: Reply[]) => replies.map((reply) => reply.status);
  const verify = (challengeId: string, code: string) => api.post(`/v1/challenges/${challengeId}/verify`, { code });
  const recoveryChallenges = (userId: string, count: number) =>
    Promise.all(Array.from({ length: count }, () => newChallenge(api, userId, { type: 'recovery' })));

  it('uses the last recovery code once while other recovery challenges of the user are verified with it', async () => {
    const user = await totpUser(api);
    const { codes } = (await api.post(`/v1/users/${user.userId}/recovery-codes`)).body as { codes: string[] };
    for (const code of codes.slice(0, 9)) {
      expect((await verify(await newChallenge(api, user.userId, { type: 'recovery' }), code)).status).toBe(200);
    }
    const challenges = await recoveryChallenges(user.userId, 10);
    const replies = await Promise.all(challenges.map((challengeId) => verify(challengeId, codes[9] as string)));
    expect(statuses(replies).filter((status) => status === 200)).toHaveLength(1);
    expect(statuses(replies).every((status) => [200, 409, 422].includes(status)), JSON.stringify(statuses(replies))).toBe(true);
  });

  it('regenerates recovery codes while codes are verified', async () => {
    const user = await totpUser(api);
    const { codes } = (await api.post(`/v1/users/${user.userId}/recovery-codes`)).body as { codes: string[] };
    const challenges = await recoveryChallenges(user.userId, 8);
    const replies = await Promise.all([
      ...challenges.map((challengeId, index) => verify(challengeId, codes[index] as string)),
      api.post(`/v1/users/${user.userId}/recovery-codes`),
      api.post(`/v1/users/${user.userId}/recovery-codes`),
    ]);
    expect(statuses(replies).every((status) => [200, 201, 409, 422].includes(status)), JSON.stringify(statuses(replies))).toBe(true);
    expect(statuses(replies.slice(-2))).toEqual([201, 201]);
  });

  it('deletes a user while their codes are verified', async () => {
    for (let round = 0; round < 5; round++) {
      await awayFromStepBoundary();
      const user = await totpUser(api);
      const challenges = await Promise.all(Array.from({ length: 12 }, () => newChallenge(api, user.userId)));
      const right = await user.code();
      const replies = await Promise.all([
        ...challenges.map((challengeId, index) => verify(challengeId, index % 5 === 0 ? right : '000000')),
        api.delete(`/v1/users/${user.userId}`),
      ]);
      const verifies = statuses(replies.slice(0, -1));
      expect(verifies.every((status) => [200, 404, 409, 422].includes(status)), JSON.stringify(verifies)).toBe(true);
      expect(replies.at(-1)?.status).toBe(204);
      expect((await api.get(`/v1/users/${user.userId}`)).status).toBe(404);
    }
  });

  it('keeps a user within 20 factors when devices register at once', async () => {
    const userId = `crowded-${kind}-${Date.now()}`;
    const uris = [];
    for (let i = 0; i < 24; i++) uris.push((await api.post(`/v1/users/${userId}/device-registrations`)).body.registration_uri as string);
    const anonymous = client(server.url, null);
    const replies = await Promise.all(
      uris.map(async (uri) => anonymous.post('/v1/devices', { registration_token: tokenOf(uri), public_key: (await deviceKeys()).publicJwk })),
    );
    expect(statuses(replies).filter((status) => status === 201)).toHaveLength(20);
    expect(statuses(replies).filter((status) => status === 400)).toHaveLength(4);
    expect((await api.get(`/v1/users/${userId}/factors`)).body.data).toHaveLength(20);
  });

  it('leaves no push challenge pending once the only device is removed while challenges are made for it', async () => {
    for (let round = 0; round < 5; round++) {
      const device = await registerPushDevice(api, server.url);
      const replies = await Promise.all([
        api.post(`/v1/users/${device.userId}/challenges`, { type: 'push' }),
        api.post(`/v1/users/${device.userId}/challenges`, { factor_id: device.factorId }),
        api.delete(`/v1/devices/${device.deviceId}`),
      ]);
      expect(replies[2]?.status).toBe(204);
      for (const created of replies.slice(0, 2)) {
        expect([201, 404, 409], JSON.stringify(created.body)).toContain(created.status);
        if (created.status === 201) expect((await api.get(`/v1/challenges/${created.body.challenge_id}`)).body.status).toBe('failed');
      }
    }
  });

  it('answers 404, not 500, to calls for an app deleted while they run', async () => {
    const doomed = (await admin.post('/v1/apps', { name: 'Doomed' })).body;
    const doomedApi = client(server.url, { app: doomed });
    const user = await totpUser(doomedApi);
    const replies = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0 ? doomedApi.post(`/v1/users/new-${i}/actions/signIn`, {}) : doomedApi.post(`/v1/users/${user.userId}/challenges`, {}),
      ),
      admin.delete(`/v1/apps/${doomed.app_id}`),
    ]);
    expect(replies.at(-1)?.status).toBe(204);
    expect(statuses(replies).every((status) => status < 500), JSON.stringify(statuses(replies))).toBe(true);
  });
});
