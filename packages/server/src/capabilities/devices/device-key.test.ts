import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { deviceKeys } from '../../../test/push-device.ts';
import { DeviceKeyError, parseDevicePublicKey } from './device-key.ts';

function refusedField(input: unknown): string {
  let error: unknown = null;
  try {
    parseDevicePublicKey(input);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(DeviceKeyError);
  return (error as DeviceKeyError).field;
}

describe('device public keys', () => {
  it('accepts P-256 and Ed25519 public JWKs, keeping only their public members', async () => {
    const p256 = await deviceKeys('ES256');
    const parsed = parseDevicePublicKey({ ...p256.publicJwk, kid: 'mine', use: 'sig', alg: 'ES256', key_ops: ['verify'] });
    expect(parsed.alg).toBe('ES256');
    expect(parsed.jwk).toEqual(p256.publicJwk);
    expect(parsed.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ed = await deviceKeys('EdDSA');
    expect((parseDevicePublicKey(ed.publicJwk)).alg).toBe('EdDSA');
    expect((parseDevicePublicKey({ ...ed.publicJwk, alg: 'Ed25519' })).jwk).toEqual(ed.publicJwk);
  });

  it('names a key by its RFC 7638 thumbprint, as jose computes it, whatever members come with it', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { publicJwk } = await deviceKeys(alg);
      const parsed = parseDevicePublicKey({ use: 'sig', ...publicJwk, kid: 'mine' });
      expect(parsed.thumbprint).toBe(await calculateJwkThumbprint(publicJwk, 'sha256'));
    }
  });

  it('refuses a private key (d), naming the member', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      expect(refusedField(await exportJWK(privateKey))).toBe('public_key.d');
    }
    expect(refusedField({ kty: 'oct', k: 'c2VjcmV0' })).toBe('public_key.k');
  });

  it('refuses other curves and key types', async () => {
    const { publicKey: p384 } = await generateKeyPair('ES384', { extractable: true });
    expect(refusedField(await exportJWK(p384))).toBe('public_key.crv');
    const { publicKey: rsa } = await generateKeyPair('RS256', { extractable: true });
    expect(refusedField(await exportJWK(rsa))).toBe('public_key.kty');
    expect(refusedField({ kty: 'OKP', crv: 'X25519', x: (await deviceKeys('EdDSA')).publicJwk.x })).toBe('public_key.crv');
    expect(refusedField('not a key')).toBe('public_key');
    expect(refusedField(null)).toBe('public_key');
  });

  it('refuses malformed coordinates and points off the curve', async () => {
    const jwk = (await deviceKeys('ES256')).publicJwk as { x: string; y: string };
    expect(refusedField({ ...jwk, x: undefined })).toBe('public_key.x');
    expect(refusedField({ ...jwk, x: 12 })).toBe('public_key.x');
    expect(refusedField({ ...jwk, x: `${jwk.x}=` })).toBe('public_key.x');
    expect(refusedField({ ...jwk, y: jwk.y.slice(0, 42) })).toBe('public_key.y');
    expect(refusedField({ ...jwk, y: `${jwk.y.slice(0, 40)}+/A` })).toBe('public_key.y');
    // Same bytes, another spelling: the spare low bits of the last character set.
    const last = jwk.x.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    expect(refusedField({ ...jwk, x: jwk.x.slice(0, 42) + sibling })).toBe('public_key.x');
    // x and y swapped: well-formed, but not a point on P-256.
    expect(refusedField({ ...jwk, x: jwk.y, y: jwk.x })).toBe('public_key');
    const ed = (await deviceKeys('EdDSA')).publicJwk;
    expect(refusedField({ ...ed, y: jwk.y })).toBe('public_key.y');
  });

  it('refuses a declared alg or use that does not fit the key', async () => {
    const jwk = (await deviceKeys('ES256')).publicJwk;
    expect(refusedField({ ...jwk, alg: 'ES384' })).toBe('public_key.alg');
    expect(refusedField({ ...jwk, alg: 'EdDSA' })).toBe('public_key.alg');
    expect(refusedField({ ...jwk, use: 'enc' })).toBe('public_key.use');
  });
});
