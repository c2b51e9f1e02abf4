import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { failure } from '../test/failures.ts';
import { awayFromStepBoundary, newBase32Secret, oathtool, wrongCode, zbarimg } from '../test/totp.ts';
import { Tessera, TesseraAdmin, type EnrolledTotpFactor, type Factor, type User } from './index.ts';

describe.each(databaseKinds())('Tessera users, TOTP factors and recovery codes against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let admin: TesseraAdmin;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
  });
  afterAll(() => server?.stop());

  async function newApp(name = 'Shop'): Promise<Tessera> {
    const app = await admin.apps.create({ name, issuer_name: `${name} Inc` });
    return new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: app.app_secret });
  }

  /** An enrolled TOTP factor activated with the current step's code. */
  async function activeFactor(tessera: Tessera, userId: string): Promise<EnrolledTotpFactor> {
    const enrolled = await tessera.factors.enrollTotp(userId);
    await awayFromStepBoundary();
    await tessera.factors.activate(enrolled.factor_id, await oathtool(enrolled.secret));
    return enrolled;
  }

  it('creates, updates, reads and deletes a user, whatever characters the id holds', async () => {
    const tessera = await newApp();
    const userId = 'user/42 ü?#%&=+.';
    expect(await failure(tessera.users.retrieve(userId))).toMatchObject({ code: 'not_found', status: 404 });

    const created: User = await tessera.users.upsert(userId, { email: 'ada@example.com', display_name: 'Ada' });
    expect(created).toMatchObject({
      user_id: userId,
      email: 'ada@example.com',
      phone: null,
      display_name: 'Ada',
      two_factor_enabled: false,
      factors: [],
    });
    // Members left out stay; null clears one.
    expect(await tessera.users.upsert(userId, { phone: '+44 20 7946 0000' })).toMatchObject({
      email: 'ada@example.com',
      phone: '+44 20 7946 0000',
    });
    expect(await tessera.users.upsert(userId, { email: null })).toMatchObject({ email: null, display_name: 'Ada' });
    expect(await tessera.users.retrieve(userId)).toMatchObject({ user_id: userId, phone: '+44 20 7946 0000' });

    const invalid = await failure(tessera.users.upsert(userId, { email: 'not an email' }));
    expect(invalid).toMatchObject({ code: 'validation_failed', status: 400 });

    await tessera.users.delete(userId);
    expect(await failure(tessera.users.retrieve(userId))).toMatchObject({ code: 'not_found', status: 404 });
    expect(await failure(tessera.users.delete(userId))).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('refuses ids no URL path can hold instead of calling another route', async () => {
    const tessera = await newApp();
    for (const userId of ['', '.', '..']) {
      await expect(tessera.users.retrieve(userId)).rejects.toBeInstanceOf(TypeError);
      await expect(tessera.factors.enrollTotp(userId)).rejects.toBeInstanceOf(TypeError);
      await expect(tessera.challenges.create(userId)).rejects.toBeInstanceOf(TypeError);
    }
    await expect(tessera.factors.retrieve('..')).rejects.toBeInstanceOf(TypeError);
  });

  it('enrolls TOTP with a QR code, activates it with the first code, and then counts it as two-factor', async () => {
    const tessera = await newApp('Enroll');
    const userId = 'enroll@example.com';
    await tessera.users.upsert(userId, { email: userId });
    const enrolled = await tessera.factors.enrollTotp(userId, { name: 'Work phone' });
    expect(enrolled).toMatchObject({ user_id: userId, type: 'totp', status: 'unverified', name: 'Work phone' });
    expect(enrolled).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, activated_at: null });
    expect(enrolled.factor_id).toMatch(/^fac_/);
    expect(enrolled.secret).toMatch(/^[A-Z2-7]{26,}$/);
    expect(await zbarimg(enrolled.qr_data_url)).toBe(enrolled.uri);
    const uri = new URL(enrolled.uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(enrolled.secret);
    expect(uri.searchParams.get('issuer')).toBe('Enroll Inc');
    expect((await tessera.users.retrieve(userId)).two_factor_enabled).toBe(false);

    // A wrong first code: 422 with the user's wrong codes left before the lockout; the factor stays unverified.
    const wrong = await failure(tessera.factors.activate(enrolled.factor_id, await wrongCode(enrolled.secret)));
    expect(wrong).toMatchObject({ code: 'invalid_code', status: 422, details: { attempts_left: 9 } });
    expect((await tessera.factors.retrieve(enrolled.factor_id)).status).toBe('unverified');

    await awayFromStepBoundary();
    const activated: Factor = await tessera.factors.activate(enrolled.factor_id, await oathtool(enrolled.secret));
    expect(activated).toMatchObject({ factor_id: enrolled.factor_id, status: 'active' });
    expect(activated).not.toHaveProperty('secret');
    expect(Date.parse(activated.activated_at ?? '')).not.toBeNaN();
    expect(await failure(tessera.factors.activate(enrolled.factor_id, await oathtool(enrolled.secret)))).toMatchObject({
      code: 'factor_already_active',
      status: 409,
    });

    const user = await tessera.users.retrieve(userId);
    expect(user.two_factor_enabled).toBe(true);
    expect(user.factors).toEqual([activated]);
    expect(await tessera.factors.list(userId)).toEqual([activated]);
    expect(await tessera.factors.retrieve(enrolled.factor_id)).toEqual(activated);

    await tessera.factors.delete(enrolled.factor_id);
    expect(await failure(tessera.factors.retrieve(enrolled.factor_id))).toMatchObject({ code: 'not_found', status: 404 });
    expect(await tessera.factors.list(userId)).toEqual([]);
    expect((await tessera.users.retrieve(userId)).two_factor_enabled).toBe(false);
  });

  it('enrolls with other parameters, whose codes oathtool computes alike', async () => {
    const tessera = await newApp();
    const enrolled = await tessera.factors.enrollTotp('params', { algorithm: 'SHA512', digits: 8, period: 60 });
    expect(enrolled).toMatchObject({ algorithm: 'SHA512', digits: 8, period: 60 });
    expect(new URL(enrolled.uri).searchParams.get('algorithm')).toBe('SHA512');
    const params = { algorithm: 'SHA512', digits: 8, period: 60 };
    await awayFromStepBoundary(60);
    expect(await tessera.factors.activate(enrolled.factor_id, await oathtool(enrolled.secret, params))).toMatchObject({
      status: 'active',
    });
    // A 6-digit code cannot be right for an 8-digit factor: refused by its form, not counted.
    const other = await tessera.factors.enrollTotp('params', { digits: 8 });
    expect(await failure(tessera.factors.activate(other.factor_id, '123456'))).toMatchObject({
      code: 'validation_failed',
      status: 400,
      details: { field: 'code' },
    });
    expect(await failure(tessera.factors.enrollTotp('params', { digits: 7 as 6 }))).toMatchObject({
      code: 'validation_failed',
    });
  });

  it('replays an enrollment sent again with the same Idempotency-Key', async () => {
    const tessera = await newApp();
    const first = await tessera.factors.enrollTotp('idem', {}, { idempotencyKey: 'enroll-idem-1' });
    const again = await tessera.factors.enrollTotp('idem', {}, { idempotencyKey: 'enroll-idem-1' });
    expect(again).toEqual(first);
    expect(await tessera.factors.list('idem')).toHaveLength(1);
    const reused = await failure(tessera.factors.enrollTotp('idem', { name: 'Other' }, { idempotencyKey: 'enroll-idem-1' }));
    expect(reused).toMatchObject({ code: 'idempotency_key_reused', status: 422 });
  });

  it('imports an existing secret with a current code: active at once; a wrong code stores nothing', async () => {
    const tessera = await newApp();
    const userId = 'importer';
    const secret = newBase32Secret();
    const refused = await failure(tessera.factors.importTotp(userId, { secret, code: await wrongCode(secret) }));
    expect(refused).toMatchObject({ code: 'invalid_code', status: 422 });
    expect(await tessera.factors.list(userId)).toEqual([]);
    const short = await failure(tessera.factors.importTotp(userId, { secret: newBase32Secret(5), code: '123456' }));
    expect(short).toMatchObject({ code: 'validation_failed', details: { field: 'secret' } });

    await awayFromStepBoundary();
    const imported = await tessera.factors.importTotp(userId, { secret, code: await oathtool(secret), name: 'Old app' });
    expect(imported).toMatchObject({ user_id: userId, type: 'totp', status: 'active', name: 'Old app', secret });
    expect((await tessera.users.retrieve(userId)).two_factor_enabled).toBe(true);

    // The imported factor answers challenges (the next step's code: the import used this one).
    const challenge = await tessera.challenges.create(userId);
    expect(challenge.factor_id).toBe(imported.factor_id);
    const verified = await tessera.challenges.verify(challenge.challenge_id, await oathtool(secret, { offsetSteps: 1 }));
    expect(verified.status).toBe('verified');
  });

  it('generates recovery codes, once per key, and a new set revokes the old', async () => {
    const tessera = await newApp();
    const userId = 'recovering';
    await activeFactor(tessera, userId);
    const codes = await tessera.recoveryCodes.generate(userId, { idempotencyKey: 'codes-1' });
    expect(codes.factor_id).toMatch(/^fac_/);
    expect(codes.codes).toHaveLength(10);
    expect(new Set(codes.codes).size).toBe(10);
    expect(await tessera.recoveryCodes.generate(userId, { idempotencyKey: 'codes-1' })).toEqual(codes);

    const recovery = (await tessera.factors.list(userId)).find((factor) => factor.type === 'recovery');
    expect(recovery).toMatchObject({ factor_id: codes.factor_id, status: 'active', codes_left: 10 });

    const renewed = await tessera.recoveryCodes.generate(userId);
    expect(renewed.codes).not.toEqual(codes.codes);
    const factors = await tessera.factors.list(userId);
    expect(factors.filter((factor) => factor.type === 'recovery').map((factor) => factor.factor_id)).toEqual([
      renewed.factor_id,
    ]);
    const challenge = await tessera.challenges.create(userId, { type: 'recovery' });
    expect(await failure(tessera.challenges.verify(challenge.challenge_id, codes.codes[0]!))).toMatchObject({
      code: 'invalid_code',
    });
    expect((await tessera.challenges.verify(challenge.challenge_id, renewed.codes[0]!)).status).toBe('verified');
  });

  it("sees another app's users, factors and challenges as 404", async () => {
    const mine = await newApp('Mine');
    const theirs = await newApp('Theirs');
    const userId = 'shared-name';
    const factor = await activeFactor(mine, userId);
    const challenge = await mine.challenges.create(userId);

    const calls = [
      () => theirs.users.retrieve(userId),
      () => theirs.users.delete(userId),
      () => theirs.factors.retrieve(factor.factor_id),
      () => theirs.factors.activate(factor.factor_id, '123456'),
      () => theirs.factors.delete(factor.factor_id),
      () => theirs.challenges.retrieve(challenge.challenge_id),
      () => theirs.challenges.verify(challenge.challenge_id, '123456'),
    ];
    for (const call of calls) expect(await failure(call()), String(call)).toMatchObject({ code: 'not_found', status: 404 });
    expect(await theirs.factors.list(userId)).toEqual([]);
    // Their user of the same name is theirs alone: no factor, no challenge.
    expect(await failure(theirs.challenges.create(userId))).toMatchObject({ status: 404 });
    expect((await mine.factors.retrieve(factor.factor_id)).status).toBe('active');
    expect((await mine.challenges.retrieve(challenge.challenge_id)).status).toBe('pending');
  });
});
