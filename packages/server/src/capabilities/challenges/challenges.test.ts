import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, withClient } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { busSubscriberName, killRedisClients } from '../../../test/redis-clients.ts';
import { awayFromStepBoundary, oathtool } from '../../../test/otp-tools.ts';
import { newChallenge, totpUser } from '../../../test/totp-user.ts';
import { WebhookReceiver, eventually } from '../../../test/webhook-receiver.ts';

describe.each(databaseKinds())('TOTP challenges on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let otherApi: Client;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_CHALLENGES_PER_USER_PER_MINUTE: '1000' }, webhooks: { pollIntervalMs: 100 } });
    receiver = await new WebhookReceiver().start();
    const admin = client(server.url);
    api = client(server.url, { app: (await admin.post('/v1/apps', { name: 'A', callback_url: receiver.url })).body });
    otherApi = client(server.url, { app: (await admin.post('/v1/apps', { name: 'B' })).body });
  });
  afterAll(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  const verify = (id: string, code: string, as = api) => as.post(`/v1/challenges/${id}/verify`, { code });

  it('accepts a code once: a replay is refused, even in a new challenge', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const code = await user.code();
    expect((await verify(await newChallenge(api, user.userId), code)).status).toBe(200);
    const replay = await verify(await newChallenge(api, user.userId), code);
    expect(replay.status).toBe(422);
    expect(replay.body.error.code).toBe('invalid_code');
    // An older step's code is refused too, once a newer one was used.
    expect((await verify(await newChallenge(api, user.userId), await user.code(-1))).status).toBe(422);
  });

  it('answers a verify as the challenge then reads, also after a wrong code', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const first = await newChallenge(api, user.userId);
    const verified = await verify(first, await user.code());
    expect(verified.body).toMatchObject({ status: 'verified', attempts_left: 5 }); // a right code is no wrong guess
    expect((await api.get(`/v1/challenges/${first}`)).body).toEqual(verified.body);
    const second = await newChallenge(api, user.userId);
    expect((await verify(second, '000000')).body.error.details.attempts_left).toBe(4);
    const after = await verify(second, await user.code(1));
    expect(after.body).toMatchObject({ status: 'verified', attempts_left: 4 });
    expect((await api.get(`/v1/challenges/${second}`)).body).toEqual(after.body);
  });

  it('accepts one step of drift either way, not two', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    expect((await verify(await newChallenge(api, user.userId), await user.code(-2))).status).toBe(422);
    expect((await verify(await newChallenge(api, user.userId), await user.code(2))).status).toBe(422);
    expect((await verify(await newChallenge(api, user.userId), await user.code(1))).status).toBe(200);
  });

  it('fails a challenge after 5 wrong codes; then it answers 409', async () => {
    const user = await totpUser(api);
    const id = await newChallenge(api, user.userId);
    const lefts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await verify(id, '000000');
      expect(reply.status).toBe(422);
      lefts.push(reply.body.error.details.attempts_left);
    }
    expect(lefts).toEqual([4, 3, 2, 1, 0]);
    expect((await api.get(`/v1/challenges/${id}`)).body.status).toBe('failed');
    const after = await verify(id, await user.code());
    expect(after.status).toBe(409);
    expect(after.body.error.code).toBe('challenge_not_pending');
  });

  it('locks a user for 15 minutes after 10 wrong codes in a row (429 with Retry-After), also for a right code', async () => {
    const user = await totpUser(api);
    for (let i = 0; i < 10; i++) {
      const id = await newChallenge(api, user.userId);
      expect((await verify(id, '000000')).status).toBe(422);
    }
    const locked = await verify(await newChallenge(api, user.userId), await user.code());
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('user_locked');
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
  });

  it('a right code resets the count of wrong codes', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    for (let i = 0; i < 9; i++) expect((await verify(await newChallenge(api, user.userId), '000000')).status).toBe(422);
    expect((await verify(await newChallenge(api, user.userId), await user.code())).status).toBe(200);
    for (let i = 0; i < 9; i++) expect((await verify(await newChallenge(api, user.userId), '000000')).status).toBe(422);
    expect((await verify(await newChallenge(api, user.userId), await user.code(1))).status).toBe(200);
  });

  it('evaluates no more than 10 guesses of 100 wrong codes sent at once', async () => {
    const user = await totpUser(api);
    const ids = await Promise.all(Array.from({ length: 20 }, () => newChallenge(api, user.userId)));
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => verify(ids[i % 20]!, String(100000 + i))),
    );
    const statuses = replies.map((reply) => reply.status);
    expect(statuses.filter((status) => status === 422)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(90);
    expect((await verify(ids[0]!, await user.code())).status).toBe(429);
  });

  it('accepts exactly one of 20 concurrent verifies of one valid code', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const code = await user.code();
    const ids = await Promise.all(Array.from({ length: 20 }, () => newChallenge(api, user.userId)));
    const replies = await Promise.all(ids.map((id) => verify(id, code)));
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(1);
    // The others are replays: wrong codes, which also count toward the user's lockout.
    expect(replies.filter((reply) => reply.status === 422 || reply.status === 429)).toHaveLength(19);
  });

  it('verifies the rounds of many users sent at once, each with its event, and clears their earlier wrong codes', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => totpUser(api)));
    for (const user of users.slice(0, 6)) expect((await verify(await newChallenge(api, user.userId), '000000')).status).toBe(422);
    await awayFromStepBoundary();
    const ids = await Promise.all(users.map((user) => newChallenge(api, user.userId)));
    const codes = await Promise.all(users.map((user) => user.code()));
    const replies = await Promise.all(ids.map((id, index) => verify(id, codes[index] as string)));
    expect(replies.map((reply) => reply.body.status)).toEqual(users.map(() => 'verified'));
    const userIds = users.map((user) => user.userId);
    const failed = await server.db.query<{ failed_codes: number }>('SELECT failed_codes FROM users WHERE user_id = ANY ($1)', [userIds]);
    expect(failed.map((row) => row.failed_codes)).toEqual(users.map(() => 0));
    await eventually(async () => {
      const verified = receiver.received.map((request) => JSON.parse(request.body)).filter((event) => event.type === 'challenge.verified');
      return ids.every((id) => verified.filter((event) => event.data.challenge_id === id).length === 1) ? true : undefined;
    }, 15_000);
  });

  it('expires: a read after expires_at shows expired at once, and a verify is 409', async () => {
    const user = await totpUser(api);
    const created = await api.post(`/v1/users/${user.userId}/challenges`, { expires_in: 1, reference_id: 'order-1' });
    expect(created.body.expires_at).toBe(new Date(Date.parse(created.body.created_at) + 1000).toISOString());
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await api.get(`/v1/challenges/${created.body.challenge_id}`)).body.status).toBe('expired');
    expect((await verify(created.body.challenge_id, await user.code())).status).toBe(409);
  });

  it('long-polls: a read with ?wait= answers as soon as the challenge is verified', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    const id = await newChallenge(api, user.userId);
    const started = Date.now();
    const waiting = api.get(`/v1/challenges/${id}?wait=20`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await verify(id, await user.code())).status).toBe(200);
    const reply = await waiting;
    expect(reply.body.status).toBe('verified');
    expect(Date.now() - started).toBeLessThan(5_000);
    // A wait on a pending challenge ends when the wait is over, still pending.
    const pending = await newChallenge(api, user.userId);
    const before = Date.now();
    expect((await api.get(`/v1/challenges/${pending}?wait=1`)).body.status).toBe('pending');
    expect(Date.now() - before).toBeGreaterThanOrEqual(900);
  });

  // A long-poll does not read again on a timer: after a gap in the bus (the server's Redis subscription dropped),
  // it reads again, so a change whose message was lost meanwhile is still seen long before the wait ends.
  it.runIf(kind === 'postgres' && process.env.TESSERA_TEST_REDIS_URL)('long-polls: reads again after the bus lost messages', async () => {
    const user = await totpUser(api);
    const id = await newChallenge(api, user.userId);
    const started = Date.now();
    const waiting = api.get(`/v1/challenges/${id}?wait=30`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The change is committed with no message (as if it were published while the subscription was down).
    await withClient(server.storage.databaseUrl as string, (db) =>
      db.query(`UPDATE challenges SET status = 'verified', resolved_at = now() WHERE id = $1`, [id]),
    );
    expect(await killRedisClients(busSubscriberName(server.url))).toBe(1);
    expect((await waiting).body.status).toBe('verified');
    expect(Date.now() - started).toBeLessThan(10_000);
    // Operators see it: one gap counted.
    expect((await api.get('/metrics', { as: null })).body).toMatch(/^tessera_realtime_bus_gaps_total 1$/m);
  });

  it('ends the pending challenges of a factor when it is deleted', async () => {
    const user = await totpUser(api);
    const id = await newChallenge(api, user.userId);
    const waiting = api.get(`/v1/challenges/${id}?wait=20`);
    expect((await api.delete(`/v1/factors/${user.factorId}`)).status).toBe(204);
    const ended = await waiting;
    expect(ended.body.status).toBe('failed');
    expect((await verify(id, await user.code())).status).toBe(409);
  });

  it('redeems recovery codes once each; regenerating revokes the old ones', async () => {
    const user = await totpUser(api);
    const generated = await api.post(`/v1/users/${user.userId}/recovery-codes`);
    expect(generated.status).toBe(201);
    const codes: string[] = generated.body.codes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const factors = (await api.get(`/v1/users/${user.userId}`)).body.factors;
    expect(factors.find((f: { type: string }) => f.type === 'recovery')).toMatchObject({ status: 'active', codes_left: 10 });

    const recovery = (body = {}) => newChallenge(api, user.userId, { type: 'recovery', ...body });
    const id = await recovery();
    expect((await verify(id, codes[0]!.toUpperCase())).body.status).toBe('verified');
    expect((await verify(await recovery(), codes[0]!)).status).toBe(422);
    expect((await api.get(`/v1/users/${user.userId}`)).body.factors.find((f: { type: string }) => f.type === 'recovery').codes_left).toBe(9);

    const again = (await api.post(`/v1/users/${user.userId}/recovery-codes`)).body.codes;
    expect((await verify(await recovery(), codes[1]!)).status).toBe(422);
    expect((await verify(await recovery(), again[1]!)).status).toBe(200);
  });

  it('takes a user id of up to 255 characters of any script, and a create with no body (the active factor)', async () => {
    const user = await totpUser(api, '€'.repeat(230)); // ≈ 2,100 characters once percent-encoded
    const path = `/v1/users/${encodeURIComponent(user.userId)}/challenges`;
    for (const reply of [await api.call('POST', path), await api.call('POST', path, { raw: '', headers: { 'content-type': 'application/json' } })]) {
      expect(reply.status).toBe(201);
      expect(reply.body.factor_id).toBe(user.factorId);
    }
    expect((await api.get(`/v1/users/${encodeURIComponent(user.userId)}`)).body.user_id).toBe(user.userId);
    const tooLong = await api.get(`/v1/users/${'u'.repeat(256)}`);
    expect([tooLong.status, tooLong.body.error.details.field]).toEqual([400, 'params.user_id']);
  });

  it('keeps apps apart: another app’s user, factor and challenge are 404', async () => {
    const user = await totpUser(api);
    const id = await newChallenge(api, user.userId);
    for (const reply of [
      await otherApi.get(`/v1/users/${user.userId}`),
      await otherApi.get(`/v1/factors/${user.factorId}`),
      await otherApi.post(`/v1/factors/${user.factorId}/activate`, { code: '123456' }),
      await otherApi.delete(`/v1/factors/${user.factorId}`),
      await otherApi.get(`/v1/challenges/${id}`),
      await verify(id, await user.code(), otherApi),
      await otherApi.post(`/v1/users/${user.userId}/challenges`, { factor_id: user.factorId }),
    ]) {
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe('not_found');
    }
    expect((await api.get(`/v1/challenges/${id}`)).body.status).toBe('pending');
  });

  it('sends factor and challenge events to the app', async () => {
    await awayFromStepBoundary();
    const user = await totpUser(api);
    await verify(await newChallenge(api, user.userId), await user.code());
    const failing = await newChallenge(api, user.userId);
    for (let i = 0; i < 5; i++) await verify(failing, '111111');
    const expiring = await newChallenge(api, user.userId, { expires_in: 1 });
    // The sweeper expires it without anyone reading it (deleting the factor first would fail it instead).
    await eventually(async () => {
      const reply = await server.db.query<{ status: string }>('SELECT status FROM challenges WHERE id = $1', [expiring]);
      return reply[0]?.status === 'expired' ? true : undefined;
    });
    await api.delete(`/v1/factors/${user.factorId}`);
    const types = await eventually(async () => {
      const mine = receiver.received
        .map((request) => JSON.parse(request.body))
        .filter((event) => event.data.user_id === user.userId)
        .map((event) => event.type);
      const wanted = ['factor.activated', 'challenge.verified', 'challenge.failed', 'challenge.expired', 'factor.deleted'];
      return wanted.every((type) => mine.includes(type)) ? mine : undefined;
    }, 15_000);
    expect(types).toContain('challenge.expired');
  });

  it('stores no TOTP secret, in Base32 or raw, in the database', async () => {
    const user = await totpUser(api);
    const tables = await server.db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    let dump = '';
    for (const { tablename } of tables) {
      const rows = await server.db.query(`SELECT * FROM ${tablename}`);
      dump += JSON.stringify(rows, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
    }
    const { decodeBase32Secret } = await import('../factors/totp.ts');
    const raw = Buffer.from(decodeBase32Secret(user.secret)!);
    expect(dump).toContain(user.factorId);
    expect(dump).not.toContain(user.secret);
    expect(dump.toLowerCase()).not.toContain(raw.toString('hex'));
    expect(dump).not.toContain(raw.toString('base64'));
  });

  it('uses oathtool codes for an imported secret', async () => {
    await awayFromStepBoundary();
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const userId = `import-${Math.random().toString(36).slice(2)}`;
    const wrong = await api.post(`/v1/users/${userId}/factors`, { type: 'totp', secret, code: '000000' });
    expect(wrong.status).toBe(422);
    expect((await api.get(`/v1/users/${userId}`)).status).toBe(404);
    const imported = await api.post(`/v1/users/${userId}/factors`, { type: 'totp', secret, code: await oathtool(secret) });
    expect(imported.status).toBe(201);
    expect(imported.body.status).toBe('active');
    // The import's code is used up; the next step's code verifies.
    const id = await newChallenge(api, userId);
    expect((await verify(id, await oathtool(secret))).status).toBe(422);
    expect((await verify(await newChallenge(api, userId), await oathtool(secret, { offsetSteps: 1 }))).status).toBe(200);
  });
});
