import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { awayFromStepBoundary, oathtool, zbarimg } from '../../../test/otp-tools.ts';

const combinations = (['SHA1', 'SHA256', 'SHA512'] as const).flatMap((algorithm) =>
  ([6, 8] as const).flatMap((digits) => ([30, 60] as const).map((period) => ({ algorithm, digits, period }))),
);

describe.each(databaseKinds())('TOTP enrollment end to end on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const admin = client(server.url);
    const app = (await admin.post('/v1/apps', { name: 'Shop', issuer_name: 'Shop Inc' })).body;
    api = client(server.url, { app });
  });
  afterAll(() => server?.stop());

  it.each(combinations)(
    'enrolls $algorithm, $digits digits, $period s: QR read by zbarimg, codes by oathtool, activate, verify',
    async ({ algorithm, digits, period }) => {
      const user = `user-${algorithm}-${digits}-${period}@example.com`;
      await api.call('PUT', `/v1/users/${encodeURIComponent(user)}`, { body: { email: user } });
      const enrolled = await api.post(`/v1/users/${encodeURIComponent(user)}/factors`, { type: 'totp', algorithm, digits, period });
      expect(enrolled.status).toBe(201);
      expect(enrolled.body).toMatchObject({ type: 'totp', status: 'unverified', algorithm, digits, period });
      expect(enrolled.body.factor_id).toMatch(/^fac_/);
      expect(enrolled.body.secret).toMatch(/^[A-Z2-7]+$/);

      const uri = await zbarimg(enrolled.body.qr_data_url);
      expect(uri).toBe(enrolled.body.uri);
      const parsed = new URL(uri);
      expect(parsed.protocol).toBe('otpauth:');
      expect(decodeURIComponent(parsed.pathname)).toBe(`//totp/Shop Inc:${user}`.replace('//totp/', parsed.host ? '/' : '//totp/'));
      expect(Object.fromEntries(parsed.searchParams)).toEqual({
        secret: enrolled.body.secret,
        issuer: 'Shop Inc',
        algorithm,
        digits: String(digits),
        period: String(period),
      });

      await awayFromStepBoundary(period);
      const secret = parsed.searchParams.get('secret')!;
      const activated = await api.post(`/v1/factors/${enrolled.body.factor_id}/activate`, {
        code: await oathtool(secret, { algorithm, digits, period }),
      });
      expect(activated.status).toBe(200);
      expect(activated.body.status).toBe('active');

      const challenge = await api.post(`/v1/users/${encodeURIComponent(user)}/challenges`, {});
      expect(challenge.status).toBe(201);
      expect(challenge.body).toMatchObject({ status: 'pending', factor_type: 'totp', factor_id: enrolled.body.factor_id });
      // The activation used this step's code; the next step's (within the drift window) is fresh.
      const verified = await api.post(`/v1/challenges/${challenge.body.challenge_id}/verify`, {
        code: await oathtool(secret, { algorithm, digits, period, offsetSteps: 1 }),
      });
      expect(verified.status).toBe(200);
      expect(verified.body.status).toBe('verified');

      const user_ = await api.get(`/v1/users/${encodeURIComponent(user)}`);
      expect(user_.body.two_factor_enabled).toBe(true);
    },
  );

  it('keeps a user to 20 factors: an unfinished enrollment makes room for a new one, 20 active ones do not', async () => {
    const abandoning = `abandoned-setups-${kind}`;
    const unfinished: string[] = [];
    for (let i = 0; i < 20; i++) unfinished.push((await api.post(`/v1/users/${abandoning}/factors`, { type: 'totp' })).body.factor_id);
    expect((await api.post(`/v1/users/${abandoning}/factors`, { type: 'totp' })).status).toBe(201);
    expect((await api.get(`/v1/factors/${unfinished[0]}`)).status).toBe(404); // the oldest went
    expect((await api.get(`/v1/factors/${unfinished[1]}`)).status).toBe(200);

    const full = `twenty-factors-${kind}`;
    for (let i = 0; i < 20; i++) {
      const secret = Array.from(randomBytes(32), (byte) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[byte % 32]).join('');
      expect((await api.post(`/v1/users/${full}/factors`, { type: 'totp', secret, code: await oathtool(secret) })).status).toBe(201);
    }
    const refused = await api.post(`/v1/users/${full}/factors`, { type: 'totp' });
    expect([refused.status, refused.body.error.code, refused.body.error.details.field]).toEqual([400, 'validation_failed', 'user_id']);
  });
});
