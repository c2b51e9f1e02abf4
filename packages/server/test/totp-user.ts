import { expect } from 'vitest';
import type { Client } from './http.ts';
import { oathtool } from './otp-tools.ts';

export interface TotpUser {
  userId: string;
  factorId: string;
  secret: string;
  /** oathtool's code for `offsetSteps` steps from now. */
  code(offsetSteps?: number): Promise<string>;
}

let counter = 0;

/** A user with an active TOTP factor (SHA1, 6 digits, 30 s), activated with the previous step's code. */
export async function totpUser(api: Client, prefix = 'user'): Promise<TotpUser> {
  const userId = `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const enrolled = await api.post(`/v1/users/${userId}/factors`, { type: 'totp' });
  expect(enrolled.status).toBe(201);
  const secret: string = enrolled.body.secret;
  const code = (offsetSteps = 0) => oathtool(secret, { offsetSteps });
  // Activating with the previous step leaves the current and the next step unused for the test.
  const activated = await api.post(`/v1/factors/${enrolled.body.factor_id}/activate`, { code: await code(-1) });
  expect(activated.status).toBe(200);
  return { userId, factorId: enrolled.body.factor_id, secret, code };
}

export async function newChallenge(api: Client, userId: string, body: Record<string, unknown> = {}): Promise<string> {
  const reply = await api.post(`/v1/users/${encodeURIComponent(userId)}/challenges`, body);
  expect(reply.status).toBe(201);
  return reply.body.challenge_id;
}
