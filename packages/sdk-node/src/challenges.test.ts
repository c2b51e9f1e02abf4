import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { failure } from '../test/failures.ts';
import { awayFromStepBoundary, oathtool, wrongCode } from '../test/totp.ts';
import { Tessera, TesseraAdmin, type Challenge, type EnrolledTotpFactor, type InvalidCodeDetails } from './index.ts';

describe.each(databaseKinds())('Tessera challenges against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let admin: TesseraAdmin;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
  });
  afterAll(() => server?.stop());

  async function newApp(options: { timeoutMs?: number } = {}): Promise<Tessera> {
    const app = await admin.apps.create({ name: 'Shop', challenge_default_message: 'Sign in to Shop?' });
    return new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: app.app_secret, ...options });
  }

  /** A user with a TOTP factor activated with this step's code: the next step's code is the fresh one. */
  async function userWithTotp(tessera: Tessera, userId: string): Promise<EnrolledTotpFactor> {
    const enrolled = await tessera.factors.enrollTotp(userId);
    await awayFromStepBoundary();
    await tessera.factors.activate(enrolled.factor_id, await oathtool(enrolled.secret));
    return enrolled;
  }

  const nextCode = (factor: EnrolledTotpFactor) => oathtool(factor.secret, { offsetSteps: 1 });

  it('enroll, activate, challenge, verify: waitForResult sees verified, and a second verify is 409', async () => {
    const tessera = await newApp();
    const userId = 'flow@example.com';
    const factor = await userWithTotp(tessera, userId);
    expect((await tessera.users.retrieve(userId)).two_factor_enabled).toBe(true);

    const challenge: Challenge = await tessera.challenges.create(userId, {
      referenceId: 'order-42',
      message: 'Pay 42 EUR?',
      details: { amount: '42 EUR' },
      hiddenDetails: { cart: 7 },
      expiresIn: 120,
    });
    expect(challenge).toMatchObject({
      user_id: userId,
      status: 'pending',
      factor_id: factor.factor_id,
      factor_type: 'totp',
      reference_id: 'order-42',
      message: 'Pay 42 EUR?',
      details: { amount: '42 EUR' },
      hidden_details: { cart: 7 },
      attempts_left: 5,
      resolved_at: null,
    });
    expect(challenge.challenge_id).toMatch(/^chl_/);
    const lifetime = Date.parse(challenge.expires_at) - Date.parse(challenge.created_at);
    expect(lifetime).toBeGreaterThan(119_000);
    expect(lifetime).toBeLessThan(121_000);

    const verified = await tessera.challenges.verify(challenge.challenge_id, await nextCode(factor));
    expect(verified).toMatchObject({ challenge_id: challenge.challenge_id, status: 'verified' });
    expect(Date.parse(verified.resolved_at ?? '')).not.toBeNaN();
    expect(await tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 5 })).toEqual(verified);
    expect(await tessera.challenges.retrieve(challenge.challenge_id)).toEqual(verified);

    const again = await failure(tessera.challenges.verify(challenge.challenge_id, await nextCode(factor)));
    expect(again).toMatchObject({ code: 'challenge_not_pending', status: 409, details: { status: 'verified' } });
  });

  it('takes the app default message, and the factor named', async () => {
    const tessera = await newApp();
    const factor = await userWithTotp(tessera, 'defaults');
    const challenge = await tessera.challenges.create('defaults', { factorId: factor.factor_id, type: 'totp' });
    expect(challenge).toMatchObject({ factor_id: factor.factor_id, message: 'Sign in to Shop?', reference_id: null });
    const unknown = await failure(tessera.challenges.create('defaults', { factorId: 'fac_unknown' }));
    expect(unknown).toMatchObject({ code: 'not_found', status: 404 });
    const tooLong = await failure(tessera.challenges.create('defaults', { expiresIn: 3601 }));
    expect(tooLong).toMatchObject({ code: 'validation_failed', status: 400, details: { field: 'expires_in' } });
  });

  it('counts wrong codes down in attempts_left, fails the challenge at the fifth, then answers 409', async () => {
    const tessera = await newApp();
    const factor = await userWithTotp(tessera, 'guesser');
    const challenge = await tessera.challenges.create('guesser');
    const wrong = await wrongCode(factor.secret);
    for (const attemptsLeft of [4, 3, 2, 1]) {
      const error = await failure(tessera.challenges.verify(challenge.challenge_id, wrong));
      expect(error).toMatchObject({ code: 'invalid_code', status: 422 });
      expect(error.details as InvalidCodeDetails).toMatchObject({ attempts_left: attemptsLeft, status: 'pending' });
    }
    const fifth = await failure(tessera.challenges.verify(challenge.challenge_id, wrong));
    expect(fifth).toMatchObject({ code: 'invalid_code', details: { attempts_left: 0, status: 'failed', user_locked: false } });
    expect(await tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 5 })).toMatchObject({
      status: 'failed',
    });
    // Even the right code no longer helps.
    expect(await failure(tessera.challenges.verify(challenge.challenge_id, await nextCode(factor)))).toMatchObject({
      code: 'challenge_not_pending',
      status: 409,
      details: { status: 'failed' },
    });
  });

  it('accepts a code once: the code that verified one challenge is invalid_code on the next', async () => {
    const tessera = await newApp();
    const factor = await userWithTotp(tessera, 'replayer');
    const code = await nextCode(factor);
    const first = await tessera.challenges.create('replayer');
    expect((await tessera.challenges.verify(first.challenge_id, code)).status).toBe('verified');
    const second = await tessera.challenges.create('replayer');
    expect(await failure(tessera.challenges.verify(second.challenge_id, code))).toMatchObject({
      code: 'invalid_code',
      details: { attempts_left: 4 },
    });
  });

  it('redeems a recovery code through a recovery challenge, once', async () => {
    const tessera = await newApp();
    const userId = 'lost-phone';
    await userWithTotp(tessera, userId);
    expect(await failure(tessera.challenges.create(userId, { type: 'recovery' }))).toMatchObject({
      code: 'no_active_factor',
      status: 409,
    });
    const { factor_id, codes } = await tessera.recoveryCodes.generate(userId);

    const challenge = await tessera.challenges.create(userId, { type: 'recovery', referenceId: 'reset-1' });
    expect(challenge).toMatchObject({ status: 'pending', factor_type: 'recovery', factor_id });
    const verified = await tessera.challenges.verify(challenge.challenge_id, codes[0]!);
    expect(verified).toMatchObject({ status: 'verified', reference_id: 'reset-1' });
    expect(await tessera.factors.retrieve(factor_id)).toMatchObject({ type: 'recovery', codes_left: 9 });

    const reuse = await tessera.challenges.create(userId, { type: 'recovery' });
    expect(await failure(tessera.challenges.verify(reuse.challenge_id, codes[0]!))).toMatchObject({
      code: 'invalid_code',
      status: 422,
      details: { attempts_left: 4 },
    });
    expect((await tessera.challenges.verify(reuse.challenge_id, codes[1]!)).status).toBe('verified');
    expect(await failure(tessera.challenges.verify(reuse.challenge_id, codes[2]!))).toMatchObject({
      code: 'challenge_not_pending',
    });
  });

  it('answers no_active_factor for a user whose only factor is not activated yet', async () => {
    const tessera = await newApp();
    await tessera.factors.enrollTotp('unfinished');
    expect(await failure(tessera.challenges.create('unfinished'))).toMatchObject({ code: 'no_active_factor', status: 409 });
    expect(await failure(tessera.challenges.create('never-seen'))).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('replays a challenge creation sent again with the same Idempotency-Key', async () => {
    const tessera = await newApp();
    await userWithTotp(tessera, 'idem');
    const first = await tessera.challenges.create('idem', { referenceId: 'r1' }, { idempotencyKey: 'challenge-r1' });
    const again = await tessera.challenges.create('idem', { referenceId: 'r1' }, { idempotencyKey: 'challenge-r1' });
    expect(again).toEqual(first);
    const other = await tessera.challenges.create('idem', { referenceId: 'r1' });
    expect(other.challenge_id).not.toBe(first.challenge_id);
  });

  it('long-polls: waitForResult wakes up when another call verifies the challenge', async () => {
    const tessera = await newApp();
    const factor = await userWithTotp(tessera, 'waiter');
    const challenge = await tessera.challenges.create('waiter');
    const started = Date.now();
    const waiting = tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 30 });
    await sleep(500);
    await tessera.challenges.verify(challenge.challenge_id, await nextCode(factor));
    expect(await waiting).toMatchObject({ challenge_id: challenge.challenge_id, status: 'verified' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('long-polls past the client timeout, and waitForResult answers the pending challenge when the time is up', async () => {
    const tessera = await newApp({ timeoutMs: 1_000 });
    await userWithTotp(tessera, 'patient');
    const challenge = await tessera.challenges.create('patient');

    let started = Date.now();
    expect((await tessera.challenges.retrieve(challenge.challenge_id, { waitSeconds: 2 })).status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);

    started = Date.now();
    expect((await tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 3 })).status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(Date.now() - started).toBeLessThan(6_000);

    const invalid = await failure(tessera.challenges.retrieve(challenge.challenge_id, { waitSeconds: 61 }));
    expect(invalid).toMatchObject({ code: 'validation_failed', status: 400 });
  });

  it('waitForResult sees a challenge expire', async () => {
    const tessera = await newApp();
    await userWithTotp(tessera, 'slow');
    const challenge = await tessera.challenges.create('slow', { expiresIn: 1 });
    const started = Date.now();
    const ended = await tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 20 });
    expect(ended.status).toBe('expired');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await failure(tessera.challenges.verify(challenge.challenge_id, '123456'))).toMatchObject({
      code: 'challenge_not_pending',
      details: { status: 'expired' },
    });
  });

  it('locks the user after ten wrong codes in a row: 429 user_locked with retryAfter, even for a right code', async () => {
    const tessera = await newApp();
    const userId = 'locked-out';
    const active = await userWithTotp(tessera, userId);
    const second = await tessera.factors.enrollTotp(userId);
    const wrong = await wrongCode(second.secret);
    for (let attemptsLeft = 9; attemptsLeft >= 1; attemptsLeft--) {
      const error = await failure(tessera.factors.activate(second.factor_id, wrong));
      expect(error).toMatchObject({ code: 'invalid_code', status: 422, details: { attempts_left: attemptsLeft } });
    }
    // The tenth wrong code is still evaluated (422, now locked); the next attempt is refused outright.
    const tenth = await failure(tessera.factors.activate(second.factor_id, wrong));
    expect(tenth).toMatchObject({ code: 'invalid_code', status: 422, details: { attempts_left: 0, user_locked: true } });
    const locked = await failure(tessera.factors.activate(second.factor_id, wrong));
    expect(locked).toMatchObject({ code: 'user_locked', status: 429 });
    expect(locked.retryAfter).toBeGreaterThan(800);
    expect(locked.retryAfter).toBeLessThanOrEqual(900);

    const challenge = await tessera.challenges.create(userId);
    const refused = await failure(tessera.challenges.verify(challenge.challenge_id, await nextCode(active)));
    expect(refused).toMatchObject({ code: 'user_locked', status: 429 });
    expect(refused.retryAfter).toBeGreaterThan(0);
    expect((await tessera.challenges.retrieve(challenge.challenge_id)).status).toBe('pending');
  });

  it('says in invalid_code when the wrong code that locked the user came through verify', async () => {
    const tessera = await newApp();
    const factor = await userWithTotp(tessera, 'two-challenges');
    const wrong = await wrongCode(factor.secret);
    const errors = [];
    for (let round = 0; round < 2; round++) {
      const challenge = await tessera.challenges.create('two-challenges');
      for (let attempt = 0; attempt < 5; attempt++) errors.push(await failure(tessera.challenges.verify(challenge.challenge_id, wrong)));
    }
    expect(errors.map((error) => error.code)).toEqual(Array(10).fill('invalid_code'));
    expect(errors.map((error) => (error.details as InvalidCodeDetails).user_locked)).toEqual([...Array(9).fill(false), true]);
    const third = await tessera.challenges.create('two-challenges');
    const locked = await failure(tessera.challenges.verify(third.challenge_id, await nextCode(factor)));
    expect(locked).toMatchObject({ code: 'user_locked', status: 429, details: { retry_after: locked.retryAfter } });
  });

  it('limits challenge creation per user: 429 rate_limited with retryAfter', async () => {
    const tessera = await newApp();
    await userWithTotp(tessera, 'busy');
    await userWithTotp(tessera, 'calm');
    let created = 0;
    let error;
    while (!error && created < 200) {
      error = await tessera.challenges.create('busy').then(
        () => void created++,
        (reason: unknown) => reason,
      );
    }
    expect(created).toBeGreaterThan(0);
    expect(error).toMatchObject({ name: 'TesseraError', code: 'rate_limited', status: 429 });
    expect((error as { retryAfter?: number }).retryAfter).toBeGreaterThan(0);
    expect((error as { retryAfter?: number }).retryAfter).toBeLessThanOrEqual(60);
    // Per user: another user of the same app is not held back.
    expect((await tessera.challenges.create('calm')).status).toBe('pending');
  });
});
