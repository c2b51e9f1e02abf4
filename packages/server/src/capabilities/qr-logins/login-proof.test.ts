import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { qrLoginProofType } from '@tessera/contracts';
import { LoginProofError, verifyLoginProof } from './login-proof.ts';

const now = Date.parse('2026-12-03T12:00:00.000Z');
const claim = { login_id: 'qrl_00000000000000000000000000', nonce: 'n'.repeat(22), action: 'claim', signed_at: new Date(now).toISOString(), jti: 'j'.repeat(22) };

async function signed(alg: 'ES256' | 'EdDSA'): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const jwk = await exportJWK(publicKey);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claim))).setProtectedHeader({ typ: qrLoginProofType, alg, jwk })
    .sign(privateKey);
}

function refusal(jws: string): string {
  try {
    verifyLoginProof(jws, { nowMs: now, maxSkewMs: 60_000 });
  } catch (error) {
    expect(error).toBeInstanceOf(LoginProofError);
    return (error as LoginProofError).code;
  }
  return 'accepted';
}

describe('QR login proofs', () => {
  it('accepts ES256 and EdDSA proofs signed by jose, naming the key by its thumbprint', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const verified = verifyLoginProof(await signed(alg), { nowMs: now, maxSkewMs: 60_000 });
      expect(verified.proof).toEqual(claim);
      expect(verified.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('refuses a signature by another key, of the wrong length, or for another algorithm than the key', async () => {
    const [header, payload] = (await signed('ES256')).split('.');
    const foreign = (await signed('ES256')).split('.')[2] as string;
    expect(refusal(`${header}.${payload}.${foreign}`)).toBe('qr_login_signature_invalid');
    expect(refusal(`${header}.${payload}.${foreign.slice(0, 40)}`)).toBe('qr_login_signature_invalid');
    expect(refusal(`${header}.${payload}.`)).toBe('qr_login_signature_invalid');
    const edKeyEsAlg = await signed('EdDSA');
    const edHeader = JSON.parse(Buffer.from(edKeyEsAlg.split('.')[0] as string, 'base64url').toString());
    const relabelled = Buffer.from(JSON.stringify({ ...edHeader, alg: 'ES256' })).toString('base64url');
    expect(refusal([relabelled, ...edKeyEsAlg.split('.').slice(1)].join('.'))).toBe('qr_login_signature_invalid');
  });

  it('refuses crit and b64 headers, a payload that was altered, and parts that are not base64url', async () => {
    const jws = await signed('ES256');
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const decoded = JSON.parse(Buffer.from(header, 'base64url').toString());
    for (const extra of [{ crit: ['exp'], exp: 1 }, { b64: true }]) {
      const withExtra = Buffer.from(JSON.stringify({ ...decoded, ...extra })).toString('base64url');
      expect(refusal(`${withExtra}.${payload}.${signature}`)).toBe('qr_login_proof_malformed');
    }
    const altered = Buffer.from(JSON.stringify({ ...claim, action: 'deny' })).toString('base64url');
    expect(refusal(`${header}.${altered}.${signature}`)).toBe('qr_login_signature_invalid');
    expect(refusal(`${header}.${payload}.${signature}AAA`)).toBe('qr_login_proof_malformed'); // 89 characters: no base64url
    expect(refusal(`${header}.${payload}.${signature}.x`)).toBe('qr_login_proof_malformed');
    expect(refusal(`${header}.${payload}*.${signature}`)).toBe('qr_login_proof_malformed');
  });
});
