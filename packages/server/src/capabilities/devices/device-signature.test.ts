import { CompactSign, type CryptoKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { deviceKeys, type DeviceKeys } from '../../../test/push-device.ts';
import { signDeviceDecision, type DevicePublicJwk } from '@tessera/contracts';
import { DeviceDecisionError, verifyDeviceDecision, type DeviceDecisionErrorCode } from './device-signature.ts';

const challengeId = 'chl_01jbz6x9q2m3n4p5r6s7t8v9w0';
const nowMs = Date.parse('2025-06-01T12:00:00.000Z');
const expected = { challengeId, nowMs, maxSkewMs: 60_000 };
const signedAt = new Date(nowMs - 2_000).toISOString();

const jwkOf = (keys: DeviceKeys) => keys.publicJwk as DevicePublicJwk;

async function refusal(promise: Promise<unknown>): Promise<DeviceDecisionErrorCode> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DeviceDecisionError);
  return (error as DeviceDecisionError).code;
}

/** Signs arbitrary bytes with the decision header, to build payloads signDeviceDecision would not. */
function signRaw(key: CryptoKey, alg: string, payload: string, typ = 'tessera-decision+jws'): Promise<string> {
  return new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg, typ }).sign(key);
}

describe.each(['ES256', 'EdDSA'] as const)('signed decisions with %s keys', (alg) => {
  it('accepts an approval with the picked number, and a denial for fraud', async () => {
    const keys = await deviceKeys(alg);
    const approval = await signDeviceDecision(keys.privateKey, { challenge_id: challengeId, decision: 'approve', number: 42, signed_at: signedAt });
    expect(await verifyDeviceDecision(jwkOf(keys), approval, expected)).toEqual({
      challenge_id: challengeId,
      decision: 'approve',
      number: 42,
      signed_at: signedAt,
    });
    const denial = await signDeviceDecision(keys.privateKey, { challenge_id: challengeId, decision: 'deny', reason: 'fraud', signed_at: signedAt }, { deviceId: 'dev_1' });
    expect(await verifyDeviceDecision(jwkOf(keys), denial, expected)).toEqual({
      challenge_id: challengeId,
      decision: 'deny',
      reason: 'fraud',
      signed_at: signedAt,
    });
  });

  it('refuses an altered decision (a deny turned into an approve, signature kept)', async () => {
    const keys = await deviceKeys(alg);
    const jws = await signDeviceDecision(keys.privateKey, { challenge_id: challengeId, decision: 'deny', signed_at: signedAt });
    const [header, , signature] = jws.split('.');
    const forged = Buffer.from(JSON.stringify({ challenge_id: challengeId, decision: 'approve', signed_at: signedAt })).toString('base64url');
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), `${header}.${forged}.${signature}`, expected))).toBe('decision_signature_invalid');
    // One flipped bit of the signature is enough to refuse it too.
    const bytes = Buffer.from(signature as string, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 1;
    const flipped = `${header}.${jws.split('.')[1]}.${bytes.toString('base64url')}`;
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), flipped, expected))).toBe('decision_signature_invalid');
  });

  it('refuses a decision signed by another key (another device)', async () => {
    const [device, other] = await Promise.all([deviceKeys(alg), deviceKeys(alg)]);
    const jws = await signDeviceDecision(other.privateKey, { challenge_id: challengeId, decision: 'approve', signed_at: signedAt });
    expect(await refusal(verifyDeviceDecision(jwkOf(device), jws, expected))).toBe('decision_signature_invalid');
  });

  it('refuses a decision signed for another challenge (replayed onto this one)', async () => {
    const keys = await deviceKeys(alg);
    const jws = await signDeviceDecision(keys.privateKey, { challenge_id: 'chl_another', decision: 'approve', signed_at: signedAt });
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), jws, expected))).toBe('decision_challenge_mismatch');
  });

  it('refuses a stale or future timestamp, and accepts one just inside the skew', async () => {
    const keys = await deviceKeys(alg);
    const at = (offsetMs: number) =>
      signDeviceDecision(keys.privateKey, { challenge_id: challengeId, decision: 'approve', signed_at: new Date(nowMs + offsetMs).toISOString() });
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), await at(-60_001), expected))).toBe('decision_stale');
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), await at(60_001), expected))).toBe('decision_stale');
    expect((await verifyDeviceDecision(jwkOf(keys), await at(-60_000), expected)).decision).toBe('approve');
    expect((await verifyDeviceDecision(jwkOf(keys), await at(59_999), expected)).decision).toBe('approve');
  });

  it('refuses malformed payloads, even when properly signed', async () => {
    const keys = await deviceKeys(alg);
    const base = { challenge_id: challengeId, decision: 'approve', signed_at: signedAt };
    const cases: unknown[] = [
      { ...base, decision: 'maybe' },
      { ...base, number: 7 },
      { ...base, number: 42.5 },
      { ...base, number: '42' },
      { ...base, decision: 'deny', number: 42 },
      { ...base, reason: 'fraud' },
      { ...base, decision: 'deny', reason: 'other' },
      { ...base, signed_at: '2025-06-01 12:00:00' },
      { ...base, signed_at: nowMs },
      { ...base, extra: true },
      { decision: 'approve', signed_at: signedAt },
      [base],
      'approve',
    ];
    for (const payload of cases) {
      const jws = await signRaw(keys.privateKey, alg, JSON.stringify(payload));
      expect(await refusal(verifyDeviceDecision(jwkOf(keys), jws, expected)), JSON.stringify(payload)).toBe('decision_malformed');
    }
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), await signRaw(keys.privateKey, alg, '{"challenge_id":'), expected))).toBe(
      'decision_malformed',
    );
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), 'not a jws', expected))).toBe('decision_malformed');
  });

  it('refuses another typ (a device request token is not a decision)', async () => {
    const keys = await deviceKeys(alg);
    const payload = JSON.stringify({ challenge_id: challengeId, decision: 'approve', signed_at: signedAt });
    const jws = await signRaw(keys.privateKey, alg, payload, 'tessera-device+jwt');
    expect(await refusal(verifyDeviceDecision(jwkOf(keys), jws, expected))).toBe('decision_malformed');
  });
});

it('refuses a signature made with the other algorithm than the device key’s', async () => {
  const [p256, ed25519] = await Promise.all([deviceKeys('ES256'), deviceKeys('EdDSA')]);
  const jws = await signDeviceDecision(ed25519.privateKey, { challenge_id: challengeId, decision: 'approve', signed_at: signedAt });
  expect(await refusal(verifyDeviceDecision(jwkOf(p256), jws, expected))).toBe('decision_signature_invalid');
});
